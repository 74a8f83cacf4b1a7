//! Secured clusters against the mini-broker: the live commands over TLS,
//! mTLS, SASL_PLAINTEXT and SASL_SSL (PLAIN, SCRAM) (in-process, and
//! `mini-broker --tls` as a process), every failure as one line naming the
//! address and the cause with exit 3, and no secret in any output. The
//! same against a secured real Kafka: `secure_real.rs`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use kafka_migrate::minibroker::tls::TlsOptions;
use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use tempfile::TempDir;

use crate::support::{bin, write};

/// A value that must never be printed: the truststore password of every
/// properties file here (PEM does not use it; Kafka's tools accept it),
/// and the SASL user's password.
const SECRET: &str = "Tru5t-ST0RE-pa55";

/// An in-process cluster whose listeners serve TLS (or plaintext), the
/// CA in a file and a client properties file that trusts it.
struct Secured {
    rt: tokio::runtime::Runtime,
    cluster: Option<ClusterHandle>,
    dir: TempDir,
}

impl Secured {
    /// `tls`: the names the broker certificate holds (empty: 127.0.0.1
    /// and localhost); None: plaintext listeners.
    fn start(tls: Option<&[&str]>) -> Secured {
        Self::start_with(tls, false)
    }

    /// As `start`, and with `sasl` SASL/PLAIN required for user `admin`
    /// whose password is the secret.
    fn start_with(tls: Option<&[&str]>, sasl: bool) -> Secured {
        Self::start_with_users(
            tls,
            sasl.then(|| {
                let mut users = kafka_migrate::minibroker::config::SaslUsers::default();
                users.add("admin", SECRET);
                users
            }),
        )
    }

    /// As `start`, with these SASL users.
    fn start_with_users(
        tls: Option<&[&str]>,
        sasl: Option<kafka_migrate::minibroker::config::SaslUsers>,
    ) -> Secured {
        Self::start_full(tls, sasl, TlsOptions::default())
    }

    /// As `start_with_users`, the certificates made as `options` say.
    fn start_full(
        tls: Option<&[&str]>,
        sasl: Option<kafka_migrate::minibroker::config::SaslUsers>,
        tls_options: TlsOptions,
    ) -> Secured {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = rt
            .block_on(Cluster::start(ClusterConfig {
                brokers: 4,
                topics: vec!["orders:4:2".parse::<TopicSpec>().unwrap()],
                fill_bytes: 2_000_000,
                tls: tls.map(|names| names.iter().map(|n| n.to_string()).collect()),
                sasl,
                tls_options,
                ..ClusterConfig::default()
            }))
            .expect("cluster starts");
        let dir = TempDir::new().unwrap();
        if let Some(t) = cluster.tls() {
            write(dir.path(), "ca.pem", &t.ca_pem);
        }
        Secured {
            rt,
            cluster: Some(cluster),
            dir,
        }
    }

    fn handle(&self) -> &ClusterHandle {
        self.cluster.as_ref().unwrap()
    }

    fn bootstrap(&self) -> String {
        self.handle().bootstrap()
    }

    /// A client properties file: SSL, this cluster's CA (or `ca`), the
    /// secret as truststore password, then `extra` lines.
    fn props(&self, name: &str, ca: Option<&Path>, extra: &str) -> PathBuf {
        let ca = ca
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.path().join("ca.pem"));
        write(
            self.dir.path(),
            name,
            &format!(
                "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\nssl.truststore.password={SECRET}\n{extra}",
                ca.display()
            ),
        )
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            self.rt.block_on(c.shutdown());
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the binary; every output is checked for the secret.
fn km(args: &[&str]) -> Output {
    let out = bin()
        .args(args)
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .env_remove("KAFKA_MIGRATE_COMMAND_CONFIG")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(SECRET), "the secret was printed: {all}");
    out
}

