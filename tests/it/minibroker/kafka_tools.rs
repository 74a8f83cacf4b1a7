//! Apache Kafka's own command-line tools (Java) against the mini-broker.
//! Environment-bound: runs only when `KM_KAFKA_CLASSPATH` names a classpath
//! holding the `kafka-tools` jars with their dependencies (e.g.
//! `target/kafka/lib/*` after `mvn dependency:copy-dependencies`, see
//! FIELD-GUIDE §7); otherwise it returns at once.

use std::process::Command;
use std::time::Duration;

use super::*;

fn tool(classpath: &str, main: &str, args: &[&str]) -> String {
    let out = Command::new("java")
        .args(["-Xmx256m", "-cp", classpath, main])
        .args(args)
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{main} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_reassign_tool_executes_verifies_and_clears_throttles() {
    let Ok(cp) = std::env::var("KM_KAFKA_CLASSPATH") else {
        eprintln!(
            "skipped: set KM_KAFKA_CLASSPATH to run Apache Kafka's tools against the mini-broker"
        );
        return;
    };
    let c = start(5, 3, &[]).await;
    create_topic(&c, "orders", &[&[1, 2, 3], &[2, 3, 4]]).await;
    let mut cl = client(&c, 1).await;
    for i in 0..20 {
        assert_eq!(
            produce(&mut cl, "orders", 0, batch(i * 50, 50, 200), -1)
                .await
                .0,
            0
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,5,3]}]}"#,
    )
    .unwrap();
    let bootstrap = c.bootstrap();
    let (cp2, b2, p2) = (cp.clone(), bootstrap.clone(), plan.display().to_string());
    let reassign = move |extra: &[&str]| {
        let mut args = vec![
            "--bootstrap-server",
            b2.as_str(),
            "--reassignment-json-file",
            p2.as_str(),
        ];
        args.extend_from_slice(extra);
        tool(
            &cp2,
            "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
            &args,
        )
    };
    let r = reassign.clone();
    let out = tokio::task::spawn_blocking(move || r(&["--execute", "--throttle", "50000"]))
        .await
        .unwrap();
    assert!(
        out.contains("Successfully started partition reassignment for orders-0"),
        "{out}"
    );
    let (cp3, b3) = (cp.clone(), bootstrap.clone());
    let listed = tokio::task::spawn_blocking(move || {
        tool(
            &cp3,
            "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
            &["--bootstrap-server", &b3, "--list"],
        )
    })
    .await
    .unwrap();
    assert!(
        listed.contains("orders-0: replicas: 4,5,3,1,2. adding: 4,5. removing: 1,2."),
        "{listed}"
    );
    // The tool set the throttle on every broker involved, each through its own connection.
    for b in [1, 2, 3, 4, 5] {
        let rate = c.inspect(|s| {
            s.brokers[&b]
                .configs
                .get("follower.replication.throttled.rate")
                .cloned()
        });
        assert_eq!(rate.as_deref(), Some("50000"), "broker {b}");
    }
    super::reassign::unthrottle(&c, &[1, 2, 3, 4, 5]).await;
    eventually(Duration::from_secs(10), "move completes", || async {
        super::reassign::ongoing(&c, 1).await.is_empty()
    })
    .await;
    let r = reassign.clone();
    let out = tokio::task::spawn_blocking(move || r(&["--verify"]))
        .await
        .unwrap();
    assert!(
        out.contains("Reassignment of partition orders-0 is completed"),
        "{out}"
    );
    assert!(
        out.contains("Clearing topic-level throttles on topic orders"),
        "{out}"
    );
    assert!(
        c.inspect(|s| s.topics["orders"].configs.is_empty()),
        "topic throttles cleared"
    );
    assert_eq!(placement(&c, "orders", 0).await.1, vec![4, 5, 3]);
    assert_eq!(latest_offset(&c, "orders", 0).await, 1000);
    c.shutdown().await;
}
