//! Reads a snapshot as `plan --state` does and nothing else, so that the
//! reading can be timed and profiled alone:
//! `cargo bench --bench read_snapshot -- FILE [RUNS]`.

// A measuring tool: its report is its output.
#![allow(clippy::print_stdout)]

use std::time::Instant;

fn main() {
    // `cargo bench` adds `--bench`.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let path = args.next().expect("usage: read_snapshot FILE [RUNS]");
    let runs: usize = args.next().map_or(1, |r| r.parse().expect("RUNS"));
    for _ in 0..runs {
        let start = Instant::now();
        let (cluster, layout) = kafka_migrate::cli::plan::load_state(&path).expect("snapshot");
        let took = start.elapsed();
        let replicas: usize = cluster.partitions().map(|(_, p)| p.replicas.len()).sum();
        std::hint::black_box(&layout);
        println!(
            "{} brokers, {} topics, {} partitions, {replicas} replicas, read in {:.3} s",
            cluster.brokers.len(),
            cluster.topics.len(),
            cluster.partition_count(),
            took.as_secs_f64()
        );
    }
}