#[track_caller]
fn expect_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A failure: exit 3, within the timeout, one `error:` line that holds
/// every `want`.
#[track_caller]
fn expect_one_line_failure(args: &[&str], want: &[&str]) {
    let t0 = Instant::now();
    let out = km(args);
    let took = t0.elapsed();
    expect_exit(&out, 3, &args.join(" "));
    assert!(took < Duration::from_secs(8), "took {took:?}: {args:?}");
    let err = text(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    for w in want {
        assert!(errors[0].contains(w), "{w:?} not in {}", errors[0]);
    }
}

#[test]
fn describe_plan_apply_and_verify_run_over_tls() {
    let c = Secured::start(Some(&[]));
    let props = c.props("client.properties", None, "");
    let props = props.to_str().unwrap();
    let bs = c.bootstrap();
    let out = km(&[
        "describe",
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
        "--output",
        "json",
    ]);
    expect_exit(&out, 0, "describe");
    let snapshot: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        snapshot["snapshot"]["topics"][0]["name"], "orders",
        "{snapshot}"
    );
    assert_eq!(snapshot["brokers"].as_array().unwrap().len(), 4);

    let plan = c.dir.path().join("drain4.json");
    let plan = plan.to_str().unwrap();
    let out = km(&[
        "plan",
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
        "--remove-brokers",
        "4",
        "-o",
        plan,
    ]);
    expect_exit(&out, 0, "plan --bootstrap-server");
    let moved: serde_json::Value = serde_json::from_slice(&std::fs::read(plan).unwrap()).unwrap();
    assert!(
        !moved["partitions"].as_array().unwrap().is_empty(),
        "{moved}"
    );

    let out = km(&[
        "apply",
        plan,
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
        "--throttle",
        "2MB/s",
        "--output",
        "json",
    ]);
    expect_exit(&out, 0, "apply");
    let report: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(report["outcome"], "completed", "{report}");
    let kinds = text(&out.stdout);
    assert!(kinds.contains("\"throttle_changed\""), "{kinds}");
    // Broker 4 holds nothing now, in the cluster itself.
    let on_4 = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&4))
            .count()
    });
    assert_eq!(on_4, 0);

    let out = km(&[
        "verify",
        plan,
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
    ]);
    expect_exit(&out, 0, "verify");
    assert!(
        text(&out.stdout).contains("0 in progress"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_ca_that_did_not_sign_the_broker_is_refused_in_one_line() {
    let c = Secured::start(Some(&[]));
    let other = kafka_migrate::minibroker::tls::generate(&["localhost".into()]).unwrap();
    let other_ca = write(c.dir.path(), "other-ca.pem", &other.ca_pem);
    let props = c.props("wrong-ca.properties", Some(&other_ca), "");
    let first = c.bootstrap().split(',').next().unwrap().to_string();
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            props.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("TLS handshake with {first} failed"),
            "the broker's certificate is not signed by a CA in the truststore",
            "other-ca.pem",
        ],
    );
}

#[test]
fn hostname_verification_fails_on_a_name_not_in_the_certificate_unless_disabled() {
    // The certificate names kafka.invalid only; the client connects to
    // 127.0.0.1.
    let c = Secured::start(Some(&["kafka.invalid"]));
    let bs = c.bootstrap();
    let first = bs.split(',').next().unwrap().to_string();
    let props = c.props("verify.properties", None, "");
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            props.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("TLS handshake with {first} failed"),
            "not valid for 127.0.0.1",
            "ssl.endpoint.identification.algorithm=",
        ],
    );
    // Kafka's empty algorithm: the chain is still checked, the name not.
    let props = c.props(
        "no-hostname.properties",
        None,
        "ssl.endpoint.identification.algorithm=\n",
    );
    let out = km(&[
        "describe",
        "--bootstrap-server",
        &bs,
        "--command-config",
        props.to_str().unwrap(),
        "--output",
        "json",
    ]);
    expect_exit(&out, 0, "describe without hostname verification");
    assert!(
        text(&out.stdout).contains("\"orders\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn plaintext_and_tls_on_the_wrong_listener_fail_in_one_line() {
    // A plaintext client on a TLS listener: the broker's TLS alert is
    // recognised.
    let tls = Secured::start(Some(&[]));
    let first = tls.bootstrap().split(',').next().unwrap().to_string();
    expect_one_line_failure(
        &["describe", "--bootstrap-server", &first, "--timeout", "5s"],
        &[&first, "TLS", "security.protocol=SSL"],
    );
    // A TLS client on a plaintext listener: the broker drops the
    // ClientHello as an oversized frame.
    let plain = Secured::start(None);
    let first = plain.bootstrap().split(',').next().unwrap().to_string();
    let props = plain.props(
        "tls-to-plain.properties",
        Some(&tls.dir.path().join("ca.pem")),
        "",
    );
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            props.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("TLS handshake with {first} failed"),
            "is it a PLAINTEXT listener?",
        ],
    );
}

