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
