//! `plan --balance-disks` through the binary: the plan and rollback files
//! name log dirs, the reports show the disks, plans without the flag are
//! what they were, and the flag's errors.

use crate::support::{SMALL, assert_exit, bin, errors, stdout, write};

/// Four brokers (the fourth new and empty), twelve partitions of 1000 to
/// 3000 bytes on the first three.
fn even() -> String {
    let parts: Vec<serde_json::Value> = (0..12)
        .map(|p| {
            serde_json::json!({
                "partition": p,
                "replicas": [1 + p % 3, 1 + (p + 1) % 3],
                "size_bytes": 1000 * (1 + p % 3),
            })
        })
        .collect();
    serde_json::json!({
        "version": 1,
        "brokers": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
        "topics": [{"name": "orders", "partitions": parts}],
    })
    .to_string()
}

/// `snapshot` with two log dirs per broker and every replica in its
/// broker's /d/a.
fn with_dirs(snapshot: &str) -> String {
    let mut snap: serde_json::Value = serde_json::from_str(snapshot).unwrap();
    for b in snap["brokers"].as_array_mut().unwrap() {
        b["log_dirs"] = serde_json::json!(["/d/a", "/d/b"]);
    }
    for t in snap["topics"].as_array_mut().unwrap() {
        for p in t["partitions"].as_array_mut().unwrap() {
            let n = p["replicas"].as_array().unwrap().len();
            p["log_dirs"] = serde_json::json!(vec!["/d/a"; n]);
        }
    }
    snap.to_string()
}

fn plan_doc(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn balance_disks_plans_log_dirs_and_reports_the_disks() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", &with_dirs(&even()));
    let plan = dir.path().join("plan.json");
    let back = dir.path().join("back.json");
    let out = bin()
        .args(["plan", "--state"])
        .arg(&state)
        .args(["--balance-disks", "--output", "json", "-o"])
        .arg(&plan)
        .arg("--rollback")
        .arg(&back)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let disks = &report["summary"]["disks"];
    assert_eq!(disks["tolerance_pct"], 10.0);
    assert_eq!(disks["brokers_outside_tolerance"], serde_json::json!([]));
    let ids: Vec<i64> = disks["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    for b in disks["brokers"].as_array().unwrap() {
        assert!(
            b["spread_after"].as_u64() <= b["tolerance_bytes"].as_u64(),
            "{b}"
        );
    }
    // Broker 2 holds four partitions of 1000 and four of 2000 in /d/a.
    let b2 = &disks["brokers"][1];
    assert_eq!(b2["spread_before"], 12_000);
    let doc = plan_doc(&plan);
    let named = doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["log_dirs"].as_array().unwrap().clone())
        .filter(|d| d != "any")
        .count();
    assert!(named > 0, "{doc}");
    // The rollback puts every replica back in /d/a.
    for m in plan_doc(&back)["partitions"].as_array().unwrap() {
        assert!(
            m["log_dirs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d == "/d/a"),
            "{m}"
        );
    }
    // The text summary draws the disks.
    let out = bin()
        .args(["plan", "--state"])
        .arg(&state)
        .args(["--balance-disks", "--disk-tolerance", "5"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("disks (log dirs; tolerance 5% of each broker's mean bytes per dir):"),
        "{text}"
    );
    assert!(text.contains("/d/b"), "{text}");
    let out = bin()
        .args(["plan", "--state"])
        .arg(&state)
        .args(["--balance-disks", "--output", "markdown"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let md = stdout(&out);
    assert!(
        md.contains("Disks (tolerance 10% of the mean per dir)")
            && md.contains("broker 4: `/d/a` 0 B → "),
        "{md}"
    );
    // Partitions too large to even a broker's dirs out: exit 1, saying so.
    let small = write(dir.path(), "small.json", &with_dirs(SMALL));
    let out = bin()
        .args(["plan", "--state"])
        .arg(&small)
        .arg("--balance-disks")
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        crate::support::stderr(&out)
            .contains("end further apart than 10%: a partition too large to even them out"),
        "{}",
        crate::support::stderr(&out)
    );
}

#[test]
fn plans_without_the_flag_are_what_they_were() {
    let dir = tempfile::TempDir::new().unwrap();
    let with = write(dir.path(), "with.json", &with_dirs(SMALL));
    let without = write(dir.path(), "without.json", SMALL);
    let run = |state: &std::path::Path, out: &str| {
        let path = dir.path().join(out);
        let o = bin()
            .args(["plan", "--state"])
            .arg(state)
            .arg("-o")
            .arg(&path)
            .output()
            .unwrap();
        assert_exit(&o, 0);
        std::fs::read(path).unwrap()
    };
    let a = run(&with, "a.json");
    assert_eq!(a, run(&without, "b.json"));
    assert!(!String::from_utf8(a).unwrap().contains("/d/"));
}

#[test]
fn balance_disks_needs_log_dirs() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", SMALL);
    let out = bin()
        .args(["plan", "--state"])
        .arg(&state)
        .arg("--balance-disks")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let e = errors(&out);
    assert!(
        e.iter()
            .any(|l| l.contains("--balance-disks needs log dirs")
                && l.contains("s.json records none")),
        "{e:?}"
    );
    // A tolerance alone, or out of range, is a usage error.
    for args in [
        vec!["--disk-tolerance", "5"],
        vec!["--balance-disks", "--disk-tolerance", "150"],
        vec!["--balance-disks", "--disk-tolerance", "x"],
    ] {
        let out = bin()
            .args(["plan", "--state"])
            .arg(&state)
            .args(&args)
            .output()
            .unwrap();
        assert_exit(&out, 2);
    }
}