#[test]
fn mini_broker_tls_writes_its_ca_and_client_properties_that_work() {
    /// Kills the mini-broker if the test fails before it quits.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = TempDir::new().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .args(["mini-broker", "--tls", "--tls-dir"])
        .arg(dir.path())
        .args(["--broker-count", "3", "--topic", "t:3:2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut head: Vec<String> = Vec::new();
    for _ in 0..3 {
        head.push(lines.next().unwrap().unwrap());
    }
    let canon = std::fs::canonicalize(dir.path()).unwrap();
    let ca = canon.join("tls-ca.pem");
    let props = canon.join("client-ssl.properties");
    assert!(head[0].starts_with("bootstrap: 127.0.0.1:"), "{head:?}");
    assert_eq!(head[1], format!("tls ca: {}", ca.display()));
    assert_eq!(head[2], format!("client properties: {}", props.display()));
    let written = std::fs::read_to_string(&props).unwrap();
    for line in [
        "security.protocol=SSL",
        "ssl.truststore.type=PEM",
        &format!("ssl.truststore.location={}", ca.display()),
        &format!("bootstrap.servers={}", &head[0]["bootstrap: ".len()..]),
    ] {
        assert!(
            written.lines().any(|l| l == line),
            "{line} not in:\n{written}"
        );
    }
    // The properties alone reach the cluster: bootstrap and TLS.
    let out = km(&[
        "describe",
        "--command-config",
        props.to_str().unwrap(),
        "--output",
        "json",
    ]);
    expect_exit(&out, 0, "describe with the printed properties");
    let described: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        described["snapshot"]["topics"][0]["name"], "t",
        "{described}"
    );
    child
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"quit\n")
        .unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// SASL/PLAIN lines for user `admin`, the password given by `password`
/// (a literal or a `${env:...}` reference).
fn plain_jaas(password: &str) -> String {
    format!(
        "sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"{password}\";\n"
    )
}

/// Runs the binary with `KM_TEST_PW` holding the secret.
fn km_env(args: &[&str]) -> Output {
    let out = bin()
        .args(args)
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .env_remove("KAFKA_MIGRATE_COMMAND_CONFIG")
        .env("KM_TEST_PW", SECRET)
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(SECRET), "the secret was printed: {all}");
    out
}

#[test]
fn sasl_plain_over_tls_runs_describe_plan_apply_and_verify() {
    let c = Secured::start_with(Some(&[]), true);
    // The password from the environment, as Kafka's EnvVarConfigProvider.
    let props = write(
        c.dir.path(),
        "sasl-ssl.properties",
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.location={}\n{}",
            c.dir.path().join("ca.pem").display(),
            plain_jaas("${env:KM_TEST_PW}")
        ),
    );
    let props = props.to_str().unwrap();
    let bs = c.bootstrap();
    let plan = c.dir.path().join("drain1.json");
    let plan = plan.to_str().unwrap();
    for (args, what) in [
        (vec!["describe", "--output", "json"], "describe"),
        (vec!["plan", "--remove-brokers", "1", "-o", plan], "plan"),
        (
            vec!["apply", plan, "--throttle", "4MB/s", "--no-progress"],
            "apply",
        ),
        (vec!["verify", plan], "verify"),
    ] {
        let mut args = args;
        args.extend(["--bootstrap-server", &bs, "--command-config", props]);
        let out = km_env(&args);
        expect_exit(&out, 0, what);
    }
    let on_1 = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&1))
            .count()
    });
    assert_eq!(on_1, 0);
}

#[test]
fn sasl_failures_name_the_broker_and_the_cause_without_the_password() {
    let c = Secured::start_with(None, true);
    let first = c.bootstrap().split(',').next().unwrap().to_string();
    let ok = write(
        c.dir.path(),
        "ok.properties",
        &format!("security.protocol=SASL_PLAINTEXT\n{}", plain_jaas(SECRET)),
    );
    let out = km_env(&[
        "describe",
        "--bootstrap-server",
        &first,
        "--command-config",
        ok.to_str().unwrap(),
    ]);
    expect_exit(&out, 0, "SASL_PLAINTEXT describe");
    let wrong = write(
        c.dir.path(),
        "wrong.properties",
        &format!(
            "security.protocol=SASL_PLAINTEXT\n{}",
            plain_jaas(&format!("{SECRET}-not"))
        ),
    );
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            wrong.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("SASL authentication with {first} failed"),
            "user \"admin\"",
            "SASL_AUTHENTICATION_FAILED",
        ],
    );
    // A client without SASL on a SASL listener: closed after ApiVersions,
    // as Kafka does, retried within the timeout, and the likely cause said.
    let t0 = Instant::now();
    let out = km_env(&["describe", "--bootstrap-server", &first, "--timeout", "2s"]);
    expect_exit(&out, 3, "no SASL on a SASL listener");
    assert!(t0.elapsed() < Duration::from_secs(8));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{first} closed the connection without answering Metadata (the first request after connecting: does the listener require SASL?"
        )),
        "{err}"
    );
    // A SASL client on a listener that does not authenticate.
    let plain = Secured::start(None);
    let first = plain.bootstrap().split(',').next().unwrap().to_string();
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            ok.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("SASL authentication with {first} failed"),
            "the listener does not authenticate",
        ],
    );
}

/// SCRAM lines for `user` with `password`, as Kafka's ScramLoginModule.
fn scram_jaas(mechanism: &str, user: &str, password: &str) -> String {
    format!(
        "sasl.mechanism={mechanism}\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{password}\";\n"
    )
}

