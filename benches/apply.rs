//! `apply` against its physical bound, beside Kafka's own tool
//! (`cargo bench --bench apply`).
//!
//! The same plan runs three ways on a fresh cluster each: `kafka-migrate
//! apply PLAN --throttle RATE` with the default batching,
//! `--all-at-once`, and Kafka's `kafka-reassign-partitions --execute
//! --throttle RATE` followed by `--verify` once a second until it reports
//! every partition complete (as an operator scripts it). Each run's wall
//! time, from starting the command to its end (for Kafka's tool, the
//! `--verify` that finds everything complete and clears the throttles), is
//! divided by the plan's physical bound: the busiest broker link's bytes
//! over the throttle (`exec::estimate`, as `apply --dry-run` prints it).
//!
//! Where the time goes comes from a sampler beside the run that reads the
//! new replicas' sizes (every 100 ms on the mini-broker, from its state;
//! every 250 ms on a real Kafka, with DescribeLogDirs):
//! - start: from the command's start to the first byte copied;
//! - copy: from the first byte to the moment every new replica holds all
//!   of its partition's bytes;
//! - tail: from then to the command's end (noticing the end, electing
//!   leaders for `apply`, restoring the throttles).
//!
//! Two parts:
//! - mini-broker (always): 4 brokers on 2 racks holding RF 3 topics, 2 new
//!   empty brokers join, `plan --bootstrap-server` rebalances onto them
//!   (about 2 GB to copy), throttle 20 MB/s. `--mini-bytes SIZE`
//!   (distinct data, default 3GB) and `--mini-rate RATE` change it.
//! - real Kafka (`tests/kafka/cluster.sh start` first): a fresh RF 2 topic
//!   of 24 partitions on brokers 1 and 2 of the harness's 4, 400 MB
//!   produced with librdkafka, rebalanced over all 4 at 5 MB/s (about
//!   240 MB to copy, a bound of some 30 s: Kafka's quota lets a move
//!   burst for its first seconds, so a shorter run measures the burst). It runs when the
//!   harness cluster is up (`target/kafka/bootstrap`), or with `--real`
//!   (then a cluster that is not up is an error); `--real-bytes` and
//!   `--real-rate` change it.
//!
//! `--mini` or `--real` alone runs only that part; `--runs N` repeats
//! each variant (default 1). Kafka's tool needs Java 17 and the harness's
//! jars (`tests/kafka/cluster.sh lib`). Nothing is asserted: the figures
//! go to the README.

// Tests and benchmarks stage files, open sockets and print figures: the
// fences of clippy.toml are for the product.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use kafka_migrate::kafka::Admin;
use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use kafka_migrate::model::TopicPartition;
use kafka_migrate::model::live::ClusterAdmin;
use kafka_migrate::units::{parse_rate, parse_size};
use parking_lot::Mutex;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

const BIN: &str = env!("CARGO_BIN_EXE_kafka-migrate");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Default,
    AllAtOnce,
    KafkaTool,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Default, Variant::AllAtOnce, Variant::KafkaTool];

    fn name(self) -> &'static str {
        match self {
            Variant::Default => "apply (default batching)",
            Variant::AllAtOnce => "apply --all-at-once",
            Variant::KafkaTool => "kafka-reassign-partitions",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::AllAtOnce => "all",
            Variant::KafkaTool => "kafka",
        }
    }
}

/// One new replica the plan adds, and the bytes it must end up holding.
#[derive(Debug, Clone)]
struct NewReplica {
    topic: String,
    partition: i32,
    broker: i32,
    bytes: u64,
}

/// What the sampler saw, in seconds from the command's start.
#[derive(Debug, Default, Clone)]
struct Seen {
    first_byte: Option<f64>,
    all_copied: Option<f64>,
    last_copied: u64,
}

