//! A user's files and streams, as the binary treats them: nothing removed,
//! no input written over, `-o -` for standard output, `--no-clobber`, the
//! files written named on stderr, closed pipes and full disks, and ASCII
//! tables in a non-UTF-8 locale.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use tempfile::TempDir;

use crate::support::{SMALL, assert_exit, bin, stderr, write};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs")
}

/// The binary as a plain `std::process::Command`, for tests that choose
/// its stdout and stderr.
fn raw() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"));
    cmd.env_remove("LC_ALL").env("LANG", "C.UTF-8");
    cmd
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The directory's entries, sorted: what a run left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// SMALL with broker 3 dead: a plan must heal it, and a budget of 0 moves
/// leaves it unhealed (exit 1).
fn with_dead_broker(dir: &Path) -> PathBuf {
    write(
        dir,
        "dead.json",
        &SMALL.replacen(
            r#"{"id":3,"rack":"a"}"#,
            r#"{"id":3,"rack":"a","alive":false}"#,
            1,
        ),
    )
}

#[test]
fn plan_never_writes_over_an_input() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let topics = write(
        dir.path(),
        "topics.json",
        r#"{"version":1,"topics":[{"topic":"orders"}]}"#,
    );
    std::os::unix::fs::symlink(&state, dir.path().join("link.json")).unwrap();
    std::fs::hard_link(&state, dir.path().join("hard.json")).unwrap();
    let before = entries(dir.path());
    let dotted = dir.path().join(".").join("s.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-o", s(&state)], "--out"),
        (vec!["-o", s(&dotted)], "--out"),
        (vec!["-o", "link.json"], "--out"),
        (vec!["-o", "hard.json"], "--out"),
        (
            vec!["-o", "p.json", "--rollback", "hard.json"],
            "--rollback",
        ),
        (vec!["--topics-file", s(&topics), "-o", s(&topics)], "--out"),
    ];
    for (extra, flag) in cases {
        let out = bin()
            .current_dir(dir.path())
            .args(["plan", "--state", s(&state)])
            .args(&extra)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains(flag) && err.contains("input of this run"),
            "{extra:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&state).unwrap(), SMALL, "{extra:?}");
        assert_eq!(entries(dir.path()), before, "{extra:?} left files");
    }
}

/// The client properties file is an input of every live command: no
/// output may replace it, and an `apply` journal may not land on the
/// rollback file it reads. Refused before any connection (the bootstrap
/// here is a closed port, which would be exit 3).
#[test]
fn live_commands_never_write_over_their_inputs() {
    let dir = TempDir::new().unwrap();
    let props = "client.id=mine\n";
    let config = write(dir.path(), "c.properties", props);
    let plan = write(
        dir.path(),
        "p.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,4]}]}"#,
    );
    let rollback = write(
        dir.path(),
        "p.rollback.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2]}]}"#,
    );
    let before = entries(dir.path());
    let live = ["--bootstrap-server", "127.0.0.1:1", "--timeout", "2"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "describe",
                "--command-config",
                "c.properties",
                "-o",
                "c.properties",
            ],
            "--out c.properties is the --command-config input",
        ),
        (
            vec![
                "plan",
                "--command-config",
                "c.properties",
                "-o",
                "c.properties",
            ],
            "--out c.properties is the --command-config input",
        ),
        (
            vec![
                "apply",
                "p.json",
                "--command-config",
                "c.properties",
                "--journal",
                "c.properties",
            ],
            "--journal c.properties is the --command-config input",
        ),
        (
            vec!["apply", "p.json", "--journal", "p.rollback.json"],
            "--journal p.rollback.json is the --rollback-file input",
        ),
        // regression: read as the rollback file, the plan was called stale.
        (
            vec!["apply", "p.json", "--rollback-file", "./p.json"],
            "--rollback-file ./p.json is the PLAN input",
        ),
        (
            vec![
                "rollback",
                "p.rollback.json",
                "--command-config",
                "c.properties",
                "--journal",
                "c.properties",
            ],
            "--journal c.properties is the --command-config input",
        ),
    ];
    for (args, says) in cases {
        let out = bin()
            .current_dir(dir.path())
            .args(&args)
            .args(live)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), props, "{args:?}");
        assert!(std::fs::read_to_string(&plan).unwrap().contains("[2,4]"));
        assert!(
            std::fs::read_to_string(&rollback)
                .unwrap()
                .contains("[1,2]")
        );
        assert_eq!(entries(dir.path()), before, "{args:?} left files");
    }
}