#[test]
fn scram_sha_512_over_tls_against_the_mini_broker_process() {
    /// Kills the mini-broker if the test fails before it quits.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = TempDir::new().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .args(["mini-broker", "--tls", "--tls-dir"])
        .arg(dir.path())
        .args(["--broker-count", "4", "--topic", "orders:4:2"])
        .args(["--fill", "2MB"])
        .arg(format!("--sasl=scram-sha-512:admin:{SECRET}"))
        .arg(format!("--sasl=scram-sha-256:a=b,c:{SECRET}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let head: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    assert!(head.iter().all(|l| !l.contains(SECRET)), "{head:?}");
    let bs = head[0]
        .strip_prefix("bootstrap: ")
        .unwrap_or_else(|| panic!("{head:?}"))
        .to_string();
    let first = bs.split(',').next().unwrap().to_string();
    let ca = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("tls-ca.pem");
    let props_for = |name: &str, jaas: String| {
        write(
            dir.path(),
            name,
            &format!(
                "security.protocol=SASL_SSL\nssl.truststore.location={}\n{jaas}",
                ca.display()
            ),
        )
    };
    let ok = props_for(
        "scram.properties",
        scram_jaas("SCRAM-SHA-512", "admin", "${env:KM_TEST_PW}"),
    );
    let ok = ok.to_str().unwrap();
    let plan = dir.path().join("drain1.json");
    let plan = plan.to_str().unwrap();
    for (args, what) in [
        (vec!["describe", "--output", "json"], "describe"),
        (vec!["plan", "--remove-brokers", "1", "-o", plan], "plan"),
        (
            vec!["apply", plan, "--throttle", "4MB/s", "--no-progress"],
            "apply",
        ),
        (vec!["verify", plan], "verify"),
    ] {
        let mut args = args;
        args.extend(["--bootstrap-server", &bs, "--command-config", ok]);
        let out = km_env(&args);
        expect_exit(&out, 0, what);
        if what == "describe" {
            let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(d["snapshot"]["topics"][0]["name"], "orders", "{d}");
        }
    }
    // The plan moved everything off broker 1: a fresh plan has nothing to do.
    let out = km_env(&[
        "describe",
        "--output",
        "json",
        "--bootstrap-server",
        &bs,
        "--command-config",
        ok,
    ]);
    expect_exit(&out, 0, "describe after the drain");
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let partitions = d["snapshot"]["topics"][0]["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 4, "{d}");
    let on_1 = partitions
        .iter()
        .filter(|p| p["replicas"].as_array().unwrap().contains(&1.into()))
        .count();
    assert_eq!(on_1, 0, "{d}");
    // A user name with = and , (escaped on the wire) under SHA-256.
    let escaped = props_for(
        "escaped.properties",
        scram_jaas("SCRAM-SHA-256", "a=b,c", SECRET),
    );
    let out = km_env(&[
        "describe",
        "--bootstrap-server",
        &first,
        "--command-config",
        escaped.to_str().unwrap(),
    ]);
    expect_exit(&out, 0, "SCRAM-SHA-256 with an escaped user name");
    // Wrong password, unknown user, and a mechanism the user lacks: one
    // line, exit 3, the broker and the user named, the password never.
    for (name, jaas, user) in [
        (
            "wrong.properties",
            scram_jaas("SCRAM-SHA-512", "admin", &format!("{SECRET}-not")),
            "admin",
        ),
        (
            "nobody.properties",
            scram_jaas("SCRAM-SHA-512", "nobody", SECRET),
            "nobody",
        ),
        (
            "other-hash.properties",
            scram_jaas("SCRAM-SHA-256", "admin", SECRET),
            "admin",
        ),
    ] {
        let f = props_for(name, jaas);
        expect_one_line_failure(
            &[
                "describe",
                "--bootstrap-server",
                &first,
                "--command-config",
                f.to_str().unwrap(),
                "--timeout",
                "5s",
            ],
            &[
                &format!("SASL authentication with {first} failed"),
                &format!("user {user:?}"),
                "SASL_AUTHENTICATION_FAILED",
                "invalid credentials",
            ],
        );
    }
    child
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"quit\n")
        .unwrap();
    let out = child.0.wait().unwrap();
    assert!(out.success(), "{out:?}");
    let mut rest = String::new();
    for l in lines {
        rest.push_str(&l.unwrap());
    }
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut rest).unwrap();
    assert!(
        !rest.contains(SECRET),
        "the mini-broker printed the secret: {rest}"
    );
}

/// Runs one of Kafka's tools through the harness; returns its output.
fn kafka_tool(name: &str, args: &[&str]) -> Output {
    let harness = crate::support::repo().join("tests/kafka/cluster.sh");
    let out = std::process::Command::new("bash")
        .arg(harness)
        .arg("tool")
        .arg(name)
        .args(args)
        .output()
        .expect("bash runs the harness");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(SECRET), "{name} printed the secret: {all}");
    out
}

