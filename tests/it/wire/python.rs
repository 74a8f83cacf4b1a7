//! kafka-python, the pure-Python client from PyPI, on either backend: a
//! `KafkaConsumer(group_id=...)` that reads what was produced and
//! commits, two members splitting a topic's partitions, and
//! `KafkaAdminClient.alter_configs` of `retention.ms`. The client runs in
//! `tests/tools/kafka_python.py`, under `KM_PYTHON` (the virtualenv
//! `.ci/run` installs kafka-python into); without kafka-python the script
//! fails, and so do these tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::groups::{blocking, committed, produce, topic, values};
use super::scenarios::{DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG, TOPIC_CONFIG_KEYS};
use super::{Backend, admin, unique};

/// `tests/tools/kafka_python.py ARGS` under `KM_PYTHON` (else `python3`).
fn script(args: &[&str]) -> Command {
    let python = std::env::var("KM_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(python);
    cmd.arg(crate::support::repo().join("tests/tools/kafka_python.py"))
        .args(args);
    cmd
}

/// A kafka-python group member running in its own process; it leaves the
/// group when its standard input closes.
struct Member {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl Member {
    fn start(bootstrap: &str, topic: &str, group: &str, client_id: &str) -> Member {
        let mut child = script(&["member", bootstrap, topic, group, client_id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("KM_PYTHON (or python3) runs");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let ev = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("kafka_python.py printed {line:?}: {e}"));
                ev.lock().unwrap().push(v);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let se = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            se.lock().unwrap().push_str(&s);
        });
        Member {
            name: client_id.to_string(),
            stdin: child.stdin.take(),
            child,
            events,
            stderr,
        }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// The partitions of its last assignment.
    fn assignment(&self) -> Option<BTreeSet<i64>> {
        self.events()
            .iter()
            .rev()
            .find(|e| e["event"] == "assigned")
            .map(|e| {
                e["partitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_i64().unwrap())
                    .collect()
            })
    }

    /// (partition, value) of every record it read, in order.
    fn records(&self) -> Vec<(i64, String)> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "record")
            .map(|e| {
                (
                    e["partition"].as_i64().unwrap(),
                    e["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Panics, with what Python said, if the process ended.
    fn check_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "{}: kafka_python.py exited ({status}) before it was told to:\n{}",
                self.name,
                self.stderr.lock().unwrap()
            );
        }
    }

    /// Closes its standard input and waits for a clean LeaveGroup and exit.
    fn stop(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{}: kafka_python.py did not close in 60 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader threads see the pipes' ends just after the exit.
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            status.success(),
            "{}: kafka_python.py failed ({status}):\n{}",
            self.name,
            self.stderr.lock().unwrap()
        );
        let events = self.events();
        assert_eq!(
            events.last().map(|e| e["event"].clone()),
            Some(Value::from("closed")),
            "{}: {events:?}",
            self.name
        );
        events
    }
}

/// Waits (up to `secs`) until `done` holds for the members; panics if one
/// of them exits meanwhile.
fn wait_members(
    members: &mut [&mut Member],
    what: &str,
    secs: u64,
    done: impl Fn(&[&mut Member]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if done(members) {
            return;
        }
        for m in members.iter_mut() {
            m.check_running();
        }
        let seen: Vec<(String, Option<BTreeSet<i64>>, usize)> = members
            .iter()
            .map(|m| (m.name.clone(), m.assignment(), m.records().len()))
            .collect();
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}: (member, assignment, records) {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sorted_values(records: &[(i64, String)]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(|(_, v)| v.clone()).collect();
    v.sort();
    v
}

fn high_watermarks(bootstrap: &str, topic: &str, partitions: i32) -> Vec<i64> {
    (0..partitions)
        .map(|p| super::rdk::high_watermark(bootstrap, topic, p))
        .collect()
}

/// A kafka-python group consumer reads every record once and commits
/// them; the group's next member starts after them and reads nothing.
pub async fn kafka_python_group_consumes_and_commits(b: &dyn Backend) {
    let (topic, _a) = topic(b, "km-py-group", 3).await;
    produce(b, &topic, 0, 30).await;
    let group = unique("km-py-group");
    let (bs, name) = (b.bootstrap(), b.name());
    blocking(move || {
        let mut m = Member::start(&bs, &topic, &group, "km-py-1");
        wait_members(&mut [&mut m], "30 records read and committed", 90, |m| {
            m[0].records().len() >= 30
                && m[0]
                    .events()
                    .last()
                    .is_some_and(|e| e["event"] == "committed")
        });
        let events = m.stop();
        assert!(
            !events.iter().any(|e| e["event"] == "commit-failed"),
            "{name}: {events:?}"
        );
        let got: Vec<(i64, String)> = events
            .iter()
            .filter(|e| e["event"] == "record")
            .map(|e| {
                (
                    e["partition"].as_i64().unwrap(),
                    e["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            sorted_values(&got),
            values(0, 30),
            "{name}: each record once"
        );
        assert_eq!(
            committed(&bs, &group, &topic, 3),
            high_watermarks(&bs, &topic, 3),
            "{name}: kafka-python committed what it read"
        );

        // The next member of the group starts at the committed offsets.
        let mut again = Member::start(&bs, &topic, &group, "km-py-2");
        wait_members(&mut [&mut again], "an assignment", 60, |m| {
            m[0].assignment() == Some((0..3).collect())
        });
        std::thread::sleep(Duration::from_secs(2));
        let events = again.stop();
        assert!(
            !events.iter().any(|e| e["event"] == "record"),
            "{name}: read again after a commit: {events:?}"
        );
    })
    .await;
}

/// Two kafka-python members split the partitions; records produced then
/// reach each from its own partitions only; when one leaves, the other
/// takes them all; both commit, so the group's offsets end at the ends.
pub async fn kafka_python_members_split_partitions(b: &dyn Backend) {
    let (topic, _a) = topic(b, "km-py-split", 4).await;
    let group = unique("km-py-split");
    let (bs, name) = (b.bootstrap(), b.name());
    let all: BTreeSet<i64> = (0..4).collect();
    let split = {
        let (bs, topic, group, all) = (bs.clone(), topic.clone(), group.clone(), all.clone());
        blocking(move || {
            let mut m1 = Member::start(&bs, &topic, &group, "km-py-m1");
            wait_members(&mut [&mut m1], "the first member's assignment", 60, |m| {
                m[0].assignment().as_ref() == Some(&all)
            });
            let mut m2 = Member::start(&bs, &topic, &group, "km-py-m2");
            wait_members(
                &mut [&mut m1, &mut m2],
                "two members sharing",
                60,
                |m| match (m[0].assignment(), m[1].assignment()) {
                    (Some(a), Some(b)) => {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.is_disjoint(&b)
                            && a.union(&b).copied().collect::<BTreeSet<_>>() == all
                    }
                    _ => false,
                },
            );
            (m1, m2)
        })
        .await
    };
    let (mut m1, mut m2) = split;
    let (a1, a2) = (m1.assignment().unwrap(), m2.assignment().unwrap());
    produce(b, &topic, 0, 40).await;
    let (t, g) = (topic.clone(), group.clone());
    blocking(move || {
        wait_members(
            &mut [&mut m1, &mut m2],
            "40 records between them",
            90,
            |m| m[0].records().len() + m[1].records().len() >= 40,
        );
        for (m, mine) in [(&m1, &a1), (&m2, &a2)] {
            let foreign: Vec<_> = m
                .records()
                .into_iter()
                .filter(|(p, _)| !mine.contains(p))
                .collect();
            assert!(
                foreign.is_empty(),
                "{name}: {} read {foreign:?}, owning {mine:?}",
                m.name
            );
        }
        let mut both = m1.records();
        both.extend(m2.records());
        assert_eq!(
            sorted_values(&both),
            values(0, 40),
            "{name}: each record once"
        );

        // A member that closes sends LeaveGroup: the other takes every
        // partition without waiting for a session timeout.
        let left = Instant::now();
        m2.stop();
        wait_members(&mut [&mut m1], "the remaining member taking all", 30, |m| {
            m[0].assignment().as_ref() == Some(&all)
        });
        assert!(
            left.elapsed() < Duration::from_secs(8),
            "{name}: rebalance after LeaveGroup took {:?}",
            left.elapsed()
        );
        m1.stop();
        assert_eq!(
            committed(&bs, &g, &t, 4),
            high_watermarks(&bs, &t, 4),
            "{name}: both members committed what they read"
        );
    })
    .await;
}

/// `KafkaAdminClient.alter_configs` of `retention.ms` works as on Kafka:
/// the classic AlterConfigs replaces the topic's dynamic configs (one set
/// at creation goes back to its default), and `describe_configs` lists
/// every topic config, the new value as a dynamic topic config.
pub async fn kafka_python_alter_configs_retention(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-py-conf");
    let mut a = admin(b).await;
    a.create_topic(
        &topic,
        &[vec![ids[0], ids[1]]],
        &[("max.message.bytes", "2000000")],
    )
    .await
    .unwrap();
    let (bs, t, name) = (b.bootstrap(), topic.clone(), b.name());
    let out = blocking(move || {
        script(&["alter-retention", &bs, &t, "7200000"])
            .output()
            .expect("KM_PYTHON (or python3) runs")
    })
    .await;
    assert!(
        out.status.success(),
        "{name}: kafka_python.py alter-retention failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got["alter"],
        serde_json::json!([[0, null]]),
        "{name}: {got}"
    );
    let configs: BTreeMap<String, (Option<String>, i64)> = got["configs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v[0].as_str().map(String::from), v[1].as_i64().unwrap()),
            )
        })
        .collect();
    let keys: Vec<&str> = configs.keys().map(String::as_str).collect();
    assert_eq!(keys, TOPIC_CONFIG_KEYS, "{name}: every topic config");
    assert_eq!(
        configs["retention.ms"],
        (Some("7200000".to_string()), i64::from(DYNAMIC_TOPIC_CONFIG)),
        "{name}"
    );
    assert_eq!(
        configs["max.message.bytes"],
        (Some("1048588".to_string()), i64::from(DEFAULT_CONFIG)),
        "{name}: AlterConfigs replaces the whole set"
    );
}
