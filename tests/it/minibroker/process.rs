//! `kafka-migrate mini-broker` as a process: the bootstrap line and the
//! broker table, the commands on standard input, the signals that stop it
//! (and save `--data-dir`), and the checks made before any broker starts.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::bin;

/// Generous: a debug binary on a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

/// A running `mini-broker` with its three standard streams piped. Standard
/// input stays open (as a terminal's does) until dropped. Killed on drop.
pub(super) struct MiniProcess {
    pub(super) child: Child,
    stdin: Option<ChildStdin>,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    /// Every stderr line read so far, for failure messages.
    err_seen: Vec<String>,
}

fn lines_of(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl MiniProcess {
    pub(super) fn spawn(args: &[&str]) -> MiniProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-migrate"))
            .arg("mini-broker")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kafka-migrate mini-broker");
        let out = lines_of(child.stdout.take().unwrap());
        let err = lines_of(child.stderr.take().unwrap());
        MiniProcess {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            err_seen: Vec::new(),
        }
    }

    /// Reads stdout lines until one satisfies `done`; returns them all.
    fn out_until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => {
                    let last = done(&line);
                    got.push(line);
                    if last {
                        return got;
                    }
                }
                Err(_) => {
                    self.drain_err();
                    panic!(
                        "stdout never showed {what}; stdout: {got:#?}\nstderr: {:#?}",
                        self.err_seen
                    )
                }
            }
        }
    }

    /// Reads stderr lines until one contains `needle`; returns that line.
    pub(super) fn err_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.err.recv_timeout(left) {
                Ok(line) => {
                    self.err_seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("stderr never said {needle:?}; stderr: {:#?}", self.err_seen),
            }
        }
    }

    fn drain_err(&mut self) {
        while let Ok(line) = self.err.try_recv() {
            self.err_seen.push(line);
        }
    }

    /// The first stdout line, `bootstrap: HOST:PORT,...`, and the table of
    /// `brokers` brokers after it, as rows of cells.
    pub(super) fn start_output(&mut self, brokers: usize) -> (String, Vec<Vec<String>>) {
        let first = self.out_until("the bootstrap line", |_| true).remove(0);
        let bootstrap = first
            .strip_prefix("bootstrap: ")
            .unwrap_or_else(|| panic!("first stdout line is {first:?}"))
            .to_string();
        (bootstrap, self.table(brokers))
    }

    /// Reads the next broker table of `brokers` rows from stdout: its rows
    /// (header excluded). Counts rows rather than looking for the bottom
    /// border, which depends on the locale (box drawing or ASCII).
    pub(super) fn table(&mut self, brokers: usize) -> Vec<Vec<String>> {
        let seen = std::cell::Cell::new(0);
        let lines = self.out_until("a whole broker table", |l| {
            if is_row(l) {
                seen.set(seen.get() + 1);
            }
            seen.get() == brokers + 1
        });
        table_rows(&lines)
    }

    pub(super) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    pub(super) fn signal(&self, signal: i32) {
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal})");
    }

    /// Waits for the process to end, standard input still open.
    pub(super) fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                self.drain_err();
                panic!(
                    "still running {within:?} later; stderr: {:#?}",
                    self.err_seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MiniProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_row(line: &str) -> bool {
    line.starts_with(['│', '|'])
}

/// The data rows of a table: the cells between the borders.
fn table_rows(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|l| is_row(l))
        .skip(1)
        .map(|l| {
            l.trim_matches(['│', '|'])
                .split(['┆', '│', '|'])
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// Column of the broker table by header.
fn col(name: &str) -> usize {
    let headers = [
        "broker", "address", "rack", "state", "role", "leaders", "replicas", "bytes",
    ];
    headers.iter().position(|h| *h == name).unwrap()
}

fn row<'a>(rows: &'a [Vec<String>], broker: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[col("broker")] == broker)
        .unwrap_or_else(|| panic!("no row for broker {broker}: {rows:?}"))
}

#[test]
fn bootstrap_line_table_and_stdin_commands() {
    let mut p = MiniProcess::spawn(&["--brokers", "3", "--topic", "t:3:2", "--fill", "3MiB"]);
    let (bootstrap, rows) = p.start_output(3);
    let addrs: Vec<&str> = bootstrap.split(',').collect();
    assert_eq!(addrs.len(), 3, "{bootstrap}");
    for (i, a) in addrs.iter().enumerate() {
        assert!(a.starts_with("127.0.0.1:"), "{bootstrap}");
        assert_eq!(row(&rows, &(i + 1).to_string())[col("address")], *a);
    }
    // --fill: 3 MiB per topic, two replicas of each partition.
    let replicas: usize = rows
        .iter()
        .map(|r| r[col("replicas")].parse::<usize>().unwrap())
        .sum();
    assert_eq!(replicas, 6);
    for r in &rows {
        let bytes = &r[col("bytes")];
        assert!(bytes.ends_with("MiB") || bytes.ends_with("KiB"), "{rows:?}");
    }
    assert_eq!(row(&rows, "1")[col("role")], "controller");

    p.send("status");
    assert_eq!(p.table(3).len(), 3);

    p.send("stop 2");
    p.err_line("broker 2 stopped");
    p.send("status");
    let rows = p.table(3);
    assert_eq!(row(&rows, "2")[col("state")], "stopped");
    assert_eq!(row(&rows, "1")[col("state")], "up");
    p.send("stop 2");
    p.err_line("error: broker 2 is already stopped");
    p.send("start 2");
    p.err_line("broker 2 started");
    p.send("status");
    assert_eq!(row(&p.table(3), "2")[col("state")], "up");
    p.send("start 2");
    p.err_line("error: broker 2 is already running");

    // regression: `stop 99` said "broker 99 is not running".
    for verb in ["stop", "start", "pause", "resume"] {
        p.send(&format!("{verb} 99"));
        let line = p.err_line("99");
        assert_eq!(
            line, "error: no broker 99: this cluster has brokers 1 to 3",
            "{verb}"
        );
    }
    p.send("pause 3");
    p.err_line("broker 3 replication paused");
    p.send("resume 3");
    p.err_line("broker 3 replication resumed");
    p.send("stop x");
    p.err_line(r#"error: invalid broker id "x""#);
    // regression: `kill` with no id was an unknown command.
    for verb in ["stop", "kill", "start", "pause", "resume"] {
        p.send(verb);
        let line = p.err_line("needs a broker id");
        assert_eq!(line, format!("error: {verb} needs a broker id: {verb} N"));
    }
    p.send("add");
    p.err_line("error: add needs a broker id: add N [RACK]");
    p.send("frobnicate");
    let line = p.err_line("frobnicate");
    assert!(
        line.contains("unknown command")
            && line.contains("stop N | start N")
            && line.contains("quit"),
        "{line}"
    );
    // A new broker joins, empty, on its own port of the same host.
    p.send("add 4 rack-x");
    p.err_line("broker 4 added");
    let rows = p.table(4);
    let added = row(&rows, "4");
    assert_eq!(added[col("rack")], "rack-x");
    assert_eq!(added[col("state")], "up");
    assert_eq!(added[col("replicas")], "0");
    assert!(added[col("address")].starts_with("127.0.0.1:"), "{rows:?}");
    assert!(!addrs.contains(&added[col("address")].as_str()), "{rows:?}");
    p.send("add 4");
    p.err_line("error: broker 4 already exists");
    p.send("add 5 a b");
    p.err_line("unknown command");
    p.send("help");
    p.err_line("commands: stop N");

    p.send("quit");
    let status = p.exit_status(WAIT);
    assert_eq!(status.code(), Some(0));
    p.err_line("stopping (quit)");
}

/// Starts on `dir`, stops with `signal` while standard input stays open,
/// and checks the exit and the save.
fn stops_on_signal_and_saves(signal: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = MiniProcess::spawn(&[
        "--data-dir",
        data_arg,
        "--topic",
        "kept:2:2",
        "--fill",
        "256KiB",
    ]);
    let (_, rows) = p.start_output(3);
    let bytes_before: Vec<String> = rows.iter().map(|r| r[col("bytes")].clone()).collect();
    // regression: Ctrl-C printed "stopping" and hung until Enter.
    p.signal(signal);
    let status = p.exit_status(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{name}");
    p.err_line(&format!("stopping ({name}), saving to {data_arg}"));
    p.err_line(&format!("saved to {data_arg}"));
    assert!(data.join("cluster.json").is_file());
    drop(p);

    // A restart on the same dir, without --topic, has the topic and its data.
    let mut p = MiniProcess::spawn(&["--data-dir", data_arg]);
    let (_, rows) = p.start_output(3);
    let replicas: usize = rows
        .iter()
        .map(|r| r[col("replicas")].parse::<usize>().unwrap())
        .sum();
    assert_eq!(replicas, 4, "{rows:?}");
    let bytes_after: Vec<String> = rows.iter().map(|r| r[col("bytes")].clone()).collect();
    assert_eq!(bytes_after, bytes_before);
    // A broker added now would not come back at the next start.
    p.send("add 4");
    p.err_line("error: brokers cannot be added to a cluster with a data dir");
    p.send("status");
    assert_eq!(p.table(3).len(), 3);
    p.signal(libc::SIGTERM);
    assert_eq!(p.exit_status(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn sigint_stops_and_saves_the_data_dir() {
    stops_on_signal_and_saves(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_stops_and_saves_the_data_dir() {
    stops_on_signal_and_saves(libc::SIGTERM, "SIGTERM");
}

#[test]
fn end_of_stdin_is_not_a_quit() {
    let mut p = MiniProcess::spawn(&[]);
    p.start_output(3);
    drop(p.stdin.take());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "exited at end of stdin"
    );
    p.signal(libc::SIGINT);
    assert_eq!(p.exit_status(Duration::from_secs(10)).code(), Some(0));
}

/// Runs `mini-broker ARGS` to its end (bounded: the old code ran on).
fn refused(args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .arg("mini-broker")
        .args(args)
        .timeout(WAIT)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(args: &[&str], code: i32, expect: &[&str]) {
    let (got, stdout, stderr) = refused(args);
    assert_eq!(got, code, "{args:?}: {stderr}");
    // Nothing started: no bootstrap line.
    assert_eq!(stdout, "", "{args:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: {stderr:?} lacks {e:?}");
    }
}

#[test]
fn an_unusable_data_dir_is_refused_before_any_broker_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let file = file.to_str().unwrap();
    // regression: both started, and failed only when saving at exit.
    assert_refused(&["--data-dir", file], 3, &[file, "not a directory"]);
    let under = format!("{file}/data");
    assert_refused(&["--data-dir", &under], 3, &[&under, "cannot create it"]);
    assert_eq!(std::fs::read_to_string(Path::new(file)).unwrap(), "x");
}

#[test]
fn a_missing_data_dir_is_created_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a").join("b");
    let mut p = MiniProcess::spawn(&["--data-dir", data.to_str().unwrap(), "--brokers", "2"]);
    p.start_output(2);
    // Before any exit: created, with the brokers' log dirs.
    assert!(data.join("broker-1").join("dir-0").is_dir());
    assert!(data.join("broker-2").join("dir-0").is_dir());
    p.send("quit");
    assert_eq!(p.exit_status(WAIT).code(), Some(0));
}

/// Two mini-brokers on one data dir would overwrite each other's saves:
/// the second is refused while the first runs, and starts once it is gone.
#[test]
fn a_data_dir_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut first = MiniProcess::spawn(&["--data-dir", data, "--brokers", "1"]);
    first.start_output(1);
    assert_refused(
        &["--data-dir", data, "--brokers", "1"],
        3,
        &[data, "in use"],
    );
    first.send("quit");
    assert_eq!(first.exit_status(WAIT).code(), Some(0));
    let mut second = MiniProcess::spawn(&["--data-dir", data, "--brokers", "1"]);
    second.start_output(1);
    second.send("quit");
    assert_eq!(second.exit_status(WAIT).code(), Some(0));
}

#[test]
fn limits_are_usage_errors_naming_the_range() {
    // regression: the ports wrapped past 65535 (a panic in a debug build).
    assert_refused(
        &["--port", "65534", "--brokers", "5"],
        2,
        &["65534-65538", "65535", "at most 65531"],
    );
    assert_refused(&["--brokers", "65"], 2, &["65 brokers", "1 to 64"]);
    assert_refused(&["--brokers", "0"], 2, &["0 brokers", "1 to 64"]);
    assert_refused(
        &["--brokers", "3", "--racks", "4"],
        2,
        &["4 racks for 3 brokers"],
    );
    assert_refused(&["--log-dirs", "0"], 2, &["0 log dirs", "1 to 16"]);
    // regression: minutes beyond Kafka's int overflowed into seconds (a
    // panic).
    assert_refused(
        &["--offsets-retention-minutes", "18446744073709551615"],
        2,
        &["--offsets-retention-minutes", "1..=2147483647"],
    );
    assert_refused(
        &["--host", "localhost"],
        2,
        &["\"localhost\"", "not an IP address"],
    );
    assert_refused(
        &["--topic", "a:1:4"],
        2,
        &["topic a", "replication factor 4", "3 brokers"],
    );
    assert_refused(
        &["--topic", "a:60000:1", "--topic", "b:40001:1"],
        2,
        &["100001 partitions", "at most 100000"],
    );
    assert_refused(
        &["--default-replication-factor", "4"],
        2,
        &["default replication factor 4"],
    );
    assert_refused(&["--fill", "1MiB"], 2, &["--fill", "--topic"]);
    if std::fs::read_to_string("/proc/meminfo").is_ok_and(|m| m.contains("MemAvailable:")) {
        assert_refused(
            &["--topic", "a:1:1", "--topic", "b:1:1", "--fill", "100TiB"],
            2,
            &["2 topic(s) with 100 TiB each", "200 TiB", "MemAvailable"],
        );
    }
}

#[test]
fn a_port_in_use_is_a_failure_naming_the_broker_and_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    assert_refused(
        &["--brokers", "1", "--port", &port.to_string()],
        3,
        &[&format!("broker 1 cannot listen on 127.0.0.1:{port}")],
    );
}
