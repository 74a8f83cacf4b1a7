//! Mini-broker figures for the README (`cargo bench --bench minibroker`,
//! or `cargo bench --bench minibroker -- connect` for the connection
//! setup figures alone): cluster start-up time, the wire client's
//! connection setup in plaintext and TLS, rdkafka produce throughput on
//! loopback, and the throttled replication copy rate against the
//! configured rate. `-- produce` runs only the produce figures, with and
//! without `--data-dir` (in a temporary dir under the system's temp dir).
//! Each figure is printed as `name: value`; nothing is asserted here (the
//! tests assert behaviour, this measures it).

// Tests and benchmarks stage files, open sockets and print figures: the
// fences of clippy.toml are for the product.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use kafka_migrate::kafka::Connection;
use kafka_migrate::minibroker::segment::FlushPolicy;
use kafka_migrate::minibroker::{Cluster, ClusterConfig, TopicSpec};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn ready_time() {
    let mut times = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        let c = Cluster::start(ClusterConfig {
            brokers: 5,
            racks: 3,
            topics: vec!["orders:12:3".parse::<TopicSpec>().unwrap()],
            ..ClusterConfig::default()
        })
        .await
        .unwrap();
        for id in c.broker_ids() {
            let mut cl = connect(c.broker_addr(id).unwrap()).await.unwrap();
            cl.send_version(&ApiVersionsRequest::default(), 3)
                .await
                .unwrap();
        }
        times.push(t0.elapsed());
        c.shutdown().await;
    }
    times.sort();
    println!(
        "cluster_of_5_ready_median_ms: {:.2}",
        times[times.len() / 2].as_secs_f64() * 1e3
    );
    println!(
        "cluster_of_5_ready_max_ms: {:.2}",
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

async fn produce_throughput(acks: &str, rf: i16) {
    produce_throughput_with(acks, rf, None).await;
}

/// `flush`: None without a data dir, else the `--flush` policy of one.
async fn produce_throughput_with(acks: &str, rf: i16, flush: Option<FlushPolicy>) {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(ClusterConfig {
        data_dir: flush.map(|_| dir.path().to_path_buf()),
        flush: flush.unwrap_or_default(),
        brokers: 3,
        topics: vec![TopicSpec {
            name: "tp".into(),
            partitions: 6,
            replication_factor: rf,
        }],
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", c.bootstrap())
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("broker.address.family", "v4")
        .create()
        .unwrap();
    let payload = vec![7u8; 1024];
    let n = 200_000usize;
    let t0 = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let key = (i % 1000).to_string();
        loop {
            match producer.send_result(FutureRecord::to("tp").key(&key).payload(&payload)) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                // Queue full: let deliveries drain.
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
    for f in pending {
        f.await.unwrap().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let mb = (n * payload.len()) as f64 / 1e6;
    let data_dir = match flush {
        None => String::new(),
        Some(FlushPolicy::EveryBatch) => "_data_dir_flush_every_batch".into(),
        Some(FlushPolicy::Interval(d)) => {
            format!("_data_dir_flush_interval_{}ms", d.as_millis())
        }
    };
    println!(
        "rdkafka_produce_acks_{acks}_rf{rf}{data_dir}_MB_per_s: {:.1}",
        mb / secs
    );
    c.shutdown().await;
}

async fn throttled_copy_rate(rate: u64) {
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        topics: vec!["moving:1:1".parse::<TopicSpec>().unwrap()],
        fill_bytes: rate * 6,
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    let (leader, total) = c.inspect(|s| {
        let p = s.partition("moving", 0).unwrap();
        (p.leader, p.logs[&p.leader].log.size())
    });
    let target = c.broker_ids().into_iter().find(|b| *b != leader).unwrap();
    let via = |id| connect(c.broker_addr(id).unwrap());
    let set = |name: &str, kind: i8, configs: Vec<(&str, String)>| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(sb(name))
                .with_configs(
                    configs
                        .into_iter()
                        .map(|(k, v)| {
                            AlterableConfig::default()
                                .with_name(sb(k))
                                .with_config_operation(0)
                                .with_value(Some(sb(&v)))
                        })
                        .collect(),
                ),
        ])
    };
    via(leader)
        .await
        .unwrap()
        .send_version(
            &set(
                "moving",
                2,
                vec![(
                    "follower.replication.throttled.replicas",
                    format!("0:{target}"),
                )],
            ),
            1,
        )
        .await
        .unwrap();
    via(target)
        .await
        .unwrap()
        .send_version(
            &set(
                &target.to_string(),
                4,
                vec![("follower.replication.throttled.rate", rate.to_string())],
            ),
            1,
        )
        .await
        .unwrap();
    let req = AlterPartitionReassignmentsRequest::default().with_topics(vec![
        ReassignableTopic::default()
            .with_name(TopicName(sb("moving")))
            .with_partitions(vec![
                ReassignablePartition::default()
                    .with_partition_index(0)
                    .with_replicas(Some(vec![BrokerId(leader), BrokerId(target)])),
            ]),
    ]);
    via(leader)
        .await
        .unwrap()
        .send_version(&req, 0)
        .await
        .unwrap();
    let size = || {
        c.inspect(|s| {
            s.partition("moving", 0)
                .unwrap()
                .logs
                .get(&target)
                .map_or(0, |r| r.log.size())
        })
    };
    // Measure over the middle of the move (1 s in, for 4 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (s0, t0) = (size(), Instant::now());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (s1, secs) = (size(), t0.elapsed().as_secs_f64());
    let measured = (s1 - s0) as f64 / secs;
    println!("throttle_set_B_per_s: {rate}");
    println!(
        "throttle_measured_B_per_s: {measured:.0} ({:+.1}%) moving {total} B",
        (measured / rate as f64 - 1.0) * 100.0
    );
    c.shutdown().await;
}

/// One connection's setup (TCP connect, TLS handshake if any, the
/// ApiVersions exchange every connection starts with, SASL/PLAIN or
/// SCRAM-SHA-512 if any), plaintext against TLS against SASL_SSL, on
/// loopback: the handshakes'
/// cost per broker connection.
async fn connection_setup() {
    use kafka_migrate::kafka::ClientSettings;
    use kafka_migrate::kafka::config::{
        SaslMechanism, SaslSettings, Secret, TlsSettings, TrustRoots,
    };
    use kafka_migrate::kafka::scram::ScramHash;
    use kafka_migrate::minibroker::config::SaslUsers;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    for (name, tls, sasl) in [
        ("plaintext", false, None),
        ("tls", true, None),
        ("sasl_ssl_plain", true, Some(SaslMechanism::Plain)),
        ("sasl_ssl_scram512", true, Some(SaslMechanism::ScramSha512)),
    ] {
        let c = Cluster::start(ClusterConfig {
            brokers: 1,
            tls: tls.then(Vec::new),
            sasl: sasl.map(|m| {
                let mut u = SaslUsers::default();
                match m {
                    SaslMechanism::Plain => u.add("bench", "bench-pw"),
                    _ => u.add_scram(ScramHash::Sha512, "bench", "bench-pw"),
                }
                u
            }),
            ..ClusterConfig::default()
        })
        .await
        .unwrap();
        let mut settings = ClientSettings::with_timeout(Duration::from_secs(10));
        settings.tls = c.tls().map(|t| TlsSettings {
            roots: TrustRoots::Pem {
                certs: CertificateDer::pem_slice_iter(t.ca_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .unwrap(),
                from: "bench".into(),
            },
            verify_hostname: true,
            identity: None,
        });
        settings.sasl = sasl.map(|mechanism| SaslSettings {
            mechanism,
            username: "bench".into(),
            password: Secret::new("bench-pw"),
        });
        let addr = c.broker_addr(1).unwrap().to_string();
        let mut times = Vec::new();
        for _ in 0..300 {
            let t0 = Instant::now();
            let conn = Connection::open(&addr, &settings).await.unwrap();
            times.push(t0.elapsed());
            drop(conn);
        }
        times.sort();
        println!(
            "connection_setup_{name}_median_ms: {:.3}",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
        println!(
            "connection_setup_{name}_p99_ms: {:.3}",
            times[times.len() * 99 / 100].as_secs_f64() * 1e3
        );
        c.shutdown().await;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::args().any(|a| a == "produce") {
        rt.block_on(async {
            for acks in ["1", "all"] {
                let rf = if acks == "1" { 1 } else { 3 };
                produce_throughput_with(acks, rf, None).await;
                produce_throughput_with(acks, rf, Some(FlushPolicy::default())).await;
            }
            produce_throughput_with("all", 3, Some(FlushPolicy::EveryBatch)).await;
        });
        return;
    }
    if std::env::args().any(|a| a == "connect") {
        rt.block_on(connection_setup());
        return;
    }
    rt.block_on(async {
        ready_time().await;
        connection_setup().await;
        produce_throughput("1", 1).await;
        produce_throughput("all", 3).await;
        throttled_copy_rate(1_000_000).await;
        throttled_copy_rate(10_000_000).await;
    });
}

/// The wire client's connection to one broker.
async fn connect(
    addr: std::net::SocketAddr,
) -> Result<Connection, kafka_migrate::kafka::KafkaError> {
    Connection::connect(&addr.to_string(), Duration::from_secs(30)).await
}
