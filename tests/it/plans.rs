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
