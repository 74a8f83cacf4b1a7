//! One wire-level suite, two backends: each scenario is written once
//! against [`Backend`] and instantiated for the embedded mini-broker and
//! for a real Apache Kafka 4.x cluster (`tests/kafka/cluster.sh`). Where the
//! two differ, the mini-broker is wrong.

mod acks;
mod balance_disks;
mod disks;
mod groups;
mod interop;
mod mini;
mod ops;
mod python;
mod rdk;
pub(crate) mod real;
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
    /// Hangs a broker without stopping it (`paused`), or lets it run on:
    /// as a follower it fetches nothing more, yet stays in the ISRs until
    /// the leaders drop it by lag. The real one is SIGSTOPped, so it also
    /// answers no client; the mini-broker's only stops copying. For
    /// followers: a scenario does not talk to a paused broker.
    fn pause_broker(&self, id: BrokerId, paused: bool) -> BoxFuture<'_>;
    /// Bytes a replication throttle of `rate` bytes/s can let through at
    /// once before it binds, after a quiet spell, to one partition.
    fn quota_burst(&self, rate: u64) -> u64;
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

/// Runs a scenario to completion on a fresh single-threaded runtime.
pub fn block_on<F: Future>(scenario: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario)
}

/// One `#[test]` per scenario and per Kafka tool check, for the backend that
/// `$with` provides: `$with(|b: &dyn Backend| ...)` runs the closure against
/// a ready backend, and fails when it cannot start or reach one. Both
/// backends list the same tests, so they are listed here once. What a
/// backend needs beyond `cargo test` marks its tests ignored, with the
/// reason (`scenarios: [ignore = "..."]`, `tools: [...]`, `python: [...]`
/// for kafka-python's), so a run without it reports them as ignored
/// rather than passed; `.ci/run` runs them all.
macro_rules! suite {
    ($with:path, scenarios: $scenarios:tt, tools: $tools:tt, python: $python:tt) => {
        $crate::wire::suite!(@scenarios $with, $scenarios;
            kcat_metadata_and_round_trip,
            throttled_reassignment,
            cancel_and_override,
            throttle_configs_read_back,
            preferred_leader_election,
            bad_requests,
            rdkafka_round_trip,
            leader_stopped_during_production,
            describe_writes_the_clusters_snapshot,
            describe_mid_move,
            admin_outlives_a_stopped_broker,
            apply_moves_replicas_between_disks,
            describe_configs_lists_every_topic_config,
            min_insync_replicas_refuses_acks_all,
            min_insync_replicas_after_append,
            kcat_group_consumes_and_commits,
            rdkafka_members_split_and_rebalance,
            group_offsets_survive_coordinator_failover,
            group_offsets_survive_a_reassignment,
            classic_protocol_step_by_step,
            static_member_rejoins_without_a_rebalance,
            balance_disks_with_apply,
            throttled_replicas_share_the_quota,
            a_returning_ex_leader_truncates_by_leader_epoch,
            idempotent_producer_survives_a_leader_failover,
            retried_idempotent_batches_are_written_once,
            elect_leaders_refusals_in_kafkas_words,
        );
        $crate::wire::suite!(@ops $with, $scenarios;
            apply_throttled_move,
            throttled_move_takes_its_time,
            batching_limits_hold,
            throttle_set_mid_move_and_restore,
            verify_exit_codes,
            cancel_twice,
            killed_apply_resumes,
            dry_run_stale_and_down_target,
            stuck_move_keeps_the_data_plane,
            bad_inputs_exit_2,
            elect_leaders_after_no_elect,
            override_a_running_move,
            no_acknowledged_message_lost_while_brokers_bounce,
        );
        $crate::wire::suite!(@tools $with, $tools;
            kafka_topics,
            kafka_configs,
            kafka_log_dirs,
            kafka_reassign_partitions,
            throttles_match_kafkas,
            our_plan_runs_under_kafkas_execute,
            kafkas_generated_plan_runs_under_apply,
            each_sees_the_others_moves,
            kafka_console_consumer_and_consumer_groups,
            balance_disks_with_kafkas_tool,
            kafka_metadata_quorum,
        );
        $crate::wire::suite!(@python $with, $python;
            kafka_python_group_consumes_and_commits,
            kafka_python_members_split_partitions,
            kafka_python_alter_configs_retention,
        );
    };
    (@scenarios $with:path, $attrs:tt; $($name:ident),* $(,)?) => {$(
        $crate::wire::suite!(@test $attrs $name {
            $with(|b| $crate::wire::block_on($crate::wire::scenarios::$name(b)));
        });
    )*};
    (@ops $with:path, $attrs:tt; $($name:ident),* $(,)?) => {$(
        $crate::wire::suite!(@test $attrs $name {
            $with(|b| $crate::wire::block_on($crate::wire::ops::$name(b)));
        });
    )*};
    (@python $with:path, $attrs:tt; $($name:ident),* $(,)?) => {$(
        $crate::wire::suite!(@test $attrs $name {
            $with(|b| $crate::wire::block_on($crate::wire::python::$name(b)));
        });
    )*};
    (@tools $with:path, $attrs:tt; $($name:ident),* $(,)?) => {$(
        $crate::wire::suite!(@test $attrs $name {
            $with($crate::wire::tools::$name);
        });
    )*};
    (@test [$($attr:meta)?] $name:ident $body:block) => {
        $(#[$attr])?
        #[test]
        fn $name() $body
    };
}
pub(crate) use suite;

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

/// Produces `payload`, a record a line, to partition 0 of `topic` with kcat
/// (acks=all).
pub fn kcat_produce(bootstrap: &str, topic: &str, payload: &[u8]) {
    kcat(
        &[
            "-P", "-b", bootstrap, "-t", topic, "-p", "0", "-X", "acks=all",
        ],
        Some(payload),
    );
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
