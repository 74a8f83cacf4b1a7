//! The command line as scripts see it: exit codes, files written or not,
//! error lines, and snapshots of the summary and help.

use predicates_like::*;
use tempfile::TempDir;

use crate::support::{SMALL, bin, write};

mod predicates_like {
    pub fn stderr_of(out: &std::process::Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
    pub fn stdout_of(out: &std::process::Output) -> String {
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn run(args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("runs")
}

/// Checks the exit code, showing stderr when it differs.
fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr_of(out));
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
    let stdout = stdout_of(&out);
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
    assert_eq!(stdout_of(&out), stdout_of(&from_file));
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
    let err = stderr_of(&out);
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
    assert!(stderr_of(&out).contains("--out and --rollback both name"));
    assert!(!both.exists());
}

/// Kafka rejects an empty plan: with nothing to change, none is written
/// (and no rollback), and the run still succeeds.
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
    let err = stderr_of(&out);
    for want in ["nothing to do", "no plan written"] {
        assert!(err.contains(want), "{err}");
    }
    assert!(!plan.exists() && !rollback.exists());
    // An older plan at that path is not left to pass for this run's.
    std::fs::write(&plan, "{}").unwrap();
    let out = run(&[
        "plan",
        "--state",
        s.to_str().unwrap(),
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    assert!(!plan.exists(), "a stale plan was left");
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
    (stdout_of(&out), std::fs::read_to_string(&plan).unwrap())
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
    assert!(stderr_of(&out).contains("valid (1 partitions)"));

    let rf = write(
        dir.path(),
        "rf.json",
        r#"{"partitions":[{"topic":"orders","partition":0,"replicas":[4,1,2]}]}"#,
    );
    let out = run(&["check", rf.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 2);
    assert!(
        stderr_of(&out).contains("rf.json: orders-0: changes the replication factor 2 -> 3"),
        "{}",
        stderr_of(&out)
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
        stderr_of(&out).contains("rf.json: valid (1 partitions)"),
        "{}",
        stderr_of(&out)
    );

    let rack = write(
        dir.path(),
        "rack.json",
        r#"{"partitions":[{"topic":"orders","partition":0,"replicas":[1,3]}]}"#,
    );
    let out = run(&["check", rack.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 0);
    assert!(
        stderr_of(&out).contains("warning: orders-0: spans 1 of the 2 racks it needs"),
        "{}",
        stderr_of(&out)
    );
    let out = run(&["check", rack.to_str().unwrap(), "--state", st, "--strict"]);
    assert_exit(&out, 2);
    assert!(
        stderr_of(&out).contains("rack.json: orders-0: spans 1 of the 2 racks it needs"),
        "{}",
        stderr_of(&out)
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
    assert!(stderr_of(&out).contains("orders-0: target broker 4 is not alive"));

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
    let errors: Vec<String> = stderr_of(&out)
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
    insta::assert_snapshot!("help", stdout_of(&out));
    let out = run(&["plan", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_plan", stdout_of(&out));
    let out = run(&["check", "--help"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("help_check", stdout_of(&out));
}
