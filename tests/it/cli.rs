//! The command line as scripts see it: exit codes, files written or not,
//! error lines, and snapshots of the summary and help.

use tempfile::TempDir;

use crate::support::{SMALL, assert_exit, bin, stderr, stdout, write};

fn run(args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("runs")
}

#[test]
fn plan_writes_plan_and_rollback_and_summary() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let plan = dir.path().join("plan.json");
    let rb = dir.path().join("rollback.json");
    let out = run(&[
        "plan",
        "--state",
        state.to_str().unwrap(),
        "-o",
        plan.to_str().unwrap(),
        "--rollback",
        rb.to_str().unwrap(),
        "--throttle",
        "1KB/s",
    ]);
    assert_exit(&out, 0);
    let stdout = stdout(&out);
    insta::assert_snapshot!("plan_small_summary", stdout);
    let p = std::fs::read_to_string(&plan).unwrap();
    let r = std::fs::read_to_string(&rb).unwrap();
    assert!(
        p.starts_with(r#"{"version":1,"partitions":[{"topic":"#),
        "{p}"
    );
    // The plan moves something onto the new broker 4, and the rollback
    // lists the same partitions with their current replicas.
    assert!(p.contains(",4") || p.contains("[4"), "{p}");
    let pp = kafka_migrate::model::reassignment::parse("p", p.as_bytes()).unwrap();
    let rr = kafka_migrate::model::reassignment::parse("r", r.as_bytes()).unwrap();
    let names = |x: &kafka_migrate::model::reassignment::Reassignment| {
        x.moves().iter().map(|m| m.tp.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&pp), names(&rr));
    assert!(
        rr.moves()
            .iter()
            .any(|m| m.tp.topic == "orders" && m.tp.partition == 0 && m.replicas == vec![1, 2])
            || !names(&pp)
                .iter()
                .any(|t| t.topic == "orders" && t.partition == 0)
    );
}

#[test]
fn plan_is_deterministic_for_a_seed() {
    let dir = TempDir::new().unwrap();
    let state = dir.path().join("s.json");
    let made = run(&["gen-snapshot", "--seed", "7", "-o", state.to_str().unwrap()]);
    assert_exit(&made, 0);
    let mut outputs = Vec::new();
    for i in 0..2 {
        let plan = dir.path().join(format!("p{i}.json"));
        let out = run(&[
            "plan",
            "--state",
            state.to_str().unwrap(),
            "--seed",
            "3",
            // The generated dead broker holds RF 1 partitions: unrecoverable.
            "--allow-offline",
            "-o",
            plan.to_str().unwrap(),
            "--output",
            "json",
        ]);
        assert_exit(&out, 0);
        outputs.push((std::fs::read(&plan).unwrap(), out.stdout));
    }
    assert_eq!(outputs[0].0, outputs[1].0, "plans differ");
    let strip = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace("p0.json", "")
            .replace("p1.json", "")
    };
    assert_eq!(
        strip(&outputs[0].1),
        strip(&outputs[1].1),
        "summaries differ"
    );
}

#[test]
fn plan_json_output_has_version() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let out = run(&[
        "plan",
        "--state",
        state.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["command"], "plan");
    assert_eq!(v["summary"]["totals"]["rack_violations_after"], 0);
    assert!(v["summary"]["brokers"].as_array().unwrap().len() == 4);
}

#[test]
fn plan_reads_state_from_stdin() {
    let out = bin()
        .args(["plan", "--state", "-", "--output", "json"])
        .write_stdin(SMALL)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    // The same summary as from a file.
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let from_file = run(&["plan", "--state", s.to_str().unwrap(), "--output", "json"]);
    assert_exit(&from_file, 0);
    assert_eq!(stdout(&out), stdout(&from_file));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["totals"]["replicas_moved"], 3);
}