#[test]
#[ignore = "needs Java for Kafka's tools; .ci/run runs it"]
fn kafkas_reassign_tool_runs_over_sasl_ssl_against_the_mini_broker() {
    reassign_tool_over_sasl_ssl(Secured::start_with(Some(&[]), true), &plain_jaas(SECRET));
}

#[test]
#[ignore = "needs Java for Kafka's tools; .ci/run runs it"]
fn kafkas_reassign_tool_runs_over_sasl_ssl_scram_against_the_mini_broker() {
    let mut users = kafka_migrate::minibroker::config::SaslUsers::default();
    users.add_scram(
        kafka_migrate::kafka::scram::ScramHash::Sha512,
        "admin",
        SECRET,
    );
    reassign_tool_over_sasl_ssl(
        Secured::start_with_users(Some(&[]), Some(users)),
        &scram_jaas("SCRAM-SHA-512", "admin", SECRET),
    );
}

/// Kafka's `kafka-reassign-partitions` executes and verifies a plan of
/// kafka-migrate's over SASL_SSL with the `jaas` lines, and kafka-migrate
/// verifies the result.
fn reassign_tool_over_sasl_ssl(c: Secured, jaas: &str) {
    let props = write(
        c.dir.path(),
        "java.properties",
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n{}",
            c.dir.path().join("ca.pem").display(),
            jaas
        ),
    );
    let props = props.to_str().unwrap();
    let bs = c.bootstrap();
    let plan = c.dir.path().join("drain2.json");
    let plan = plan.to_str().unwrap();
    let out = km_env(&[
        "plan",
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
        "--remove-brokers",
        "2",
        "-o",
        plan,
    ]);
    expect_exit(&out, 0, "plan");
    let common = [
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
        "--reassignment-json-file",
        plan,
    ];
    let mut execute = common.to_vec();
    execute.extend(["--execute", "--throttle", "4000000"]);
    let out = kafka_tool("kafka-reassign-partitions", &execute);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("Successfully started partition reassignment"),
        "{}",
        text(&out.stdout)
    );
    let mut verify = common.to_vec();
    verify.push("--verify");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kafka_tool("kafka-reassign-partitions", &verify);
        let said = text(&out.stdout);
        if out.status.success() && !said.contains("still in progress") {
            assert!(said.contains("is completed"), "{said}");
            break;
        }
        assert!(Instant::now() < deadline, "not done in 60 s: {said}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let on_2 = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&2))
            .count()
    });
    assert_eq!(on_2, 0);
    // kafka-migrate sees the same over the same listener.
    let out = km_env(&[
        "verify",
        plan,
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
    ]);
    expect_exit(&out, 0, "kafka-migrate verify of Kafka's run");
}

/// An mTLS cluster: listeners that require a client certificate signed by
/// their CA.
fn mtls_cluster() -> Secured {
    Secured::start_full(
        Some(&[]),
        None,
        TlsOptions {
            client_auth: true,
            expired_server: false,
        },
    )
}

/// Kafka's PEM keystore: the key, then its certificate, in one file.
fn pem_keystore(
    c: &Secured,
    name: &str,
    pem: &kafka_migrate::minibroker::tls::ClientPem,
) -> PathBuf {
    write(
        c.dir.path(),
        name,
        &format!("{}{}", pem.key_pem, pem.cert_pem),
    )
}

/// A PKCS12 store holding `pem`'s key and certificate, and one holding
/// only the CA, both sealed with the secret.
fn pkcs12_stores(
    c: &Secured,
    pem: &kafka_migrate::minibroker::tls::ClientPem,
) -> (PathBuf, PathBuf) {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use rustls_pki_types::pem::PemObject;
    let der = |text: &str| {
        rustls_pki_types::CertificateDer::from_pem_slice(text.as_bytes())
            .unwrap()
            .to_vec()
    };
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem.key_pem.as_bytes()).unwrap();
    let mut keystore = KeyStore::new();
    keystore.add_entry(
        "client",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            b"client".to_vec(),
            PrivateKey::from_der(key.secret_der()).unwrap(),
            [Certificate::from_der(&der(&pem.cert_pem)).unwrap()],
        )),
    );
    let mut truststore = KeyStore::new();
    truststore.add_entry(
        "ca",
        KeyStoreEntry::Certificate(
            Certificate::from_der(&der(&c.handle().tls().unwrap().ca_pem)).unwrap(),
        ),
    );
    let k = c.dir.path().join("client.p12");
    let t = c.dir.path().join("truststore.p12");
    std::fs::write(&k, keystore.writer(SECRET).write().unwrap()).unwrap();
    std::fs::write(&t, truststore.writer(SECRET).write().unwrap()).unwrap();
    (k, t)
}

