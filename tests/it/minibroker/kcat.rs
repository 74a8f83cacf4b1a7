//! kcat (Debian's `kcat` package, librdkafka's command-line client) against
//! the mini-broker: metadata listing and a produce/consume round trip.

use std::io::Write;
use std::process::{Command, Stdio};

fn kcat() -> Command {
    let found = Command::new("kcat")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "kcat not found on PATH; hint: apt-get install -y kcat (.ci/run installs it)"
    );
    Command::new("kcat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_lists_brokers_topics_and_leaders() {
    let c = super::start(3, 0, &["listed:4:2"]).await;
    let bootstrap = c.bootstrap();
    let out = tokio::task::spawn_blocking(move || {
        kcat()
            .args(["-b", &bootstrap, "-L", "-J"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let brokers: Vec<i64> = json["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(brokers.len(), 3);
    for id in 1..=3 {
        assert!(brokers.contains(&id), "broker {id} listed: {brokers:?}");
    }
    let topic = json["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "listed")
        .expect("topic listed");
    let parts = topic["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    for p in parts {
        let idx = p["partition"].as_i64().unwrap() as i32;
        let (leader, replicas, _) = super::placement(&c, "listed", idx).await;
        assert_eq!(p["leader"].as_i64().unwrap() as i32, leader);
        assert_eq!(p["replicas"].as_array().unwrap().len(), replicas.len());
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_produce_then_consume_round_trips() {
    let c = super::start(3, 0, &["kc:2:3"]).await;
    let bootstrap = c.bootstrap();
    let lines: Vec<String> = (0..500)
        .map(|i| format!("key{i}:value-{i}-{}", "x".repeat(i % 50)))
        .collect();
    let input = lines.join("\n") + "\n";
    let b = bootstrap.clone();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = kcat()
            .args(["-b", &b, "-P", "-t", "kc", "-K:", "-X", "acks=all"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let out = tokio::task::spawn_blocking(move || {
        kcat()
            .args([
                "-b", &bootstrap, "-C", "-t", "kc", "-e", "-q", "-f", "%k:%s\n",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut want = lines;
    got.sort();
    want.sort();
    assert_eq!(got, want);
    c.shutdown().await;
}
