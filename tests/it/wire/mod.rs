//! One wire-level suite, two backends: each scenario is written once
//! against [`Backend`] and instantiated for the embedded mini-broker and
//! for a real Apache Kafka 4.x cluster (`tests/kafka/cluster.sh`). Where the
//! two differ, the mini-broker is wrong.

mod mini;
mod rdk;
mod real;
mod scenarios;
mod tools;

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use kafka_migrate::kafka::Admin;
use kafka_migrate::model::BrokerId;

/// A running cluster the scenarios can use.
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn bootstrap(&self) -> String;
    /// Broker ids, sorted; at least four.
    fn brokers(&self) -> Vec<BrokerId>;
    /// Stops a broker: its listener closes and the cluster notices.
    fn stop_broker(&self, id: BrokerId) -> BoxFuture<'_>;
    /// Restarts a stopped broker on its data.
    fn start_broker(&self, id: BrokerId) -> BoxFuture<'_>;
}

pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub async fn admin(b: &dyn Backend) -> Admin {
    Admin::connect(&b.bootstrap(), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{}: cannot connect: {e}", b.name()))
}

/// Evaluates `$body` (which may `.await`) every 200 ms until it gives
/// `Some(v)`, and yields `v`; panics after `$secs` seconds.
macro_rules! eventually {
    ($what:expr, $secs:expr, $body:expr) => {{
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs($secs);
        loop {
            if let Some(v) = $body {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {} s waiting for {}",
                $secs,
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }};
}
pub(crate) use eventually;

/// A topic name no other scenario uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs kcat with arguments and optional stdin; returns stdout.
pub fn kcat(args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("kcat");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("kcat is installed (.ci/run installs it)");
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
