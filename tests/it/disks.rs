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

/// `--max-bytes` counts the bytes moved between a broker's dirs beside
/// those copied between brokers: with `--max-moves 0` nothing is copied,
/// so the dirs get the whole budget and stop where it ends.
#[test]
fn max_bytes_counts_moves_between_dirs() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", &with_dirs(&even()));
    // A plan that leaves dirs uneven exits 1, as any plan with a warning.
    let run = |max: &str, code: i32| -> serde_json::Value {
        let mut args = vec![
            "plan",
            "--state",
            state.to_str().unwrap(),
            "--balance-disks",
            "--output",
            "json",
        ];
        if !max.is_empty() {
            args.extend(["--max-bytes", max]);
        }
        let out = bin().args(&args).output().unwrap();
        assert_exit(&out, code);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let dirs_bytes = |r: &serde_json::Value| {
        r["summary"]["disks"]["bytes_moved_between_dirs"]
            .as_u64()
            .unwrap()
    };
    let copied = |r: &serde_json::Value| r["summary"]["totals"]["bytes_moved"].as_u64().unwrap();
    // Under a byte budget the count objective sends no larger replica for
    // byte balance, so a budget's plan is measured against one far above.
    let free = run("1T", 0);
    let whole = copied(&free) + dirs_bytes(&free);
    assert!(dirs_bytes(&free) > 0, "{free}");
    // A budget below what both need: the sum stays within it, and the
    // brokers left uneven are named for the budget, not for a partition.
    let limit = whole / 2;
    let r = run(&limit.to_string(), 1);
    assert!(copied(&r) + dirs_bytes(&r) <= limit, "{r}");
    assert!(dirs_bytes(&r) < dirs_bytes(&free), "{r}");
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("--max-bytes (which counts moves between dirs too)"),
        "{warnings}"
    );
    // Enough for both: the same plan as without a budget.
    let r = run(&whole.to_string(), 0);
    assert_eq!(dirs_bytes(&r), dirs_bytes(&free));
    assert_eq!(copied(&r), copied(&free));
}

/// `check` holds a plan's named log dirs to the snapshot's: a dir the
/// broker does not have is an error (exit 2) naming the partition, broker
/// and dir, as `apply` refuses it; a `log_dirs` of the wrong length too; a
/// dir on a broker whose dirs the snapshot does not record is a warning.
#[test]
fn check_holds_named_log_dirs_to_the_snapshot() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = write(dir.path(), "s.json", &with_dirs(&even()));
    let check = |plan: &str| {
        let p = write(dir.path(), "p.json", plan);
        bin()
            .args(["check", p.to_str().unwrap(), "--state"])
            .arg(&state)
            .output()
            .unwrap()
    };
    // orders-0 is on [1, 2]: its replica on 1 moves to /d/b.
    let ok = check(
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2],"log_dirs":["/d/b","any"]}]}"#,
    );
    assert_exit(&ok, 0);
    let bad = check(
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2],"log_dirs":["/d/z","any"]}]}"#,
    );
    assert_exit(&bad, 2);
    let e = errors(&bad);
    assert!(
        e.iter()
            .any(|l| l.contains("orders-0") && l.contains("broker 1 has no log dir /d/z")),
        "{e:?}"
    );
    let short = check(
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2],"log_dirs":["/d/b"]}]}"#,
    );
    assert_exit(&short, 2);
    assert!(
        errors(&short)
            .iter()
            .any(|l| l.contains("log_dirs has 1 entries but replicas has 2")),
        "{:?}",
        errors(&short)
    );
    // Without recorded dirs the plan is valid, with a warning.
    let bare = write(dir.path(), "bare.json", &even());
    let p = write(
        dir.path(),
        "p2.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2],"log_dirs":["/d/z","any"]}]}"#,
    );
    let out = bin()
        .args(["check", p.to_str().unwrap(), "--state"])
        .arg(&bare)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("log dirs on brokers 1 whose log dirs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gen_snapshot_log_dirs_gives_something_to_balance() {
    // A new user can try --balance-disks without a cluster: every alive
    // broker gets the dirs, each replica one of them, placed by partition
    // count as Kafka does, which leaves the bytes uneven.
    let dir = tempfile::TempDir::new().unwrap();
    let state = dir.path().join("s.json");
    let out = bin()
        .args(["gen-snapshot", "--seed", "3", "--log-dirs", "3", "-o"])
        .arg(&state)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let snap = plan_doc(&state);
    for b in snap["brokers"].as_array().unwrap() {
        let dirs = b["log_dirs"].as_array().map_or(0, Vec::len);
        let alive = b["alive"].as_bool() != Some(false);
        assert_eq!(dirs, if alive { 3 } else { 0 }, "{b}");
    }
    // Kafka's rule: a broker's dirs hold partition counts one apart at most.
    let mut held: std::collections::BTreeMap<(i64, String), u64> = Default::default();
    for t in snap["topics"].as_array().unwrap() {
        for p in t["partitions"].as_array().unwrap() {
            // Only partitions wholly on the dead broker have none.
            let Some(dirs) = p["log_dirs"].as_array() else {
                continue;
            };
            for (b, d) in p["replicas"].as_array().unwrap().iter().zip(dirs) {
                if let Some(d) = d.as_str() {
                    *held
                        .entry((b.as_i64().unwrap(), d.to_string()))
                        .or_default() += 1;
                }
            }
        }
    }
    for b in snap["brokers"].as_array().unwrap() {
        let id = b["id"].as_i64().unwrap();
        let counts: Vec<u64> = held
            .iter()
            .filter(|((x, _), _)| *x == id)
            .map(|(_, n)| *n)
            .collect();
        if let (Some(lo), Some(hi)) = (counts.iter().min(), counts.iter().max()) {
            assert!(hi - lo <= 1, "broker {id}: {counts:?}");
        }
    }
    let out = bin()
        .args(["plan", "--state"])
        .arg(&state)
        .args([
            "--balance-disks",
            "--allow-offline",
            "--output",
            "json",
            "-o",
        ])
        .arg(dir.path().join("p.json"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let disks = report["summary"]["disks"]["brokers"].as_array().unwrap();
    let outside_before = disks
        .iter()
        .filter(|b| b["spread_before"].as_u64() > b["tolerance_bytes"].as_u64())
        .count();
    assert!(outside_before > 0, "nothing to balance: {disks:?}");
    for b in disks {
        assert!(
            b["spread_after"].as_u64() <= b["tolerance_bytes"].as_u64(),
            "{b}"
        );
    }
    // Without the flag the snapshot is the one it always was.
    let plain = bin()
        .args(["gen-snapshot", "--seed", "3"])
        .output()
        .unwrap();
    assert_exit(&plain, 0);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("log_dirs"));
    let bad = bin()
        .args(["gen-snapshot", "--log-dirs", "0"])
        .output()
        .unwrap();
    assert_exit(&bad, 2);
    assert!(String::from_utf8_lossy(&bad.stdout).is_empty());
}