/// Every bad input: exit 2, one `error:` line per problem, no output file.
fn assert_bad_input(dir: &TempDir, args: &[&str], expect: &str) {
    let plan = dir.path().join("out.json");
    let rollback = dir.path().join("rollback.json");
    let mut full: Vec<&str> = args.to_vec();
    let (p, r) = (plan.to_str().unwrap(), rollback.to_str().unwrap());
    full.extend(["-o", p, "--rollback", r]);
    let out = run(&full);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: {err}");
    assert!(
        err.contains(expect),
        "args {args:?}: expected {expect:?} in {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!plan.exists(), "args {args:?} left an output file");
    assert!(!rollback.exists(), "args {args:?} left a rollback file");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn plan_bad_inputs_exit_2_without_output() {
    let dir = TempDir::new().unwrap();
    let good = write(dir.path(), "s.json", SMALL);
    let g = good.to_str().unwrap();
    let truncated = write(dir.path(), "t.json", &SMALL[..SMALL.len() / 2]);
    let v2 = write(
        dir.path(),
        "v2.json",
        &SMALL.replacen("\"version\":1", "\"version\":2", 1),
    );
    let nofield = write(
        dir.path(),
        "n.json",
        &SMALL.replacen("\"replicas\":[1,2],", "", 1),
    );
    // (--state, further arguments, expected error)
    let cases: [(&str, &[&str], &str); 17] = [
        (truncated.to_str().unwrap(), &[], "invalid JSON"),
        (v2.to_str().unwrap(), &[], "unsupported snapshot version 2"),
        (
            nofield.to_str().unwrap(),
            &[],
            "orders-0: missing required field `replicas`",
        ),
        (
            "/nonexistent/s.json",
            &[],
            "cannot read /nonexistent/s.json",
        ),
        (
            g,
            &["--replication-factor", "5"],
            "replication factor 5 is above the 4 target brokers",
        ),
        (
            g,
            &["--remove-brokers", "1,2,3,4"],
            "target broker set is empty",
        ),
        (g, &["--topics", "orders,nope"], "unknown topics: nope"),
        (g, &["--topics", "zz.*"], "matches no topic"),
        (
            g,
            &["--brokers", "1,2", "--remove-brokers", "3"],
            "cannot be used with",
        ),
        (g, &["--brokers", "1,9"], "broker 9 is not in the snapshot"),
        (
            g,
            &["--replace", "1=2"],
            "already has a replica on broker 2",
        ),
        (g, &["--max-bytes", "12 parsecs"], "unknown size unit"),
        (
            g,
            &["--brokers", "1"],
            "orders-0 has replication factor 2, above the 1 target brokers",
        ),
        (
            g,
            &["--exclude-topics", "orders,payments"],
            "leaves no topic that may move",
        ),
        (
            g,
            &["--replace", "1=4", "--max-moves", "3"],
            "a budget (--max-moves, --max-bytes) cannot go with --replace",
        ),
        (
            g,
            &["--topics", "zz(["],
            "invalid regex \"zz([\": unclosed character class",
        ),
        (g, &["--max-moves", "-1"], "unexpected argument '-1'"),
    ];
    for (state, more, expect) in cases {
        let mut args = vec!["plan", "--state", state];
        args.extend_from_slice(more);
        assert_bad_input(&dir, &args, expect);
    }
}

/// `plan --state STATE -o OUT --rollback ROLLBACK`.
fn plan_to(
    state: &std::path::Path,
    out: &std::path::Path,
    rollback: &std::path::Path,
) -> std::process::Output {
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (s, o, r) = (path(state), path(out), path(rollback));
    run(&["plan", "--state", &s, "-o", &o, "--rollback", &r])
}

#[test]
fn one_file_for_plan_and_rollback_is_refused() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let both = dir.path().join("p.json");
    let same = dir.path().join(".").join("p.json");
    let out = plan_to(&s, &both, &same);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--out and --rollback both name"));
    assert!(!both.exists());
}

/// Kafka rejects an empty plan: with nothing to change, none is written
/// (and no rollback), and the run still succeeds. A file already at an
/// output path is the user's: it stays, and the run says so.
#[test]
fn a_balanced_cluster_gets_no_plan_file() {
    let dir = TempDir::new().unwrap();
    let s = write(
        dir.path(),
        "s.json",
        r#"{"version":1,"brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"}],
            "topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2]},
                                                 {"partition":1,"replicas":[2,1]}]}]}"#,
    );
    let (plan, rollback) = (dir.path().join("p.json"), dir.path().join("r.json"));
    let out = plan_to(&s, &plan, &rollback);
    assert_exit(&out, 0);
    let err = stderr(&out);
    for want in ["nothing to do", "no plan written"] {
        assert!(err.contains(want), "{err}");
    }
    assert!(!plan.exists() && !rollback.exists());
    std::fs::write(&plan, "precious").unwrap();
    std::fs::write(&rollback, "also mine").unwrap();
    let out = plan_to(&s, &plan, &rollback);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read_to_string(&plan).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&rollback).unwrap(), "also mine");
    let err = stderr(&out);
    assert!(err.contains("p.json exists and was left as it is"), "{err}");
    assert!(err.contains("r.json exists and was left as it is"), "{err}");
}

