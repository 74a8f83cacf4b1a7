//! The planner's speed bar: `plan --state` on million-partition profiles,
//! JSON parsing and writing included, must finish in ≤ 10 s wall time with
//! ≤ 2 GiB peak RSS (the `huge` profile: ≤ 6 s and ≤ 1 GiB).
//!
//! Profiles (`-- --profile NAME[,NAME]`, default `large`; `all` for every
//! one):
//! - `large`: 300 brokers, 6 even racks, about 1M partitions, RF 3, 3M
//!   replicas.
//! - `uneven`: 300 brokers, 6 uneven racks, about 1M partitions, RF 1 to 3
//!   mixed, two dead brokers.
//! - `huge`: 1,000 brokers, 5 uneven racks, about 2M partitions and 5.5M
//!   replicas, RF 1 to 3 mixed, two dead brokers.
//!
//! Run: `cargo bench --bench plan_scale` (add `-- --partitions N` to vary
//! the partition count of every profile, `--runs N` for the runs).
//! It generates each snapshot once (target/bench/), runs the release
//! binary as a child process and reports wall time and peak RSS of each
//! run, measured by the kernel (wait4 rusage).

// Tests and benchmarks stage files, open sockets and print figures: the
// fences of clippy.toml are for the product.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Instant;

use kafka_migrate::model::snapshot;
use kafka_migrate::synth::{Profile, generate};

/// A named profile and its snapshot's file stem.
fn profile(name: &str, partitions: Option<usize>) -> (String, Profile) {
    let p = match name {
        "large" => Profile::large(),
        "uneven" => Profile {
            uneven_racks: true,
            rf1: 0.1,
            rf2: 0.2,
            dead_brokers: 2,
            ..Profile::large()
        },
        "huge" => Profile {
            brokers: 1000,
            racks: 5,
            uneven_racks: true,
            partitions: 2_000_000,
            rf1: 0.05,
            rf2: 0.15,
            dead_brokers: 2,
            ..Profile::large()
        },
        other => panic!("unknown profile {other:?}: large, uneven, huge or all"),
    };
    let p = Profile {
        partitions: partitions.unwrap_or(p.partitions),
        ..p
    };
    // The bench's original profile keeps its file name.
    let stem = match name {
        "large" => format!("large-{}", p.partitions),
        _ => format!("{name}-{}", p.partitions),
    };
    (stem, p)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let partitions = value("--partitions").and_then(|v| v.parse().ok());
    let runs: usize = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let names = value("--profile").unwrap_or_else(|| "large".into());
    let names: Vec<&str> = if names == "all" {
        vec!["large", "uneven", "huge"]
    } else {
        names.split(',').collect()
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        let (stem, profile) = profile(name, partitions);
        let state = dir.join(format!("{stem}.json"));
        if !state.exists() {
            let t = Instant::now();
            let c = generate(&profile, 1);
            let json = snapshot::to_json(&c);
            std::fs::write(&state, json).unwrap();
            eprintln!("generated {} in {:.1?}", state.display(), t.elapsed());
        }
        run(name, &state, &dir.join(format!("plan-{name}.json")), runs);
    }
}

/// Plans `state` `runs` times with the release binary and prints the
/// figures of each run.
fn run(name: &str, state: &std::path::Path, out: &std::path::Path, runs: usize) {
    let size = std::fs::metadata(state).unwrap().len();
    let bin = env!("CARGO_BIN_EXE_kafka-migrate");
    println!(
        "plan_scale {name}: {} ({} MiB snapshot), release binary",
        state.display(),
        size >> 20
    );
    for run in 1..=runs {
        let t = Instant::now();
        // Reaped by wait4 below (not Child::wait) to get its rusage.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(bin)
            .args(["plan", "--allow-offline", "--state"])
            .arg(state)
            .arg("-o")
            .arg(out)
            .args(["--output", "json"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Drain the summary before reaping: it is larger than a pipe buffer.
        let mut stdout = String::new();
        use std::io::Read;
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let (status, rss_kib) = wait_with_rusage(pid);
        let wall = t.elapsed();
        assert!(
            status.success() || status.code() == Some(1),
            "plan failed: {status:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
        let t = &v["summary"]["totals"];
        println!(
            "run {run}: wall {:.2} s, peak RSS {} MiB, partitions {}, replicas {}, moved {} (lower bound {}), excess {}, leader spread {}, topic excess {}",
            wall.as_secs_f64(),
            rss_kib / 1024,
            t["partitions"],
            t["replicas"],
            t["replicas_moved"],
            t["replica_moves_lower_bound"],
            t["replica_excess_after"],
            t["leader_spread_after"],
            t["topic_excess_after"],
        );
    }
}

/// Waits for `pid` and returns its exit status and peak RSS in KiB.
fn wait_with_rusage(pid: i32) -> (std::process::ExitStatus, i64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain FFI call with valid pointers to locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
}
