//! The planner's speed bar: `plan --state` on 300 brokers, 6 racks, about
//! 1M partitions and 3M replicas, JSON parsing and writing included, must
//! finish in ≤ 10 s wall time with ≤ 2 GiB peak RSS.
//!
//! Run: `cargo bench --bench plan_scale` (add `-- --partitions N` to vary).
//! It generates the snapshot once (target/bench/), runs the release binary
//! as a child process three times and reports wall time and peak RSS of
//! each run, measured by the kernel (wait4 rusage).

// Tests and benchmarks stage files, open sockets and print figures: the
// fences of clippy.toml are for the product.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Instant;

use kafka_migrate::model::snapshot;
use kafka_migrate::synth::{Profile, generate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let partitions = args
        .iter()
        .position(|a| a == "--partitions")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000usize);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join(format!("large-{partitions}.json"));
    if !state.exists() {
        let t = Instant::now();
        let profile = Profile {
            partitions,
            ..Profile::large()
        };
        let c = generate(&profile, 1);
        let json = snapshot::to_json(&c);
        std::fs::write(&state, json).unwrap();
        eprintln!("generated {} in {:.1?}", state.display(), t.elapsed());
    }
    let size = std::fs::metadata(&state).unwrap().len();
    let bin = env!("CARGO_BIN_EXE_kafka-migrate");
    println!(
        "plan_scale: {} ({} MiB snapshot), release binary",
        state.display(),
        size >> 20
    );
    for run in 1..=3 {
        let out = dir.join("plan.json");
        let t = Instant::now();
        // Reaped by wait4 below (not Child::wait) to get its rusage.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(bin)
            .args(["plan", "--state"])
            .arg(&state)
            .arg("-o")
            .arg(&out)
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