/// One measured run.
#[derive(Debug, Clone)]
struct Measured {
    variant: Variant,
    wall: f64,
    bound: f64,
    /// `apply --dry-run`'s simulated makespan for this variant (none for
    /// Kafka's tool).
    simulated: Option<f64>,
    submitted: Option<f64>,
    seen: Seen,
    /// `--verify` runs of Kafka's tool, or polls of `apply` (progress
    /// events).
    polls: usize,
    bytes: u64,
    note: String,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mini_bytes = parse_size(&value("--mini-bytes").unwrap_or("3GB".into())).unwrap();
    let mini_rate = parse_rate(&value("--mini-rate").unwrap_or("20MB/s".into())).unwrap();
    let real_bytes = parse_size(&value("--real-bytes").unwrap_or("400MB".into())).unwrap();
    let real_rate = parse_rate(&value("--real-rate").unwrap_or("5MB/s".into())).unwrap();
    let runs: usize = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(1);
    let (want_mini, want_real) = (flag("--mini"), flag("--real"));
    let run_mini = want_mini || !want_real;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let real_bootstrap = std::fs::read_to_string(repo.join("target/kafka/bootstrap"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let run_real = match (&real_bootstrap, want_real, want_mini) {
        (Some(_), _, false) | (Some(_), true, _) => true,
        (None, true, _) => {
            eprintln!(
                "apply bench: --real needs the harness cluster: tests/kafka/cluster.sh start (no target/kafka/bootstrap)"
            );
            std::process::exit(2);
        }
        _ => false,
    };
    let dir = repo.join("target/bench/apply");
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "apply bench: {} cores, release binary {BIN}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut tables = Vec::new();
    if run_mini {
        let mut results = Vec::new();
        for run in 0..runs {
            for v in Variant::ALL {
                let m = rt.block_on(mini_run(&dir, v, run, mini_bytes, mini_rate));
                print_one(&m);
                results.push(m);
            }
        }
        tables.push((
            format!(
                "mini-broker: 4 brokers + 2 new, RF 3, {} distinct data, throttle {} B/s",
                human(mini_bytes),
                mini_rate
            ),
            results,
        ));
    }
    if run_real {
        let bs = real_bootstrap.expect("checked above");
        let mut results = Vec::new();
        for run in 0..runs {
            for v in Variant::ALL {
                let m = rt.block_on(real_run(&dir, &bs, v, run, real_bytes, real_rate));
                print_one(&m);
                results.push(m);
            }
        }
        tables.push((
            format!(
                "real Kafka 4.3.1 ({bs}): RF 2 topic on brokers 1-2 rebalanced over 4, {} produced, throttle {} B/s",
                human(real_bytes),
                real_rate
            ),
            results,
        ));
    } else {
        println!(
            "real Kafka part not run: start tests/kafka/cluster.sh (then it runs by itself) or pass --real"
        );
    }
    for (title, results) in tables {
        println!("\n{title}");
        println!("{}", table(&results));
    }
}

fn print_one(m: &Measured) {
    eprintln!(
        "  {}: wall {:.1} s = {:.3}x the bound {:.1} s; first byte {:?}, all copied {:?}{}",
        m.variant.name(),
        m.wall,
        m.wall / m.bound,
        m.bound,
        m.seen.first_byte.map(|s| format!("{s:.1} s")),
        m.seen.all_copied.map(|s| format!("{s:.1} s")),
        if m.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", m.note)
        }
    );
}

fn table(results: &[Measured]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "variant",
        "wall s",
        "bound s",
        "wall / bound",
        "simulated",
        "submitted s",
        "first byte s",
        "copy s",
        "tail s",
        "polls",
        "copied",
        "note",
    ]);
    for m in results {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.1}"));
        t.add_row(vec![
            m.variant.name().to_string(),
            format!("{:.1}", m.wall),
            format!("{:.1}", m.bound),
            format!("{:.3}", m.wall / m.bound),
            m.simulated
                .map_or("-".to_string(), |s| format!("{:.3}", s / m.bound)),
            f(m.submitted),
            f(m.seen.first_byte),
            f(m.seen.all_copied.zip(m.seen.first_byte).map(|(a, b)| a - b)),
            f(m.seen.all_copied.map(|a| m.wall - a)),
            m.polls.to_string(),
            human(m.bytes),
            m.note.clone(),
        ]);
    }
    t
}

fn human(b: u64) -> String {
    kafka_migrate::units::human_bytes(b)
}

// ---------------------------------------------------------------- mini-broker