/// Where nothing changes no file is written, and none is removed: neither
/// an older plan nor anything else at the output paths.
#[test]
fn nothing_to_do_removes_no_file() {
    let dir = TempDir::new().unwrap();
    let state = with_dead_broker(dir.path());
    let (k, t2) = (
        write(dir.path(), "k.txt", "precious"),
        write(dir.path(), "t2.json", "mine"),
    );
    // A budget of nothing leaves the dead broker's replicas: exit 1.
    let out = run(&[
        "plan",
        "--state",
        s(&state),
        "--max-moves",
        "0",
        "--no-leader-balance",
        "-o",
        s(&k),
        "--rollback",
        s(&t2),
    ]);
    assert_exit(&out, 1);
    assert_eq!(std::fs::read_to_string(&k).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&t2).unwrap(), "mine");
    assert!(stderr(&out).contains("k.txt exists and was left as it is"));
}

// regression: `plan -o p.json` over the plan of a run still going replaced
// it, and `verify`/`cancel p.json` then refused ("the journal belongs to
// another plan"): the run was left with no plan to finish or cancel by.
#[test]
fn plan_keeps_the_plan_of_a_run_still_going() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let plan = write(dir.path(), "p.json", "the running plan");
    let journal = dir.path().join("p.journal.json");
    let mut running = kafka_migrate::exec::Journal::new("fnv1a64:0000000000000000");
    std::fs::write(&journal, running.to_json()).unwrap();
    let out = run(&["plan", "--state", s(&state), "-o", s(&plan)]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("p.json is the plan of a run still going"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), "the running plan");

    // Once that run has ended, the file is an old plan like any other.
    running.state = kafka_migrate::exec::journal::JournalState::Finished;
    std::fs::write(&journal, running.to_json()).unwrap();
    let out = run(&["plan", "--state", s(&state), "-o", s(&plan)]);
    assert_exit(&out, 0);
    assert_ne!(std::fs::read_to_string(&plan).unwrap(), "the running plan");
}

#[test]
fn no_clobber_keeps_an_existing_file() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let plan = write(dir.path(), "p.json", "older plan");
    let rb = dir.path().join("r.json");
    let out = run(&[
        "plan",
        "--state",
        s(&state),
        "-o",
        s(&plan),
        "--rollback",
        s(&rb),
        "--no-clobber",
    ]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("p.json exists, and --no-clobber keeps it"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), "older plan");
    assert!(
        !rb.exists(),
        "nothing is written when one output is refused"
    );
    // Without the flag, the plan is replaced (as Kafka's tool does).
    let out = run(&["plan", "--state", s(&state), "-o", s(&plan)]);
    assert_exit(&out, 0);
    assert!(
        std::fs::read_to_string(&plan)
            .unwrap()
            .starts_with(r#"{"version":1"#)
    );

    let snap = write(dir.path(), "g.json", "mine");
    let out = run(&["gen-snapshot", "-o", s(&snap), "--no-clobber"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("exists, and --no-clobber keeps it"));
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), "mine");
}

/// Every file a run writes is named on stderr, the rollback included.
#[test]
fn runs_say_which_files_they_wrote() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let (plan, rb, snap) = (
        dir.path().join("p.json"),
        dir.path().join("r.json"),
        dir.path().join("g.json"),
    );
    for json in [false, true] {
        let mut args = vec![
            "plan",
            "--state",
            s(&state),
            "-o",
            s(&plan),
            "--rollback",
            s(&rb),
        ];
        if json {
            args.extend(["--output", "json"]);
        }
        let out = run(&args);
        assert_exit(&out, 0);
        let err = stderr(&out);
        let n = kafka_migrate::model::reassignment::parse("p", &std::fs::read(&plan).unwrap())
            .unwrap()
            .len();
        assert!(
            err.contains(&format!("wrote plan ({n} partitions) to {}", s(&plan))),
            "{err}"
        );
        assert!(
            err.contains(&format!("wrote rollback ({n} partitions) to {}", s(&rb))),
            "{err}"
        );
    }
    let out = run(&["gen-snapshot", "-o", s(&snap)]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains(&format!("wrote snapshot to {}", s(&snap))));
}

#[test]
fn dash_writes_the_plan_to_stdout_and_the_summary_to_stderr() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let rb = dir.path().join("r.json");
    let out = run(&[
        "plan",
        "--state",
        s(&state),
        "-o",
        "-",
        "--rollback",
        s(&rb),
    ]);
    assert_exit(&out, 0);
    let plan = kafka_migrate::model::reassignment::parse("stdout", &out.stdout)
        .expect("stdout holds the plan alone");
    assert!(!plan.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("replicas moved:") && err.contains("wrote rollback"),
        "{err}"
    );
    assert!(!err.contains("wrote plan"), "{err}");
    assert!(rb.exists());

    for (args, want) in [
        (
            vec!["-o", "-", "--rollback", "-"],
            "both write to standard output",
        ),
        (vec!["-o", "-", "--output", "json"], "would mix"),
    ] {
        let out = bin()
            .args(["plan", "--state", s(&state)])
            .args(&args)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }

    let out = run(&["gen-snapshot", "-o", "-", "--seed", "3"]);
    assert_exit(&out, 0);
    let bare = run(&["gen-snapshot", "--seed", "3"]);
    assert_eq!(out.stdout, bare.stdout);
    kafka_migrate::model::snapshot::parse("stdout", &out.stdout).unwrap();
}

