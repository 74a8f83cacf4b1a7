//! The secured listeners of a real Kafka (`tests/kafka/cluster.sh start
//! --secure`): every live command over SASL_SSL/SCRAM-SHA-512, SSL with
//! client certificates and SASL_PLAINTEXT/PLAIN; the refusals as one line
//! naming the broker; the user without Alter told which ACL it lacks; no
//! password in any output.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kafka_migrate::kafka::admin::Admin;

use crate::support::{bin, repo, write};

/// The harness's test-only passwords: none may be printed.
const SECRETS: [&str; 3] = ["admin-Secr3t-pw", "limited-Secr3t-pw", "store-Secr3t-pw"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `cluster.sh props MODE`: the client properties file of a secured mode.
fn props(mode: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("tests/kafka/cluster.sh"))
        .args(["props", mode])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cluster.sh props {mode} (is the cluster started with --secure?): {}",
        text(&out.stderr)
    );
    PathBuf::from(text(&out.stdout).trim())
}

/// Runs the binary with `props`; every output is checked for the secrets.
fn km(props: &PathBuf, args: &[&str]) -> (Output, Duration) {
    let t0 = Instant::now();
    let out = bin()
        .args(args)
        .arg("--command-config")
        .arg(props)
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .env_remove("KAFKA_MIGRATE_COMMAND_CONFIG")
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for s in SECRETS {
        assert!(!all.contains(s), "a password was printed: {all}");
    }
    (out, t0.elapsed())
}