#[test]
fn mtls_runs_describe_plan_apply_verify_and_cancel_with_pem_and_pkcs12_stores() {
    let c = mtls_cluster();
    let pem = c
        .handle()
        .tls()
        .unwrap()
        .client
        .clone()
        .expect("--mtls makes a client certificate");
    let keystore = pem_keystore(&c, "client.pem", &pem);
    let pem_props = c.props(
        "mtls-pem.properties",
        None,
        &format!(
            "ssl.keystore.type=PEM\nssl.keystore.location={}\n",
            keystore.display()
        ),
    );
    let (p12, trust12) = pkcs12_stores(&c, &pem);
    let p12_props = write(
        c.dir.path(),
        "mtls-p12.properties",
        &format!(
            "security.protocol=SSL\nssl.truststore.type=PKCS12\nssl.truststore.location={}\nssl.truststore.password={SECRET}\n\
             ssl.keystore.type=PKCS12\nssl.keystore.location={}\nssl.keystore.password={SECRET}\nssl.key.password={SECRET}\n",
            trust12.display(),
            p12.display()
        ),
    );
    let bs = c.bootstrap();
    let plan = c.dir.path().join("drain3.json");
    let plan = plan.to_str().unwrap();
    for props in [&pem_props, &p12_props] {
        let out = km(&[
            "describe",
            "--bootstrap-server",
            &bs,
            "--command-config",
            props.to_str().unwrap(),
            "--output",
            "json",
        ]);
        expect_exit(&out, 0, &format!("describe with {}", props.display()));
        let snapshot: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(snapshot["brokers"].as_array().unwrap().len(), 4);
    }
    let p12_props = p12_props.to_str().unwrap();
    let pem_props = pem_props.to_str().unwrap();
    let run = |args: &[&str], props: &str, what: &str| {
        let mut args = args.to_vec();
        args.extend(["--bootstrap-server", &bs, "--command-config", props]);
        let out = km(&args);
        expect_exit(&out, 0, what);
        out
    };
    run(
        &["plan", "--remove-brokers", "3", "-o", plan],
        p12_props,
        "plan",
    );
    // A throttle slow enough that the moves are still running when cancel
    // comes.
    run(
        &[
            "apply",
            plan,
            "--throttle",
            "10KB/s",
            "--no-wait",
            "--no-progress",
        ],
        pem_props,
        "apply --no-wait",
    );
    let moving = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| !p.adding.is_empty())
            .count()
    });
    assert!(moving > 0, "nothing in flight after apply --no-wait");
    run(&["cancel", plan], p12_props, "cancel");
    let moving = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| !p.adding.is_empty())
            .count()
    });
    assert_eq!(moving, 0);
    // A cancel keeps the replicas, not always their order (KIP-455): the
    // plan is stale by order only.
    run(
        &[
            "apply",
            plan,
            "--throttle",
            "4MB/s",
            "--no-progress",
            "--force",
        ],
        pem_props,
        "apply",
    );
    let out = run(&["verify", plan], p12_props, "verify");
    assert!(
        text(&out.stdout).contains("0 in progress"),
        "{}",
        text(&out.stdout)
    );
    let on_3 = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&3))
            .count()
    });
    assert_eq!(on_3, 0);
}

#[test]
fn mtls_refusals_are_one_line_naming_the_broker_and_the_cause() {
    let c = mtls_cluster();
    let first = c.bootstrap().split(',').next().unwrap().to_string();
    let describe = |props: &Path| {
        vec![
            "describe".to_string(),
            "--bootstrap-server".into(),
            first.clone(),
            "--command-config".into(),
            props.display().to_string(),
            "--timeout".into(),
            "5s".into(),
        ]
    };
    let check = |props: &Path, want: &[&str]| {
        let args = describe(props);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_one_line_failure(&args, want);
    };
    // No client certificate at all.
    let none = c.props("no-cert.properties", None, "");
    check(
        &none,
        &[
            &format!("TLS handshake with {first} failed"),
            "the broker requires a client certificate",
            "ssl.keystore.location",
        ],
    );
    // An expired one, signed by the right CA.
    let expired = c.handle().tls().unwrap().issue_client(true).unwrap();
    let ks = pem_keystore(&c, "expired.pem", &expired);
    let props = c.props(
        "expired.properties",
        None,
        &format!("ssl.keystore.location={}\n", ks.display()),
    );
    check(
        &props,
        &[
            &format!("TLS handshake with {first} failed"),
            &format!(
                "the broker refused the client certificate from {}: it has expired",
                ks.display()
            ),
        ],
    );
    // One from another CA.
    let other = kafka_migrate::minibroker::tls::generate_with(
        &["localhost".into()],
        TlsOptions {
            client_auth: true,
            expired_server: false,
        },
    )
    .unwrap();
    let ks = pem_keystore(&c, "stranger.pem", other.client.as_ref().unwrap());
    let props = c.props(
        "stranger.properties",
        None,
        &format!("ssl.keystore.location={}\n", ks.display()),
    );
    check(
        &props,
        &[
            &format!("TLS handshake with {first} failed"),
            "not signed by a CA the broker trusts",
        ],
    );
    // A PKCS12 keystore opened with the wrong password: refused before
    // connecting, exit 2, without the password.
    let pem = c.handle().tls().unwrap().client.clone().unwrap();
    let (p12, _) = pkcs12_stores(&c, &pem);
    let props = c.props(
        "wrong-pw.properties",
        None,
        &format!(
            "ssl.keystore.location={}\nssl.keystore.password=not-{SECRET}\n",
            p12.display()
        ),
    );
    let args = describe(&props);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = km(&args);
    expect_exit(&out, 2, "wrong keystore password");
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot open the PKCS12 store: wrong password (ssl.keystore.password)"),
        "{err}"
    );
}