async fn mini_run(dir: &Path, v: Variant, run: usize, bytes: u64, rate: u64) -> Measured {
    let topics = 4usize;
    let t = Instant::now();
    let cluster = Cluster::start(ClusterConfig {
        brokers: 4,
        racks: 2,
        topics: (0..topics)
            .map(|i| TopicSpec {
                name: format!("bench-{i}"),
                partitions: 16,
                replication_factor: 3,
            })
            .collect(),
        fill_bytes: bytes / topics as u64,
        ..ClusterConfig::default()
    })
    .await
    .expect("mini-broker starts");
    cluster
        .add_broker(Some(5), Some("rack-a".into()))
        .await
        .unwrap();
    cluster
        .add_broker(Some(6), Some("rack-b".into()))
        .await
        .unwrap();
    eprintln!(
        "mini-broker: 6 brokers, {} filled in {:.1?}",
        human(bytes),
        t.elapsed()
    );
    let bs = cluster.bootstrap();
    let d = dir.join(format!("mini-{}-{run}", v.slug()));
    let m = measure(&d, &bs, v, rate, &[], Sizes::Mini(&cluster)).await;
    cluster.shutdown().await;
    m
}

// ---------------------------------------------------------------- real Kafka

async fn real_run(dir: &Path, bs: &str, v: Variant, run: usize, bytes: u64, rate: u64) -> Measured {
    let topic = format!("bench-apply-{}-{}-{run}", v.slug(), std::process::id());
    let partitions = 24usize;
    let mut admin = Admin::connect(bs, Duration::from_secs(30))
        .await
        .expect("the harness cluster answers");
    // Leaders alternate between brokers 1 (rack-a) and 2 (rack-b): the
    // plan moves half the replicas onto brokers 3 and 4.
    let assignment: Vec<Vec<i32>> = (0..partitions)
        .map(|p| if p % 2 == 0 { vec![1, 2] } else { vec![2, 1] })
        .collect();
    admin
        .create_topic(&topic, &assignment, &[])
        .await
        .expect("topic created");
    let t = Instant::now();
    produce(bs, &topic, partitions, bytes).await;
    eprintln!(
        "real Kafka: {topic}: {} produced in {:.1?}",
        human(bytes),
        t.elapsed()
    );
    // Kafka's replication quota is a rate over 11 one-second samples, and
    // a window without throttled bytes lets a new move burst: wait it out
    // so no variant inherits the previous one's samples.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let d = dir.join(format!("real-{}-{run}", v.slug()));
    let m = measure(
        &d,
        bs,
        v,
        rate,
        &["--topics", &topic],
        Sizes::Real(&mut admin),
    )
    .await;
    // The next variant starts from brokers 3 and 4 empty of bench data.
    let out = Command::new("bash")
        .arg(repo_path("tests/kafka/cluster.sh"))
        .args(["tool", "kafka-topics", "--bootstrap-server", bs])
        .args(["--delete", "--topic", &topic])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "warning: deleting {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    m
}