/// stdout made a pipe whose reader has already gone: every write fails
/// with EPIPE, whatever the timing.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

/// Every command that writes stdout, text and JSON, on a snapshot and a
/// plan made in `dir`.
fn stdout_writers(dir: &Path) -> Vec<Vec<String>> {
    let state = write(dir, "s.json", SMALL);
    let plan = dir.join("p.json");
    assert_exit(&run(&["plan", "--state", s(&state), "-o", s(&plan)]), 0);
    let (state, plan) = (s(&state).to_string(), s(&plan).to_string());
    let v = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
    vec![
        v(&["gen-snapshot"]),
        v(&["check", &plan, "--state", &state]),
        v(&["check", &plan, "--state", &state, "--output", "json"]),
        v(&["plan", "--state", &state]),
        v(&["plan", "--state", &state, "--output", "json"]),
        v(&["plan", "--state", &state, "-o", "-"]),
    ]
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = TempDir::new().unwrap();
    for args in stdout_writers(dir.path()) {
        let out = raw()
            .args(&args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_full_stdout_is_an_error() {
    let dir = TempDir::new().unwrap();
    for args in stdout_writers(dir.path()) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = raw().args(&args).stdout(full).output().unwrap();
        assert_exit(&out, 3);
        assert!(
            stderr(&out).contains("cannot write to standard output"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// On one terminal (stdout and stderr one stream) the table comes first,
/// then what the run wrote.
#[test]
fn messages_follow_the_table() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let plan = dir.path().join("p.json");
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = raw()
        .args(["plan", "--state", s(&state), "-o", s(&plan)])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut { reader }, &mut text).unwrap();
    assert!(child.wait().unwrap().success());
    let table = text.find("replicas moved:").expect("summary");
    let wrote = text.find("wrote plan").expect("wrote line");
    assert!(table < wrote, "{text}");
}

#[test]
fn a_non_utf8_locale_gets_ascii_tables() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    for lang in ["C", "POSIX", "en_US.ISO-8859-1"] {
        let out = bin()
            .env("LANG", lang)
            .args(["plan", "--state", s(&state), "--throttle", "1MB/s"])
            .output()
            .unwrap();
        assert_exit(&out, 0);
        assert!(
            out.stdout.is_ascii(),
            "LANG={lang}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stderr.is_ascii(), "LANG={lang}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("+--") && text.contains(" -> "), "{text}");
    }
    // And a UTF-8 one keeps its box drawing.
    let out = run(&["plan", "--state", s(&state)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains('┌'));
}

/// The abuse list (`tests/tools/abuse.sh`): every bad input and edge case
/// of the hardening issue against the binary and a mini-broker, each with
/// its exit code.
#[test]
fn abuse_script() {
    let script = crate::support::repo().join("tests/tools/abuse.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        !text.contains("FAIL") && text.contains(" passed, 0 failed"),
        "{text}"
    );
}

/// `-o` naming a pipe (or a device) writes into it: renaming a file over it
/// would replace the node itself (as root, `-o /dev/null` made /dev/null a
/// plain file). A named pipe shows both: what the reader gets, and that
/// the pipe is still a pipe.
#[test]
fn an_output_that_is_a_pipe_is_written_into_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let fifo = dir.path().join("plan.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).unwrap())
    };
    let out = run(&["plan", "--state", s(&state), "-o", s(&fifo)]);
    assert_exit(&out, 0);
    // Before joining: a replaced pipe leaves the reader waiting forever.
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the pipe was replaced"
    );
    let got = reader.join().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(plan["version"], 1, "{plan}");
    assert_eq!(
        entries(dir.path()),
        ["plan.fifo", "s.json"],
        "no temporary file left"
    );
}

/// `-o` naming a link writes the file the link names and leaves the link
/// (`-o /dev/stdout` with stdout redirected to a file put a plain file in
/// place of /dev/stdout), also when that file does not exist yet.
#[test]
fn an_output_that_is_a_link_stays_a_link() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    for existing in [false, true] {
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        let _ = std::fs::remove_file(&real);
        let _ = std::fs::remove_file(&link);
        if existing {
            std::fs::write(&real, "old").unwrap();
        }
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let out = run(&["plan", "--state", s(&state), "-o", s(&link)]);
        assert_exit(&out, 0);
        assert!(
            std::fs::symlink_metadata(&link).unwrap().is_symlink(),
            "existing {existing}: the link was replaced"
        );
        let plan: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
        assert_eq!(plan["version"], 1, "{plan}");
        assert_eq!(entries(dir.path()), ["link.json", "real.json", "s.json"]);
    }
}