#[test]
fn an_expired_broker_certificate_is_one_line() {
    let c = Secured::start_full(
        Some(&[]),
        None,
        TlsOptions {
            client_auth: false,
            expired_server: true,
        },
    );
    let first = c.bootstrap().split(',').next().unwrap().to_string();
    let props = c.props("client.properties", None, "");
    expect_one_line_failure(
        &[
            "describe",
            "--bootstrap-server",
            &first,
            "--command-config",
            props.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &[
            &format!("TLS handshake with {first} failed"),
            "the broker's certificate has expired",
        ],
    );
}

#[test]
fn mini_broker_mtls_writes_the_client_certificate_its_listeners_require() {
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = TempDir::new().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"))
        .args(["mini-broker", "--tls", "--mtls", "--tls-dir"])
        .arg(dir.path())
        .args(["--broker-count", "2", "--topic", "t:2:2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let head: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    let canon = std::fs::canonicalize(dir.path()).unwrap();
    let props = canon.join("client-ssl.properties");
    let client = canon.join("tls-client.pem");
    assert_eq!(head[2], format!("client properties: {}", props.display()));
    let written = std::fs::read_to_string(&props).unwrap();
    for line in [
        "ssl.keystore.type=PEM",
        &format!("ssl.keystore.location={}", client.display()),
    ] {
        assert!(
            written.lines().any(|l| l == line),
            "{line} not in:\n{written}"
        );
    }
    let key = std::fs::read_to_string(&client).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert!(key.contains("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&client).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is readable by others");
    }
    let out = km(&["describe", "--command-config", props.to_str().unwrap()]);
    expect_exit(&out, 0, "describe with the printed properties");
    // The same file without the keystore: refused by the listeners.
    let bare: String = written
        .lines()
        .filter(|l| !l.starts_with("ssl.keystore"))
        .map(|l| format!("{l}\n"))
        .collect();
    let bare = write(dir.path(), "bare.properties", &bare);
    expect_one_line_failure(
        &[
            "describe",
            "--command-config",
            bare.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
        &["the broker requires a client certificate"],
    );
    child
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"quit\n")
        .unwrap();
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn mini_broker_beyond_loopback_needs_tls_and_sasl_unless_told_otherwise() {
    // Refused before any listener opens: nothing binds beyond loopback.
    for (extra, missing) in [
        (&[][..], "needs --tls and --sasl"),
        (&["--tls"][..], "needs --sasl"),
        (&["--sasl", "plain:admin:x"][..], "needs --tls"),
    ] {
        let mut args = vec!["mini-broker", "--host", "0.0.0.0"];
        args.extend_from_slice(extra);
        let out = km(&args);
        expect_exit(&out, 2, &args.join(" "));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "--host 0.0.0.0: listening beyond loopback {missing}"
            )),
            "{err}"
        );
        assert!(err.contains("or --insecure-listen"), "{err}");
    }
}

#[test]
fn clients_reauthenticate_before_the_session_lifetime_ends() {
    // KIP-368: the mini-broker gives a 1 s session lifetime and closes a
    // connection that sends a request past it; a throttled apply lasting
    // several lifetimes must re-authenticate on its connections instead.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut users = kafka_migrate::minibroker::config::SaslUsers::default();
    users.add_user(
        &kafka_migrate::minibroker::config::parse_sasl_user(&format!(
            "scram-sha-512:admin:{SECRET}"
        ))
        .unwrap(),
    );
    let cluster = rt
        .block_on(Cluster::start(ClusterConfig {
            brokers: 4,
            topics: vec!["orders:4:2".parse::<TopicSpec>().unwrap()],
            fill_bytes: 2_000_000,
            tls: Some(vec![]),
            sasl: Some(users),
            sasl_session_lifetime: Some(Duration::from_millis(1000)),
            ..ClusterConfig::default()
        }))
        .expect("cluster starts");
    let dir = TempDir::new().unwrap();
    write(dir.path(), "ca.pem", &cluster.tls().unwrap().ca_pem);
    let c = Secured {
        rt,
        cluster: Some(cluster),
        dir,
    };
    let props = write(
        c.dir.path(),
        "scram.properties",
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.location={}\n{}",
            c.dir.path().join("ca.pem").display(),
            scram_jaas("SCRAM-SHA-512", "admin", SECRET)
        ),
    );
    let props = props.to_str().unwrap();
    let bs = c.bootstrap();
    let plan = c.dir.path().join("drain1.json");
    let plan = plan.to_str().unwrap();
    let out = km(&[
        "plan",
        "--remove-brokers",
        "1",
        "-o",
        plan,
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
    ]);
    expect_exit(&out, 0, "plan");
    let t0 = Instant::now();
    let out = km(&[
        "apply",
        plan,
        "--throttle",
        "300KB/s",
        "--no-progress",
        "--bootstrap-server",
        &bs,
        "--command-config",
        props,
    ]);
    expect_exit(&out, 0, "apply");
    let took = t0.elapsed();
    assert!(
        took > Duration::from_secs(2),
        "apply took only {took:?}: no lifetime passed"
    );
    let shared = c.handle().shared();
    let reauths = shared
        .reauthentications
        .load(std::sync::atomic::Ordering::Relaxed);
    let expired = shared
        .expired_sessions
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(reauths > 0, "no re-authentication in {took:?}");
    assert_eq!(expired, 0, "connections closed for an expired session");
}