#[test]
fn partial_racks_need_ignore_racks() {
    let dir = TempDir::new().unwrap();
    let s = write(
        dir.path(),
        "s.json",
        &SMALL.replacen(r#"{"id":4,"rack":"b"}"#, r#"{"id":4}"#, 1),
    );
    assert_bad_input(
        &dir,
        &["plan", "--state", s.to_str().unwrap()],
        "brokers [4] have no rack",
    );
    let out = run(&[
        "plan",
        "--state",
        s.to_str().unwrap(),
        "--ignore-racks",
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    // Planned without racks: the rackless broker 4 takes its share.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b4 = v["summary"]["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == 4)
        .unwrap()
        .clone();
    assert_eq!(b4["replicas_after"], 3, "{b4}");
}

/// `plan` on [`SMALL`] with `args`, writing the plan to a file; checks
/// exit 0 and returns stdout and the plan.
fn plan_small(args: &[&str]) -> (String, String) {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let plan = dir.path().join("p.json");
    let mut full = vec!["plan", "--state", s.to_str().unwrap()];
    full.extend_from_slice(args);
    full.extend(["-o", plan.to_str().unwrap()]);
    let out = run(&full);
    assert_exit(&out, 0);
    (stdout(&out), std::fs::read_to_string(&plan).unwrap())
}

#[test]
fn remove_brokers_drains_them() {
    let (stdout, _) = plan_small(&["--remove-brokers", "3", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let b3 = v["summary"]["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == 3)
        .unwrap()
        .clone();
    assert_eq!(b3["replicas_after"], 0, "{b3}");
    assert!(b3["replicas_before"].as_u64().unwrap() > 0);
}

#[test]
fn replace_substitutes_one_for_one() {
    let (_, p) = plan_small(&["--replace", "3=4"]);
    assert_eq!(
        p,
        r#"{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[2,4],"log_dirs":["any","any"]},{"topic":"orders","partition":2,"replicas":[4,2],"log_dirs":["any","any"]},{"topic":"payments","partition":1,"replicas":[4,2],"log_dirs":["any","any"]}]}"#
    );
}

#[test]
fn check_accepts_a_valid_plan_and_rejects_bad_ones() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let st = s.to_str().unwrap();
    let ok = write(
        dir.path(),
        "ok.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,1],"log_dirs":["any","any"]}]}"#,
    );
    let out = run(&["check", ok.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("valid (1 partitions)"));

    let rf = write(
        dir.path(),
        "rf.json",
        r#"{"partitions":[{"topic":"orders","partition":0,"replicas":[4,1,2]}]}"#,
    );
    let out = run(&["check", rf.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("rf.json: orders-0: changes the replication factor 2 -> 3"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "check",
        rf.to_str().unwrap(),
        "--state",
        st,
        "--allow-rf-change",
    ]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("rf.json: valid (1 partitions)"),
        "{}",
        stderr(&out)
    );

    let rack = write(
        dir.path(),
        "rack.json",
        r#"{"partitions":[{"topic":"orders","partition":0,"replicas":[1,3]}]}"#,
    );
    let out = run(&["check", rack.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("warning: orders-0: spans 1 of the 2 racks it needs"),
        "{}",
        stderr(&out)
    );
    let out = run(&["check", rack.to_str().unwrap(), "--state", st, "--strict"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("rack.json: orders-0: spans 1 of the 2 racks it needs"),
        "{}",
        stderr(&out)
    );

    let dead = write(
        dir.path(),
        "dead.json",
        &SMALL.replacen(
            r#"{"id":4,"rack":"b"}"#,
            r#"{"id":4,"rack":"b","alive":false}"#,
            1,
        ),
    );
    let out = run(&[
        "check",
        ok.to_str().unwrap(),
        "--state",
        dead.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("orders-0: target broker 4 is not alive"));

    write(
        dir.path(),
        "many.json",
        r#"{"partitions":[{"topic":"nope","partition":0,"replicas":[1]},{"topic":"orders","partition":9,"replicas":[1]},{"topic":"orders","partition":1,"replicas":[7,7]}]}"#,
    );
    // Relative paths keep the temporary directory out of the snapshot.
    let out = bin()
        .current_dir(dir.path())
        .args(["check", "many.json", "--state", "s.json"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let errors: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(String::from)
        .collect();
    insta::assert_snapshot!("check_many_errors", errors.join("\n"));
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = run(&["--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help", stdout(&out));
    let out = run(&["plan", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_plan", stdout(&out));
    let out = run(&["check", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_check", stdout(&out));
    let out = run(&["describe", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_describe", stdout(&out));
    let out = run(&["gen-snapshot", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_gen_snapshot", stdout(&out));
}

/// The live commands' help, each with its exit codes (scripts rely on
/// them: verify's 0/1/2/3 drive a pipeline).
#[test]
fn help_of_live_commands_lists_their_exit_codes() {
    let cases: [(&[&str], &str); 9] = [
        (&["apply"], "help_apply"),
        (&["verify"], "help_verify"),
        (&["cancel"], "help_cancel"),
        (&["rollback"], "help_rollback"),
        (&["status"], "help_status"),
        (&["throttle", "set"], "help_throttle_set"),
        (&["throttle", "clear"], "help_throttle_clear"),
        (&["elect-leaders"], "help_elect_leaders"),
        (&["throttle"], "help_throttle"),
    ];
    for (cmd, name) in cases {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = run(&args);
        assert_exit(&out, 0);
        let text = stdout(&out);
        if cmd != ["throttle"] {
            assert!(text.contains("Exit codes:\n  0  "), "{cmd:?}: {text}");
        }
        insta::assert_snapshot!(name, text);
    }
}

/// Runs the binary with standard input closed and gives up after `secs`
/// (killing it): `None` when it was still running. For commands that, on a
/// broken build, would run until stopped.
fn run_within(args: &[&str], secs: u64) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .args(args)
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("waits").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Checks a usage error: exit 2, one `error:` line containing `expect`.
fn assert_usage_error(out: &std::process::Output, what: &str, expect: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains(expect), "{what}: expected {expect:?} in {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
}

// regression: a bootstrap without a port was tried as an address, and
// failed as an unreachable cluster (exit 3).
#[test]
fn describe_refuses_malformed_bootstraps() {
    let form = "expected HOST:PORT[,HOST:PORT...]";
    for (bootstrap, why) in [
        ("", "no server given"),
        (",", "no server given"),
        ("kafka", "no port"),
        ("kafka:", "no port"),
        ("kafka:x", "no valid port"),
        ("kafka:0", "no valid port"),
        ("127.0.0.1:9092,kafka", "\"kafka\": no port"),
        ("http://kafka:9092", "a scheme"),
        ("::1:9092", "without brackets"),
    ] {
        let out = run_within(&["describe", "--bootstrap-server", bootstrap], 20).expect("ends");
        assert_usage_error(&out, bootstrap, why);
        assert_usage_error(&out, bootstrap, form);
    }
    let out = bin()
        .args(["describe"])
        .env("KAFKA_MIGRATE_BOOTSTRAP", "kafka")
        .output()
        .unwrap();
    assert_usage_error(&out, "KAFKA_MIGRATE_BOOTSTRAP", form);
}

/// A local TCP server on 127.0.0.1 that runs `serve` on each connection
/// (in a thread of its own); returns its address.
fn listener(serve: fn(std::net::TcpStream)) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    addr
}

// regression: an HTTP server's answer was read as a Kafka frame length:
// "response frame of 1213486160 bytes".
#[test]
fn describe_says_an_http_server_is_not_a_kafka_listener() {
    use std::io::{Read, Write};
    let addr = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let out = run_within(
        &["describe", "--bootstrap-server", &addr, "--timeout", "10"],
        30,
    )
    .expect("ends");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "{addr} is not a Kafka listener: it answered ApiVersions like an HTTP server (\"HTTP/1.1 400 Bad Request\")"
        )),
        "{err}"
    );
    assert!(!err.contains("1213486160"), "{err}");
}

// regression: `--timeout` took whole seconds only, and 0 meant 1 s.
#[test]
fn describe_gives_up_on_a_silent_listener_at_the_timeout() {
    let addr = listener(|s| {
        // Holds the connection open and never answers.
        std::thread::sleep(std::time::Duration::from_secs(60));
        drop(s);
    });
    for (timeout, said) in [("500ms", "500 ms"), ("1", "1 s")] {
        let started = std::time::Instant::now();
        let out = run_within(
            &[
                "describe",
                "--bootstrap-server",
                &addr,
                "--timeout",
                timeout,
            ],
            20,
        )
        .expect("gives up");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains(&format!("ApiVersions to {addr} timed out after {said}")),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    for (timeout, why) in [
        ("0", "must be more than 0"),
        ("0ms", "must be more than 0"),
        ("soon", "is not a duration"),
    ] {
        let out = run_within(
            &[
                "describe",
                "--bootstrap-server",
                &addr,
                "--timeout",
                timeout,
            ],
            20,
        )
        .expect("ends");
        assert_usage_error(&out, timeout, why);
    }
}

// regression: out-of-range counts were clamped in silence (`--brokers 0`
// made one broker, `--dead-brokers 12` of 12 left one alive, a repeated
// pick made fewer dead brokers than asked, racks past 26 shared names).
#[test]
fn gen_snapshot_refuses_counts_out_of_range() {
    let dir = TempDir::new().unwrap();
    let out_file = dir.path().join("s.json");
    let o = out_file.to_str().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (&["--broker-count", "0"], "0 is not in 1..=10000"),
        (&["--brokers", "0"], "0 is not in 1..=10000"),
        (&["--broker-count", "10001"], "10001 is not in 1..=10000"),
        (&["--partitions", "0"], "0 is not in 1..=10000000"),
        (&["--growth-steps", "0"], "0 is not in 1..=10000"),
        (
            &["--broker-count", "3", "--rack-count", "4"],
            "--rack-count 4 is more than --broker-count 3",
        ),
        (
            &["--broker-count", "3", "--dead-brokers", "3"],
            "--dead-brokers 3 leaves no alive broker of --broker-count 3",
        ),
        (
            &["--dead-brokers", "99"],
            "--dead-brokers 99 leaves no alive broker of --broker-count 12",
        ),
        (
            &["--broker-count", "2", "--growth-steps", "3"],
            "--growth-steps 3 is more than --broker-count 2",
        ),
        (
            &["--racks", "13"],
            "--rack-count 13 is more than --broker-count 12",
        ),
    ];
    for (args, expect) in cases {
        let mut full = vec!["gen-snapshot", "-o", o];
        full.extend_from_slice(args);
        assert_usage_error(&run(&full), &args.join(" "), expect);
        assert!(!out_file.exists(), "{args:?} wrote a snapshot");
    }
    let snapshot = |args: &[&str]| -> serde_json::Value {
        let mut full = vec!["gen-snapshot"];
        full.extend_from_slice(args);
        let out = run(&full);
        assert_exit(&out, 0);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let dead = snapshot(&[
        "--broker-count",
        "8",
        "--rack-count",
        "4",
        "--even-racks",
        "--growth-steps",
        "1",
        "--partitions",
        "859",
        "--dead-brokers",
        "2",
        "--seed",
        "12",
    ]);
    let dead = dead["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["alive"] == false)
        .count();
    assert_eq!(dead, 2);
    let racks = snapshot(&[
        "--broker-count",
        "30",
        "--rack-count",
        "27",
        "--partitions",
        "50",
    ]);
    let names: std::collections::BTreeSet<&str> = racks["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rack"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 27, "{names:?}");
    // A default that does not fit a small cluster shrinks to fit.
    let small = snapshot(&["--broker-count", "1", "--partitions", "5"]);
    assert_eq!(small["brokers"].as_array().unwrap().len(), 1);
}

// regression: a snapshot with no sizes planned "by size" with every size 0.
#[test]
fn plan_objective_size_needs_sizes() {
    let dir = TempDir::new().unwrap();
    let no_sizes = regex::Regex::new(r#","size_bytes":\d+"#)
        .unwrap()
        .replace_all(SMALL, "");
    assert!(!no_sizes.contains("size_bytes"), "{no_sizes}");
    let s = write(dir.path(), "nosizes.json", &no_sizes);
    assert_bad_input(
        &dir,
        &[
            "plan",
            "--state",
            s.to_str().unwrap(),
            "--objective",
            "size",
        ],
        "--objective size needs partition sizes, and no partition in",
    );
    let out = run(&["plan", "--state", s.to_str().unwrap()]);
    assert_exit(&out, 0);
    let (stdout, _) = plan_small(&["--objective", "size"]);
    assert!(stdout.contains("bytes"), "{stdout}");
}

// regression: names Kafka refuses reached the commands.
#[test]
fn invalid_topic_names_are_usage_errors_in_every_command() {
    let dir = TempDir::new().unwrap();
    let rule = "a topic name is 1 to 249 characters from [a-zA-Z0-9._-], and not \".\" or \"..\"";
    let bad = write(
        dir.path(),
        "bad.json",
        &SMALL.replacen("\"payments\"", "\"pay ments\"", 1),
    );
    assert_bad_input(&dir, &["plan", "--state", bad.to_str().unwrap()], rule);
    let s = write(dir.path(), "s.json", SMALL);
    let plan = write(
        dir.path(),
        "p.json",
        r#"{"partitions":[{"topic":"..","partition":0,"replicas":[1,2]}]}"#,
    );
    let out = run(&[
        "check",
        plan.to_str().unwrap(),
        "--state",
        s.to_str().unwrap(),
    ]);
    assert_usage_error(
        &out,
        "check",
        "partitions[0]: invalid topic name \"..\" (it is reserved)",
    );
    let topics = write(
        dir.path(),
        "t.json",
        r#"{"version":1,"topics":[{"topic":"orders!"}]}"#,
    );
    assert_bad_input(
        &dir,
        &[
            "plan",
            "--state",
            s.to_str().unwrap(),
            "--topics-file",
            topics.to_str().unwrap(),
        ],
        "topics[0]: invalid topic name \"orders!\" (it contains '!')",
    );
    for spec in ["or ders:1:1", ".:1:1", "..:2:1"] {
        let out = run_within(&["mini-broker", "--topic", spec], 20)
            .expect("refused before the cluster starts");
        assert_usage_error(&out, spec, rule);
    }
}

/// `mini-broker ARGS`, stopped with `quit` after its bootstrap line:
/// the bootstrap line and the broker table.
fn mini_broker_start(args: &[&str]) -> String {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .arg("mini-broker")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut shown = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let end = line.trim().is_empty() || (shown.contains("broker") && line.starts_with('└'));
        shown.push_str(&line);
        shown.push('\n');
        if end || shown.lines().count() > 40 {
            break;
        }
    }
    let _ = child.stdin.take().unwrap().write_all(b"quit\n");
    let _ = child.wait();
    shown
}

// `--brokers` is a target list in `plan`: the counts of `gen-snapshot` and
// `mini-broker` are `--broker-count` and `--rack-count`, and the old
// spelling still works (hidden).
#[test]
fn counts_are_broker_count_and_rack_count_with_the_old_spelling_kept() {
    let new = run(&[
        "gen-snapshot",
        "--broker-count",
        "5",
        "--rack-count",
        "2",
        "--partitions",
        "40",
        "--seed",
        "3",
    ]);
    let old = run(&[
        "gen-snapshot",
        "--brokers",
        "5",
        "--racks",
        "2",
        "--partitions",
        "40",
        "--seed",
        "3",
    ]);
    assert_exit(&new, 0);
    assert_exit(&old, 0);
    assert_eq!(new.stdout, old.stdout);
    let v: serde_json::Value = serde_json::from_slice(&new.stdout).unwrap();
    assert_eq!(v["brokers"].as_array().unwrap().len(), 5);
    for cmd in ["gen-snapshot", "mini-broker"] {
        let help = stdout(&run(&[cmd, "--help"]));
        assert!(
            help.contains("--broker-count <N>") && help.contains("--rack-count <N>"),
            "{help}"
        );
        assert!(
            !help.contains("--brokers") && !help.contains("--racks"),
            "{help}"
        );
    }
    for args in [
        ["--broker-count", "2", "--rack-count", "2"],
        ["--brokers", "2", "--racks", "2"],
    ] {
        let shown = mini_broker_start(&args);
        assert!(shown.starts_with("bootstrap: 127.0.0.1:"), "{shown}");
        assert!(
            shown.contains("rack-b") && !shown.contains("rack-c"),
            "{shown}"
        );
        assert_eq!(shown.matches(" up ").count(), 2, "{shown}");
    }
}

// kafka-reassign-partitions.sh's spellings: --reassignment-json-file,
// --disable-rack-aware, --broker-list, --topics-to-move-json-file.
#[test]
fn kafka_tool_spellings_are_accepted() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let st = s.to_str().unwrap();
    let plan = write(
        dir.path(),
        "ok.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,1],"log_dirs":["any","any"]}]}"#,
    );
    let p = plan.to_str().unwrap();
    let out = run(&["check", "--reassignment-json-file", p, "--state", st]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("valid (1 partitions)"));
    let out = run(&["check", p, "--state", st]);
    assert_exit(&out, 0);
    assert_usage_error(
        &run(&["check", p, "--reassignment-json-file", p, "--state", st]),
        "both",
        "cannot be used with",
    );
    assert_usage_error(
        &run(&["check", "--state", st]),
        "neither",
        "<PLAN|--reassignment-json-file <FILE>>",
    );

    let partial = write(
        dir.path(),
        "partial.json",
        &SMALL.replacen(r#"{"id":4,"rack":"b"}"#, r#"{"id":4}"#, 1),
    );
    let out = run(&[
        "plan",
        "--state",
        partial.to_str().unwrap(),
        "--disable-rack-aware",
    ]);
    assert_exit(&out, 0);
    let (_, by_list) = plan_small(&["--broker-list", "1,2,4"]);
    let (_, by_brokers) = plan_small(&["--brokers", "1,2,4"]);
    assert_eq!(by_list, by_brokers);
    let moved = kafka_migrate::model::reassignment::parse("p", by_list.as_bytes()).unwrap();
    assert!(
        moved.moves().iter().all(|m| !m.replicas.contains(&3)),
        "{by_list}"
    );
    let topics = write(
        dir.path(),
        "t.json",
        r#"{"version":1,"topics":[{"topic":"payments"}]}"#,
    );
    let (_, moved) = plan_small(&["--topics-to-move-json-file", topics.to_str().unwrap()]);
    assert!(
        moved.contains("payments") && !moved.contains("orders"),
        "{moved}"
    );
}

// regression: a bogus frame length was allocated whole before reading
// (a TLS alert reads as 352 MB), and a server that hung up said "early eof".
#[test]
fn describe_names_tls_listeners_and_servers_that_hang_up() {
    use std::io::{Read, Write};
    let tls = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        // A TLS alert record: what an SSL listener sends to plaintext.
        let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);
    });
    let hang_up = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        // A plausible length (160 MiB), a few bytes, then gone.
        let _ = s.write_all(&[0x0a, 0x00, 0x00, 0x00, 1, 2, 3]);
    });
    for (addr, expect) in [
        (
            &tls,
            format!("{tls} is not a Kafka listener: it answered ApiVersions with TLS"),
        ),
        (
            &hang_up,
            format!("{hang_up} closed the connection without answering ApiVersions"),
        ),
    ] {
        let out = run_within(
            &["describe", "--bootstrap-server", addr, "--timeout", "10"],
            30,
        )
        .expect("ends");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains(&expect), "{err}");
    }
}

/// `--output markdown`: the summary as a pull-request comment, the same
/// bytes in every locale (it is data, not terminal text).
#[test]
fn plan_and_check_report_in_markdown() {
    let dir = TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let plan = dir.path().join("plan.json");
    let args = |extra: &[&str]| {
        let mut a = vec!["plan", "--state", state.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.extend(["--throttle", "1KB/s", "--output", "markdown"]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let out = run(&args(&["-o", plan.to_str().unwrap()])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_exit(&out, 0);
    let md = stdout(&out).replace(plan.to_str().unwrap(), "PLAN");
    insta::assert_snapshot!("plan_small_markdown", md);
    // In the C locale the report keeps its bytes.
    let c = bin().args(args(&[])).env("LANG", "C").output().unwrap();
    assert_exit(&c, 0);
    assert!(stdout(&c).contains("6 → 3"), "{}", stdout(&c));

    let out = run(&[
        "check",
        plan.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--strict",
        "--output",
        "markdown",
    ]);
    assert_exit(&out, 0);
    let md = stdout(&out).replace(plan.to_str().unwrap(), "PLAN");
    insta::assert_snapshot!("check_small_markdown", md);

    // The report and a plan on standard output would mix.
    let out = run(&args(&["-o", "-"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("error: --output markdown and --out - would mix"),
        "{}",
        stderr(&out)
    );
}