#[track_caller]
fn expect(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The one `error:` line of a failure with exit 3 within the timeout.
#[track_caller]
fn one_line_failure(props: &PathBuf, args: &[&str]) -> String {
    let (out, took) = km(props, args);
    expect(&out, 3, &args.join(" "));
    assert!(took < Duration::from_secs(15), "took {took:?}: {args:?}");
    let err = text(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_string()
}

/// A fresh two-partition topic on brokers 1 and 2, created over PLAINTEXT.
fn topic(prefix: &str) -> String {
    let name = format!(
        "{prefix}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let out = Command::new("bash")
            .arg(repo().join("tests/kafka/cluster.sh"))
            .arg("bootstrap")
            .output()
            .unwrap();
        let bs = text(&out.stdout).trim().to_string();
        let mut a = Admin::connect(&bs, Duration::from_secs(30)).await.unwrap();
        a.create_topic(&name, &[vec![1, 2], vec![2, 1]], &[])
            .await
            .unwrap();
        // Until both partitions have a leader.
        for _ in 0..100 {
            let s = a.survey().await.unwrap();
            let ready = s
                .cluster
                .topics
                .iter()
                .filter(|t| t.name == name)
                .flat_map(|t| t.partitions.iter())
                .filter(|p| p.leader.is_some())
                .count();
            if ready == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    name
}

/// Reads a properties file as the CLI does, into librdkafka's
/// properties, and its bootstrap.
fn rdkafka_properties(
    path: &PathBuf,
) -> (String, kafka_migrate::kafka::librdkafka::RdkafkaProperties) {
    use kafka_migrate::kafka::config::{ClientSettings, Sources, parse_command_config};
    struct Files;
    impl Sources for Files {
        fn env(&self, name: &str) -> Option<String> {
            std::env::var(name).ok()
        }
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
        }
    }
    let text = std::fs::read_to_string(path).unwrap();
    let config = parse_command_config(&text, &Files).unwrap();
    let bootstrap = config
        .bootstrap
        .as_ref()
        .expect("bootstrap.servers")
        .to_string();
    let settings = ClientSettings::resolve(None, &config);
    (
        bootstrap,
        kafka_migrate::kafka::librdkafka::properties(&settings),
    )
}

#[test]
#[ignore = "needs a real Kafka started with `tests/kafka/cluster.sh start --secure`; .ci/run runs it"]
fn real_kafka_secured_listeners_run_every_command_refuse_in_one_line_and_name_missing_acls() {
    let _one = crate::wire::real::one_at_a_time();
    let dir = tempfile::TempDir::new().unwrap();
    for mode in ["sasl-ssl", "ssl", "sasl-plaintext"] {
        let p = props(mode);
        let t = topic(&format!("sec-{mode}"));
        let (out, _) = km(&p, &["describe", "--output", "json"]);
        expect(&out, 0, &format!("{mode}: describe"));
        assert!(text(&out.stdout).contains(&t), "{mode}: {t} not described");
        let drafted = dir.path().join(format!("{mode}-drafted.json"));
        let (out, _) = km(
            &p,
            &[
                "plan",
                "--remove-brokers",
                "1",
                "-o",
                drafted.to_str().unwrap(),
            ],
        );
        expect(&out, 0, &format!("{mode}: plan --bootstrap-server"));
        let plan = write(
            dir.path(),
            &format!("{mode}.json"),
            &format!(
                r#"{{"version":1,"partitions":[{{"topic":"{t}","partition":0,"replicas":[3,4]}},{{"topic":"{t}","partition":1,"replicas":[4,3]}}]}}"#
            ),
        );
        let plan = plan.to_str().unwrap();
        let (out, _) = km(
            &p,
            &[
                "apply",
                plan,
                "--throttle",
                "10MB/s",
                "--no-progress",
                "--output",
                "json",
            ],
        );
        expect(&out, 0, &format!("{mode}: apply"));
        let last = text(&out.stdout);
        assert!(
            last.lines().last().unwrap_or("").contains("\"completed\""),
            "{mode}: {last}"
        );
        let (out, _) = km(&p, &["verify", plan]);
        expect(&out, 0, &format!("{mode}: verify"));
        // Nothing is in flight: cancel says so and succeeds.
        let (out, _) = km(&p, &["cancel", plan]);
        expect(&out, 0, &format!("{mode}: cancel"));
    }

    // librdkafka over the same properties: a producer and a consumer on
    // the SASL_SSL and the mTLS listeners, nothing lost.
    for mode in ["sasl-ssl", "ssl"] {
        let p = props(mode);
        let t = topic(&format!("rdk-{mode}"));
        let (bootstrap, rdkafka) = rdkafka_properties(&p);
        let w = kafka_migrate::demo::workload::Workload::start(&bootstrap, &rdkafka, &t, 200)
            .unwrap_or_else(|e| panic!("{mode}: producer: {e}"));
        std::thread::sleep(Duration::from_secs(2));
        let (ledger, stopped) = w.stop(Duration::from_secs(30));
        stopped.unwrap_or_else(|e| panic!("{mode}: producer: {e}"));
        let read = kafka_migrate::demo::workload::consume(
            &bootstrap,
            &rdkafka,
            &t,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{mode}: consumer: {e}"));
        let c = read.counts(&ledger);
        assert!(c.acknowledged > 0, "{mode}: {c}");
        assert!(c.is_clean(), "{mode}: {c}");
    }

    // The user allowed Describe only: describe works, apply is refused
    // with the ACL it lacks.
    for mode in ["sasl-ssl-limited", "ssl-limited"] {
        let p = props(mode);
        let t = topic(&format!("authz-{mode}"));
        let (out, _) = km(&p, &["describe"]);
        expect(&out, 0, &format!("{mode}: describe"));
        let plan = write(
            dir.path(),
            &format!("{mode}.json"),
            &format!(
                r#"{{"version":1,"partitions":[{{"topic":"{t}","partition":0,"replicas":[3,4]}}]}}"#
            ),
        );
        let e = one_line_failure(
            &p,
            &[
                "apply",
                plan.to_str().unwrap(),
                "--throttle",
                "1MB/s",
                "--no-progress",
                "--timeout",
                "10s",
            ],
        );
        assert!(e.contains("CLUSTER_AUTHORIZATION_FAILED"), "{e}");
        assert!(e.contains("needs AlterConfigs on the cluster"), "{e}");
    }

    // Refusals, one line each, naming the broker.
    let sasl_ssl = std::fs::read_to_string(props("sasl-ssl")).unwrap();
    let ssl = std::fs::read_to_string(props("ssl")).unwrap();
    let first = |text: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.starts_with("bootstrap.servers="))
            .unwrap();
        line["bootstrap.servers=".len()..]
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    let sasl_first = first(&sasl_ssl);
    let ssl_first = first(&ssl);
    let variant = |name: &str, from: &str, to: &str, base: &str| {
        assert!(base.contains(from), "{from} not in {base}");
        write(dir.path(), name, &base.replace(from, to))
    };
    let cases: Vec<(PathBuf, String, Vec<String>)> = vec![
        (
            variant(
                "wrong-pw.properties",
                "admin-Secr3t-pw",
                "admin-wrong",
                &sasl_ssl,
            ),
            sasl_first.clone(),
            vec![
                "SASL authentication".into(),
                "SASL_AUTHENTICATION_FAILED".into(),
            ],
        ),
        (
            variant(
                "no-user.properties",
                "username=\"admin\"",
                "username=\"nobody\"",
                &sasl_ssl,
            ),
            sasl_first.clone(),
            vec!["SASL authentication".into(), "\"nobody\"".into()],
        ),
        (
            // The SSL listener's client certificate left out.
            write(
                dir.path(),
                "no-cert.properties",
                &ssl.lines()
                    .filter(|l| !l.starts_with("ssl.keystore"))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>(),
            ),
            ssl_first.clone(),
            vec!["TLS handshake".into()],
        ),
    ];
    for (p, broker, want) in cases {
        let e = one_line_failure(
            &p,
            &["describe", "--bootstrap-server", &broker, "--timeout", "8s"],
        );
        assert!(e.contains(&broker), "{broker} not named: {e}");
        for w in want {
            assert!(e.contains(&w), "{w:?} not in {e}");
        }
    }
    // A CA that did not sign the brokers' certificates.
    let other = kafka_migrate::minibroker::tls::generate(&["localhost".into()]).unwrap();
    let other_ca = write(dir.path(), "other-ca.pem", &other.ca_pem);
    let ca_line = sasl_ssl
        .lines()
        .find(|l| l.starts_with("ssl.truststore.location="))
        .unwrap()
        .to_string();
    let wrong_ca = variant(
        "wrong-ca.properties",
        &ca_line,
        &format!("ssl.truststore.location={}", other_ca.display()),
        &sasl_ssl,
    );
    let e = one_line_failure(
        &wrong_ca,
        &[
            "describe",
            "--bootstrap-server",
            &sasl_first,
            "--timeout",
            "8s",
        ],
    );
    assert!(
        e.contains(&sasl_first) && e.contains("not signed by a CA in the truststore"),
        "{e}"
    );
    // TLS to the PLAINTEXT listener, and plaintext to the SASL_SSL one.
    let plain_port: u16 = sasl_first
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap()
        - 10;
    let plain_first = format!("127.0.0.1:{plain_port}");
    let e = one_line_failure(
        &props("sasl-ssl"),
        &[
            "describe",
            "--bootstrap-server",
            &plain_first,
            "--timeout",
            "8s",
        ],
    );
    assert!(
        e.contains(&plain_first) && e.contains("PLAINTEXT listener"),
        "{e}"
    );
    let bare = write(
        dir.path(),
        "plain.properties",
        "security.protocol=PLAINTEXT\n",
    );
    let e = one_line_failure(
        &bare,
        &[
            "describe",
            "--bootstrap-server",
            &sasl_first,
            "--timeout",
            "8s",
        ],
    );
    assert!(e.contains(&sasl_first), "{e}");
}