/// The whole operator's cycle (describe, plan, a throttled apply left
/// running, cancel, apply again, verify) over one secured mode, the
/// password only in the environment and never in any output (`km_env`).
fn full_cycle(c: &Secured, props: &Path, drained: i32) {
    let props = props.to_str().unwrap();
    let bs = c.bootstrap();
    let plan = c.dir.path().join(format!("drain{drained}.json"));
    let plan = plan.to_str().unwrap();
    let drained_arg = drained.to_string();
    let run = |args: &[&str], what: &str| {
        let mut args = args.to_vec();
        args.extend(["--bootstrap-server", &bs, "--command-config", props]);
        let out = km_env(&args);
        expect_exit(&out, 0, what);
        out
    };
    let in_flight = || {
        c.handle().inspect(|s| {
            s.topics["orders"]
                .partitions
                .iter()
                .filter(|p| !p.adding.is_empty())
                .count()
        })
    };
    run(&["describe", "--output", "json"], "describe");
    run(
        &["plan", "--remove-brokers", &drained_arg, "-o", plan],
        "plan",
    );
    run(
        &[
            "apply",
            plan,
            "--throttle",
            "10KB/s",
            "--no-wait",
            "--no-progress",
        ],
        "apply --no-wait",
    );
    assert!(in_flight() > 0, "nothing in flight after apply --no-wait");
    run(&["cancel", plan], "cancel");
    assert_eq!(in_flight(), 0, "moves left after cancel");
    run(
        &[
            "apply",
            plan,
            "--throttle",
            "4MB/s",
            "--no-progress",
            "--force",
        ],
        "apply",
    );
    let out = run(&["verify", plan], "verify");
    assert!(
        text(&out.stdout).contains("0 in progress"),
        "{}",
        text(&out.stdout)
    );
    let left = c.handle().inspect(|s| {
        s.topics["orders"]
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&drained))
            .count()
    });
    assert_eq!(left, 0, "replicas left on broker {drained}");
}

#[test]
fn sasl_plaintext_plain_runs_the_whole_cycle_with_cancel() {
    let c = Secured::start_with(None, true);
    let props = write(
        c.dir.path(),
        "sasl-plaintext.properties",
        &format!(
            "security.protocol=SASL_PLAINTEXT\n{}",
            plain_jaas("${env:KM_TEST_PW}")
        ),
    );
    full_cycle(&c, &props, 2);
}

#[test]
fn sasl_ssl_scram_sha_512_runs_the_whole_cycle_with_cancel() {
    let mut users = kafka_migrate::minibroker::config::SaslUsers::default();
    users.add_scram(
        kafka_migrate::kafka::scram::ScramHash::Sha512,
        "admin",
        SECRET,
    );
    let c = Secured::start_with_users(Some(&[]), Some(users));
    let props = write(
        c.dir.path(),
        "sasl-ssl-scram.properties",
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.location={}\n{}",
            c.dir.path().join("ca.pem").display(),
            scram_jaas("SCRAM-SHA-512", "admin", "${env:KM_TEST_PW}")
        ),
    );
    full_cycle(&c, &props, 4);
}
