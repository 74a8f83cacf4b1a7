//! The example plans in `plans/` stay valid against their snapshots.

use crate::support::{bin, repo};

fn check(plan: &str, state: &str, extra: &[&str]) -> String {
    let dir = repo().join("plans");
    let out = bin()
        .current_dir(&dir)
        .args(["check", plan, "--state", state, "--strict"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{plan}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn example_add_broker_is_valid() {
    let summary = check("add-broker.json", "cluster-with-new-broker.json", &[]);
    insta::assert_snapshot!("example_add_broker", summary);
}

#[test]
fn example_drain_broker_is_valid() {
    let summary = check("drain-broker-2.json", "cluster.json", &[]);
    insta::assert_snapshot!("example_drain_broker", summary);
}

#[test]
fn example_rf_change_needs_the_flag() {
    let summary = check("rf-3.json", "cluster.json", &["--allow-rf-change"]);
    insta::assert_snapshot!("example_rf_change", summary);
    let out = bin()
        .current_dir(repo().join("plans"))
        .args(["check", "rf-3.json", "--state", "cluster.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The examples are what `plan` makes today (the README shows these
/// commands): a planner change that alters them must refresh them.
#[test]
fn examples_are_what_plan_makes() {
    let dir = repo().join("plans");
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        ("add-broker", "cluster-with-new-broker.json", &[]),
        ("drain-broker-2", "cluster.json", &["--remove-brokers", "2"]),
        (
            "rf-3",
            "cluster.json",
            &["--topics", "payments", "--replication-factor", "3"],
        ),
    ];
    for (name, state, extra) in cases {
        let (plan, rollback) = (tmp.path().join("p.json"), tmp.path().join("r.json"));
        let out = bin()
            .current_dir(&dir)
            .args(["plan", "--state", state, "-o"])
            .arg(&plan)
            .arg("--rollback")
            .arg(&rollback)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        for (made, kept) in [
            (plan, format!("{name}.json")),
            (rollback, format!("{name}.rollback.json")),
        ] {
            let kept_bytes = std::fs::read(dir.join(&kept)).unwrap();
            assert!(
                std::fs::read(&made).unwrap() == kept_bytes,
                "plans/{kept} is stale: `kafka-migrate plan --state {state} {}` makes another",
                extra.join(" ")
            );
        }
    }
}

/// `plans/ci.sh`, the commands of the example pipeline, against a
/// mini-broker: the pull-request report, then apply and verify on merge;
/// a plan gone stale is refused with 2 and nothing is changed.
#[cfg(unix)]
#[test]
fn the_ci_pipeline_runs_against_a_mini_broker() {
    use crate::live::{Mini, holds, p};
    use crate::support::{assert_exit, stderr, stdout};
    let yml = std::fs::read_to_string(repo().join("plans/pipeline.yml")).unwrap();
    assert!(
        yml.contains("sh plans/ci.sh pr ") && yml.contains("sh plans/ci.sh merge "),
        "plans/pipeline.yml no longer runs plans/ci.sh's stages"
    );
    let mini = Mini::start(4, 2, &["orders:6:2", "payments:3:3"], 2_000_000);
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    for (name, flag) in [("drain-4", "4"), ("drain-3", "3")] {
        let out = mini.run(&[
            "plan",
            "--bootstrap-server",
            &mini.bootstrap(),
            "--remove-brokers",
            flag,
            "-o",
            p(&d(&format!("{name}.json"))),
            "--rollback",
            p(&d(&format!("{name}.rollback.json"))),
        ]);
        assert_exit(&out, 0);
    }
    let ci = |stage: &str, plan: &str| {
        std::process::Command::new("sh")
            .arg(repo().join("plans/ci.sh"))
            .args([stage, plan])
            .env(
                "KAFKA_MIGRATE",
                assert_cmd::cargo::cargo_bin("kafka-migrate"),
            )
            .env("KAFKA_MIGRATE_BOOTSTRAP", mini.bootstrap())
            .env("THROTTLE", "8MB/s")
            .env("REPORT", d("report.md"))
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap()
    };
    let drain4 = p(&d("drain-4.json")).to_string();
    let out = ci("pr", &drain4);
    assert_exit(&out, 0);
    let report = std::fs::read_to_string(d("report.md")).unwrap();
    assert!(
        report.starts_with("### kafka-migrate check `") && report.contains("| rack safety |"),
        "{report}"
    );

    let describe = || {
        let out = mini.run(&["describe", "--output", "json"]);
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["snapshot"].clone()
    };
    let before = describe();
    let out = ci("merge", &drain4);
    assert_exit(&out, 0);
    assert!(d("drain-4.journal.json").exists());
    let status = |mini: &Mini| {
        let out = mini.run(&["status", "--output", "json"]);
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let st = status(&mini);
    assert_eq!(st["moves"], serde_json::json!([]));
    assert_eq!(st["throttles"], serde_json::json!([]));
    let after = describe();
    assert!(holds(&before, 4) && !holds(&after, 4), "{after}");

    // drain-3 was planned before drain-4 ran: stale now. Refused, exit 2,
    // no rollback run, the cluster as it was.
    let out = ci("merge", p(&d("drain-3.json")));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("stale plan"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("rollback"), "{}", stdout(&out));
    assert_eq!(describe(), after);
}