/// Produces `bytes` into `topic`, partition p getting a share weighted
/// p % 4 + 1 (as the mini-broker's fill), in 1 MB batches of 10 KB
/// records, acks=all.
async fn produce(bs: &str, topic: &str, partitions: usize, bytes: u64) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("compression.type", "none")
        .set("queue.buffering.max.kbytes", "262144")
        .set("broker.address.family", "v4")
        .create()
        .unwrap();
    let weights: Vec<u64> = (0..partitions as u64).map(|p| p % 4 + 1).collect();
    let total_w: u64 = weights.iter().sum();
    let record = 10_000usize;
    // Incompressible enough that nobody's compression changes the sizes.
    let payload: Vec<u8> = (0..record)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut pending = Vec::new();
    for (p, w) in weights.iter().enumerate() {
        let n = (bytes * w / total_w) as usize / record;
        for _ in 0..n {
            loop {
                match producer.send_result(
                    FutureRecord::<(), _>::to(topic)
                        .partition(p as i32)
                        .payload(&payload),
                ) {
                    Ok(f) => {
                        pending.push(f);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }
    }
    for f in pending {
        f.await.unwrap().expect("acknowledged");
    }
}

// ---------------------------------------------------------------- one run

enum Sizes<'a> {
    Mini(&'a ClusterHandle),
    Real(&'a mut Admin),
}

impl Sizes<'_> {
    /// Bytes of each (topic, partition, broker) replica asked for.
    async fn of(&mut self, want: &[NewReplica]) -> BTreeMap<(String, i32, i32), u64> {
        match self {
            Sizes::Mini(c) => c.inspect(|s| {
                want.iter()
                    .map(|r| {
                        let size = s
                            .partition(&r.topic, r.partition)
                            .and_then(|p| p.logs.get(&r.broker))
                            .map_or(0, |l| l.log.size());
                        ((r.topic.clone(), r.partition, r.broker), size)
                    })
                    .collect()
            }),
            Sizes::Real(admin) => {
                let mut brokers: Vec<i32> = want.iter().map(|r| r.broker).collect();
                brokers.sort_unstable();
                brokers.dedup();
                let Ok(sizes) = admin.replica_sizes(&brokers).await else {
                    return BTreeMap::new();
                };
                want.iter()
                    .map(|r| {
                        let tp = TopicPartition {
                            topic: r.topic.clone(),
                            partition: r.partition,
                        };
                        let size = sizes
                            .get(&tp)
                            .and_then(|by| by.get(&r.broker).copied())
                            .unwrap_or(0);
                        ((r.topic.clone(), r.partition, r.broker), size)
                    })
                    .collect()
            }
        }
    }
}

/// Plans, dry-runs for the bound, runs variant `v` with a sampler of the
/// new replicas' sizes beside it, and measures.
async fn measure(
    d: &Path,
    bs: &str,
    v: Variant,
    rate: u64,
    plan_args: &[&str],
    mut sizes: Sizes<'_>,
) -> Measured {
    if d.exists() {
        std::fs::remove_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(d).unwrap();
    let plan = d.join("plan.json");
    let rollback = d.join("plan.rollback.json");
    let rate_s = rate.to_string();
    let out = Command::new(BIN)
        .args(["plan", "--bootstrap-server", bs, "-o"])
        .arg(&plan)
        .arg("--rollback")
        .arg(&rollback)
        .args(["--throttle", &rate_s])
        .args(plan_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The bound and the simulated makespan of this variant's schedule.
    let mut dry = Command::new(BIN);
    dry.arg("apply")
        .arg(&plan)
        .args(["--throttle", &rate_s, "--dry-run", "--output", "json"])
        .args(["--bootstrap-server", bs]);
    if v == Variant::AllAtOnce {
        dry.arg("--all-at-once");
    }
    let out = dry.output().unwrap();
    assert!(
        out.status.success(),
        "dry run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dryv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bound = dryv["estimate"]["bound_seconds"].as_f64().unwrap();
    let simulated = (v != Variant::KafkaTool)
        .then(|| dryv["estimate"]["seconds"].as_f64())
        .flatten();

    let want = new_replicas(&plan, &rollback, &mut sizes).await;
    let total: u64 = want.iter().map(|r| r.bytes).sum();
    eprintln!(
        "{}: {} partitions, {} new replicas, {} to copy, bound {bound:.1} s",
        v.name(),
        read_json(&plan)["partitions"].as_array().unwrap().len(),
        want.len(),
        human(total)
    );

    let seen = Arc::new(Mutex::new(Seen::default()));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let t0 = Instant::now();
    let every = match sizes {
        Sizes::Mini(_) => Duration::from_millis(100),
        Sizes::Real(_) => Duration::from_millis(250),
    };
    let sampler = {
        let seen = seen.clone();
        let want = want.clone();
        async move {
            loop {
                let now = sizes.of(&want).await;
                let copied: u64 = want
                    .iter()
                    .map(|r| {
                        now.get(&(r.topic.clone(), r.partition, r.broker))
                            .copied()
                            .unwrap_or(0)
                            .min(r.bytes)
                    })
                    .sum();
                let at = t0.elapsed().as_secs_f64();
                {
                    let mut s = seen.lock();
                    s.last_copied = s.last_copied.max(copied);
                    if copied > 0 && s.first_byte.is_none() {
                        s.first_byte = Some(at);
                    }
                    if copied >= total && s.all_copied.is_none() {
                        s.all_copied = Some(at);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop_rx.changed() => break,
                }
            }
        }
    };
    let runner = tokio::task::spawn_blocking({
        let plan = plan.clone();
        let bs = bs.to_string();
        move || match v {
            Variant::KafkaTool => run_kafka_tool(&plan, &bs, rate, t0),
            _ => run_apply(&plan, &bs, rate, v == Variant::AllAtOnce, t0),
        }
    });
    let (run, ()) = tokio::join!(
        async {
            let r = runner.await.unwrap();
            // One more sample after the end, then stop.
            tokio::time::sleep(every).await;
            stop_tx.send(true).unwrap();
            r
        },
        sampler
    );
    let seen = seen.lock().clone();
    Measured {
        variant: v,
        wall: run.wall,
        bound,
        simulated,
        submitted: run.submitted,
        polls: run.polls,
        bytes: total,
        note: run.note,
        seen,
    }
}

/// Every new replica of the plan with its partition's size now (the
/// leader's log before anything moves).
async fn new_replicas(plan: &Path, rollback: &Path, sizes: &mut Sizes<'_>) -> Vec<NewReplica> {
    let current: BTreeMap<(String, i32), Vec<i64>> = parts(&read_json(rollback));
    let target = parts(&read_json(plan));
    let mut want = Vec::new();
    for ((topic, partition), replicas) in &target {
        let cur = &current[&(topic.clone(), *partition)];
        for b in replicas.iter().filter(|b| !cur.contains(b)) {
            want.push(NewReplica {
                topic: topic.clone(),
                partition: *partition,
                broker: *b as i32,
                bytes: 0,
            });
        }
    }
    // The size of each partition is its first current replica's.
    let probe: Vec<NewReplica> = want
        .iter()
        .map(|r| NewReplica {
            broker: current[&(r.topic.clone(), r.partition)][0] as i32,
            ..r.clone()
        })
        .collect();
    let now = sizes.of(&probe).await;
    for (r, p) in want.iter_mut().zip(&probe) {
        r.bytes = now[&(p.topic.clone(), p.partition, p.broker)];
    }
    want
}

fn parts(v: &serde_json::Value) -> BTreeMap<(String, i32), Vec<i64>> {
    v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (
                    p["topic"].as_str().unwrap().to_string(),
                    p["partition"].as_i64().unwrap() as i32,
                ),
                p["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn repo_path(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

struct Run {
    wall: f64,
    submitted: Option<f64>,
    polls: usize,
    note: String,
}

/// `kafka-migrate apply PLAN --throttle RATE --output json`, its events
/// timestamped as they arrive.
fn run_apply(plan: &Path, bs: &str, rate: u64, all_at_once: bool, t0: Instant) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("apply")
        .arg(plan)
        .args(["--throttle", &rate.to_string(), "--output", "json"])
        .args(["--bootstrap-server", bs])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if all_at_once {
        cmd.arg("--all-at-once");
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut submitted = None;
    let mut polls = 0;
    let mut outcome = String::new();
    let mut finished_ms = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        let at = t0.elapsed().as_secs_f64();
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match e["event"].as_str() {
            Some("submitted") if submitted.is_none() => submitted = Some(at),
            Some("progress") => polls += 1,
            Some("finished") => {
                outcome = e["outcome"].as_str().unwrap_or("").to_string();
                finished_ms = e["elapsed_ms"].as_u64();
            }
            _ => {}
        }
    }
    let status = child.wait().unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        status.success() && outcome == "completed",
        "apply ended {status:?} ({outcome}): {stderr}"
    );
    Run {
        wall,
        submitted,
        polls,
        note: format!(
            "run's own clock {:.1} s",
            finished_ms.unwrap_or(0) as f64 / 1e3
        ),
    }
}

/// Kafka's tool: `--execute --throttle RATE`, then `--verify` once a
/// second until no partition is still in progress (that `--verify` also
/// clears the throttles).
fn run_kafka_tool(plan: &Path, bs: &str, rate: u64, t0: Instant) -> Run {
    let plan_s = plan.to_str().unwrap();
    let tool = |action: &str, more: &[&str]| {
        let out = Command::new("bash")
            .arg(repo_path("tests/kafka/cluster.sh"))
            .args([
                "tool",
                "kafka-reassign-partitions",
                "--bootstrap-server",
                bs,
            ])
            .args(["--reassignment-json-file", plan_s, action])
            .args(more)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kafka-reassign-partitions {action}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    tool("--execute", &["--throttle", &rate.to_string()]);
    let submitted = t0.elapsed().as_secs_f64();
    let mut polls = 0;
    let mut verify_secs = 0.0;
    loop {
        let t = Instant::now();
        let out = tool("--verify", &[]);
        verify_secs += t.elapsed().as_secs_f64();
        polls += 1;
        if !out.contains("still in progress") {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Run {
        wall: t0.elapsed().as_secs_f64(),
        submitted: Some(submitted),
        polls,
        note: format!(
            "--execute {submitted:.1} s; --verify {:.1} s each",
            verify_secs / polls as f64
        ),
    }
}
