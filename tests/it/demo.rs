//! `kafka-migrate demo`, the README's first command, through the real
//! binary: it moves data under a producer's load and loses nothing, it
//! listens on loopback only, `--keep` leaves the cluster up until Ctrl-C,
//! and bad flags are usage errors.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::bin;

/// A debug binary on a loaded machine; the demo itself aims at under a
/// minute in a release build.
const WAIT: Duration = Duration::from_secs(240);

/// The figures of the `messages:` line, by name.
fn counts(stdout: &str) -> std::collections::BTreeMap<String, u64> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("messages: "))
        .unwrap_or_else(|| panic!("no messages: line in\n{stdout}"));
    line.split(", ")
        .map(|part| {
            let (name, n) = part
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("{part:?} in {line:?}"));
            (name.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// The data rows of the table after the line `title`, as cells.
fn table_after(stdout: &str, title: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with(char::is_alphabetic))
        .filter(|l| l.starts_with('│'))
        .skip(1)
        .map(|l| {
            l.trim_matches('│')
                .split(['┆', '│'])
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn demo_moves_onto_new_brokers_under_load_and_loses_no_message() {
    let out = bin().arg("demo").timeout(WAIT).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let c = counts(&stdout);
    assert_eq!(c["missing"], 0, "{stdout}");
    assert_eq!(c["duplicates"], 0, "{stdout}");
    assert_eq!(c["corrupt"], 0, "{stdout}");
    assert!(c["acknowledged"] > 0, "{stdout}");
    assert!(c["produced"] >= c["acknowledged"], "{stdout}");
    assert!(c["consumed"] >= c["acknowledged"], "{stdout}");

    // Columns: broker, address, rack, state, role, leaders, replicas, bytes.
    let before = table_after(&stdout, "brokers before:");
    let after = table_after(&stdout, "brokers after:");
    assert_eq!(before.len(), 3, "{stdout}");
    assert_eq!(after.len(), 5, "{stdout}");
    let racks: BTreeSet<&str> = before.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(racks, BTreeSet::from(["rack-a", "rack-b"]));
    for r in &after {
        let replicas: u64 = r[6].parse().unwrap();
        let leaders: u64 = r[5].parse().unwrap();
        assert!(
            replicas > 0 && leaders > 0,
            "broker {} holds nothing after the moves:\n{stdout}",
            r[0]
        );
    }
    for added in ["4", "5"] {
        assert!(after.iter().any(|r| r[0] == added), "{stdout}");
    }
    assert!(
        stdout.contains("plan (the planner of `plan`") && stdout.contains("replicas moved:"),
        "the plan's summary is shown:\n{stdout}"
    );
    let time = stdout
        .lines()
        .find(|l| l.starts_with("time: "))
        .unwrap_or_else(|| panic!("no time: line in\n{stdout}"));
    assert!(time.contains("physical bound"), "{time}");
    assert!(stderr.contains("brokers 4 and 5 joined"), "{stderr}");
}

/// Listening TCP sockets of process `pid`: (local address in
/// /proc/net/tcp's hex, port), from its open file descriptors.
fn listening_sockets(pid: u32) -> Vec<(String, u16)> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().into_owned();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address st ... inode: fields 1, 3 and 9; 0A is LISTEN.
            if f[3] == "0A" && inodes.contains(f[9]) {
                let (addr, port) = f[1].split_once(':').unwrap();
                out.push((addr.to_string(), u16::from_str_radix(port, 16).unwrap()));
            }
        }
    }
    out
}

#[test]
fn demo_listens_on_loopback_only_and_keep_waits_for_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-migrate"))
        .args(["demo", "--keep", "--fill", "2MiB"])
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    let bootstrap = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
            panic!("--keep never said it keeps running; stdout: {seen:#?}\nstderr: {err}");
        };
        if let Some(rest) =
            line.strip_prefix("the cluster keeps running (Ctrl-C stops it). bootstrap: ")
        {
            break rest.to_string();
        }
        seen.push(line);
    };
    let addrs: Vec<&str> = bootstrap.split(',').collect();
    assert_eq!(
        addrs.len(),
        5,
        "3 brokers and the 2 that joined: {bootstrap}"
    );
    assert!(
        addrs.iter().all(|a| a.starts_with("127.0.0.1:")),
        "{bootstrap}"
    );

    let listening = listening_sockets(child.id());
    let ports: BTreeSet<u16> = listening.iter().map(|(_, p)| *p).collect();
    let expected: BTreeSet<u16> = addrs
        .iter()
        .map(|a| a.rsplit_once(':').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(ports, expected, "{listening:?}");
    for (addr, port) in &listening {
        // 127.0.0.1 in /proc/net/tcp's little-endian hex.
        assert_eq!(addr, "0100007F", "port {port} listens on {addr}");
    }

    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping (SIGINT)"), "{stderr}");
}

#[test]
fn demo_refuses_bad_flags_before_starting() {
    for (args, expect) in [
        (&["--throttle", "0"][..], "must be above zero"),
        (&["--fill", "900TiB"][..], "of memory"),
        (&["--messages-per-second", "0"][..], "1 to 20000"),
    ] {
        let out = bin().arg("demo").args(args).timeout(WAIT).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{args:?}: no error line in {stderr}"));
        assert!(error.contains(expect), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing starts: {args:?}");
    }
}

#[test]
fn demo_secure_runs_over_sasl_ssl_and_loses_no_message() {
    // The admin client and librdkafka's producer and consumer all speak
    // SASL_SSL (TLS and SCRAM-SHA-512) to listeners that require it.
    let out = bin()
        .args(["demo", "--secure", "--fill", "8MiB"])
        .timeout(WAIT)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("(SASL_SSL: TLS and SCRAM-SHA-512 on every listener)"),
        "{stderr}"
    );
    let c = counts(&stdout);
    assert_eq!(c["missing"], 0, "{stdout}");
    assert_eq!(c["duplicates"], 0, "{stdout}");
    assert_eq!(c["corrupt"], 0, "{stdout}");
    assert!(c["acknowledged"] > 0, "{stdout}");
    assert!(c["consumed"] >= c["acknowledged"], "{stdout}");
}
