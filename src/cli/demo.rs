//! `kafka-migrate demo`: the README's first command. With no arguments, on
//! loopback only, in under a minute: a mini-broker of 3 brokers on 2 racks
//! with a few hundred MB, a producer writing checksummed messages all
//! along, 2 brokers joining, the plan and its summary, the moves under a
//! throttle, the brokers before and after with the time against the
//! physical bound, and the audit of every acknowledged message.
//!
//! The scenario's parts are in [`crate::demo`]; this file runs the steps
//! and prints them. Any step that fails ends the run with exit 3 (after
//! stopping the cluster); `--keep` leaves the cluster running at the end
//! until Ctrl-C, with the commands to try on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use super::exit::{Exit, failure, invalid};
use super::mini_broker::{StopSignals, broker_table};
use super::printer::{OutputFormat, Printer};
use super::progress::{Renderer, Style};
use super::summary;
use crate::analysis;
use crate::demo::scenario;
use crate::demo::workload::{self, Counts, Ledger, Workload};
use crate::exec;
use crate::exec::apply::{ApplyReport, ApplySettings, Outcome as ApplyOutcome};
use crate::exec::batch::Job;
use crate::exec::clock::WallClock;
use crate::exec::estimate::{Bound, physical_bound};
use crate::exec::journal::MemoryStore;
use crate::exec::prepare::{PrepareSettings, prepare};
use crate::exec::throttle::Rates;
use crate::exec::verify::{Verdict, VerifySettings, verify_settled};
use crate::kafka::Admin;
use crate::kafka::config::{
    ClientSettings, SaslMechanism, SaslSettings, Secret, TlsSettings, TrustRoots,
};
use crate::kafka::librdkafka::{self, RdkafkaProperties};
use crate::minibroker::{Cluster, ClusterHandle};
use crate::model::BrokerId;
use crate::model::live::ClusterAdmin;
use crate::model::reassignment::Reassignment;
use crate::planner::{self, PlanRequest};
use crate::units::{human_bytes, human_duration, parse_rate, parse_size};

/// Every request of the demo's admin client.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the cluster running at the end, print its bootstrap address
    /// and commands to try on it, and wait for Ctrl-C.
    #[arg(long)]
    pub keep: bool,
    /// Synthetic data in each of the 3 topics at start-up (kept in
    /// memory).
    #[arg(long, value_name = "SIZE", default_value = "96MiB", value_parser = parse_size)]
    pub fill: u64,
    /// Replication throttle for the moves, per broker and direction.
    #[arg(long, value_name = "RATE", default_value = "25MB/s", value_parser = parse_rate)]
    pub throttle: u64,
    /// Messages a second the producer writes while partitions move
    /// (1 to 20000).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub messages_per_second: u32,
    /// Run over SASL_SSL: TLS with a CA made at start and SCRAM-SHA-512
    /// for a user with a random password, for the admin client and
    /// librdkafka's producer and consumer alike.
    #[arg(long)]
    pub secure: bool,
}

pub fn exec(args: DemoArgs) -> anyhow::Result<Exit> {
    if !(1..=20_000).contains(&args.messages_per_second) {
        return Err(invalid(anyhow::anyhow!(
            "--messages-per-second {} is out of range: 1 to 20000",
            args.messages_per_second
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(failure)?;
    runtime.block_on(run(args))
}

/// A numbered step, on stderr with the time since the start.
struct Steps {
    printer: Printer,
    start: Instant,
    n: usize,
}

impl Steps {
    fn step(&mut self, what: &str) {
        self.n += 1;
        self.printer.note(&format!(
            "[{:>4.1}s] {}. {what}",
            self.start.elapsed().as_secs_f64(),
            self.n
        ));
    }
}

async fn run(args: DemoArgs) -> anyhow::Result<Exit> {
    let mut steps = Steps {
        printer: Printer::new(OutputFormat::Text),
        start: Instant::now(),
        n: 0,
    };
    steps.step(&format!(
        "starting the mini-broker on 127.0.0.1{}: {} brokers on {} racks, topics {}, {} of data each",
        if args.secure {
            " (SASL_SSL: TLS and SCRAM-SHA-512 on every listener)"
        } else {
            ""
        },
        scenario::BROKERS,
        scenario::RACKS,
        scenario::TOPICS
            .iter()
            .map(|(name, p, rf)| format!("{name} ({p} partitions, RF {rf})"))
            .collect::<Vec<_>>()
            .join(", "),
        human_bytes(args.fill),
    ));
    let mut config = scenario::cluster(args.fill);
    // The password lives for this run only and is never printed.
    let password = crate::kafka::scram::random_nonce();
    if args.secure {
        config.tls = Some(vec![]);
        let mut users = crate::minibroker::config::SaslUsers::default();
        users.add_scram(crate::kafka::scram::ScramHash::Sha512, "demo", &password);
        config.sasl = Some(users);
    }
    let cluster = match Cluster::start(config).await {
        Ok(c) => c,
        Err(e) if e.is_input() => return Err(invalid(e)),
        Err(e) => return Err(failure(e)),
    };
    // Whatever happens next, the cluster stops before the run ends.
    let mut settings = ClientSettings::with_timeout(TIMEOUT);
    if let Some(tls) = cluster.tls() {
        let certs = rustls_pki_types::pem::PemObject::pem_slice_iter(tls.ca_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failure(anyhow::anyhow!("the mini-broker's CA: {e}")))?;
        settings.tls = Some(TlsSettings {
            roots: TrustRoots::Pem {
                certs,
                from: "the mini-broker's CA".into(),
            },
            verify_hostname: true,
            identity: None,
        });
        settings.sasl = Some(SaslSettings {
            mechanism: SaslMechanism::ScramSha512,
            username: "demo".into(),
            password: Secret::new(password),
        });
    }
    let outcome = scenario_steps(&mut steps, &cluster, &args, &settings).await;
    let outcome = match outcome {
        Ok(exit) if args.keep => keep_running(&steps.printer, &cluster).await.map(|()| exit),
        other => other,
    };
    cluster.shutdown().await;
    outcome
}

async fn scenario_steps(
    steps: &mut Steps,
    cluster: &ClusterHandle,
    args: &DemoArgs,
    settings: &ClientSettings,
) -> anyhow::Result<Exit> {
    let bootstrap = cluster.bootstrap();
    let rdkafka = librdkafka::properties(settings);
    let printer = Printer::new(OutputFormat::Text);
    printer.out(&format!("bootstrap: {bootstrap}"));
    printer.out("brokers before:");
    printer.out(&broker_table(cluster));

    steps.step(&format!(
        "starting a producer (librdkafka, acks=all): {} checksummed messages a second into {}",
        args.messages_per_second,
        scenario::LEDGER_TOPIC
    ));
    let mut admin = Admin::connect_with(&bootstrap, settings.clone())
        .await
        .map_err(|e| failure(anyhow::anyhow!("connecting to the mini-broker: {e}")))?;
    let assignment = cluster
        .inspect(|s| s.place(scenario::LEDGER_PARTITIONS, scenario::LEDGER_RF))
        .map_err(|r| {
            failure(anyhow::anyhow!(
                "placing {}: {}",
                scenario::LEDGER_TOPIC,
                r.message
            ))
        })?;
    admin
        .create_topic(scenario::LEDGER_TOPIC, &assignment, &[])
        .await
        .map_err(|e| failure(anyhow::anyhow!("creating {}: {e}", scenario::LEDGER_TOPIC)))?;
    let workload = Workload::start(
        &bootstrap,
        &rdkafka,
        scenario::LEDGER_TOPIC,
        args.messages_per_second,
    )
    .map_err(|e| failure(anyhow::anyhow!("starting the producer: {e}")))?;
    let mut workload = Some(workload);
    let outcome = moves_under_load(steps, cluster, &mut admin, args, &mut workload).await;
    // The producer stops whatever happened to the moves, and what it
    // wrote is audited either way: a failed move is no excuse for a lost
    // message.
    steps.step("stopping the producer and reading every message back (librdkafka consumer)");
    let workload = workload.take().expect("the workload runs until here");
    let (ledger, stopped) = tokio::task::spawn_blocking(move || workload.stop(TIMEOUT))
        .await
        .map_err(failure)?;
    let audit = audit(&bootstrap, &rdkafka, &ledger).await;
    match &audit {
        Ok(counts) => printer.out(&format!("messages: {counts}")),
        Err(e) => printer.error(e, None),
    }
    let moved = outcome?;
    if let Err(e) = stopped {
        return Err(failure(anyhow::anyhow!("producer: {e}")));
    }
    let counts = audit.map_err(|e| failure(anyhow::anyhow!(e)))?;
    if !counts.is_clean() {
        return Err(failure(anyhow::anyhow!(
            "the audit failed: {}",
            audit_failure(&counts)
        )));
    }
    printer.out(&format!(
        "ok: {} partitions moved onto brokers {} while {} messages were acknowledged; every one was read back exactly once with a valid checksum",
        moved.partitions,
        join(&moved.added),
        counts.acknowledged
    ));
    Ok(Exit::Ok)
}

/// What `moves_under_load` did, for the final line.
struct Moved {
    partitions: usize,
    added: Vec<BrokerId>,
}

/// Brokers join, the plan is made, shown and applied, and the result is
/// measured, while the producer writes.
async fn moves_under_load(
    steps: &mut Steps,
    cluster: &ClusterHandle,
    admin: &mut Admin,
    args: &DemoArgs,
    workload: &mut Option<Workload>,
) -> anyhow::Result<Moved> {
    let printer = Printer::new(OutputFormat::Text);
    let first_ack = Instant::now();
    loop {
        let (_, acked) = workload.as_ref().map_or((0, 0), Workload::progress);
        if acked > 0 {
            break;
        }
        if first_ack.elapsed() > TIMEOUT {
            return Err(failure(anyhow::anyhow!(
                "the producer got no acknowledgement within {}s",
                TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut added = Vec::new();
    for i in 0..scenario::ADDED {
        let rack = scenario::rack_of(scenario::BROKERS + i);
        let id = cluster
            .add_broker(None, rack.clone())
            .await
            .map_err(failure)?;
        added.push(id);
    }
    steps.step(&format!(
        "brokers {} joined, empty (as new Kafka brokers join): planning the rebalance onto them (the planner of `plan`)",
        join(&added)
    ));
    let live = admin
        .snapshot()
        .await
        .map_err(|e| failure(anyhow::anyhow!("reading the cluster: {e}")))?;
    let outcome = planner::plan(&live, &PlanRequest::default())
        .map_err(|e| failure(anyhow::anyhow!("planning: {e}")))?;
    // Judged as `plan` judges it: against the ideals, bounds and racks
    // the planner decided on.
    let sum = analysis::summarize_plan(&live, &outcome, Some(args.throttle));
    printer.out("plan (the planner of `plan`, on the live cluster):");
    printer.out(&summary::render(&sum, false, Some(args.throttle)));
    let plan = outcome.reassignment(&live);
    if plan.is_empty() {
        return Err(failure(anyhow::anyhow!(
            "the planner found nothing to move onto brokers {}",
            join(&added)
        )));
    }
    let jobs = jobs(&live, &plan);
    let bound = physical_bound(&jobs, args.throttle);

    steps.step(&format!(
        "applying the plan: {} partitions, {} to copy, throttled at {}/s",
        plan.len(),
        human_bytes(jobs.iter().map(Job::bytes_to_copy).sum()),
        human_bytes(args.throttle)
    ));
    let started = Instant::now();
    // Generous: only a stalled move comes near it.
    let deadline = Duration::from_secs_f64(bound.seconds * 3.0) + Duration::from_secs(60);
    apply_with_executor(&printer, admin, &plan, args.throttle, deadline).await?;
    let took = started.elapsed().as_secs_f64();

    printer.out("brokers after:");
    printer.out(&broker_table(cluster));
    printer.out(&time_line(took, &bound, args.throttle));
    if let Some(w) = workload.as_ref() {
        let (sent, acked) = w.progress();
        printer.note(&format!(
            "the producer has sent {sent} messages so far, {acked} acknowledged"
        ));
    }
    Ok(Moved {
        partitions: plan.len(),
        added,
    })
}

/// The plan's moves as the scheduler and the bound see them.
fn jobs(live: &crate::model::Cluster, plan: &Reassignment) -> Vec<Job> {
    plan.moves()
        .iter()
        .filter_map(|m| {
            let p = live.partition(&m.tp)?;
            Some(Job::new(
                m.tp.clone(),
                &p.replicas,
                p.leader,
                m.replicas.clone(),
                p.size_bytes,
            ))
        })
        .collect()
}

/// The time the moves took against the physical bound.
fn time_line(took: f64, bound: &Bound, rate: u64) -> String {
    let link = match bound.link {
        Some((b, crate::exec::batch::Direction::In)) => format!(" into broker {b}"),
        Some((b, crate::exec::batch::Direction::Out)) => format!(" out of broker {b}"),
        None => String::new(),
    };
    let ratio = if bound.seconds > 0.0 {
        format!(" ({:.2}x the bound)", took / bound.seconds)
    } else {
        String::new()
    };
    format!(
        "time: {} for the moves{ratio}; physical bound {} ({}{link} at {}/s)",
        human_duration(took),
        human_duration(bound.seconds),
        human_bytes(bound.bytes),
        human_bytes(rate)
    )
}

/// Applies `plan` with the executor of `apply` (batches under the
/// throttle, progress drawn as `apply` draws it, preferred leaders elected,
/// throttles restored), then verifies it as `verify` does. The journal is
/// kept in memory: the demo writes no file. Any partition not at its
/// target at the end is a failure, and so is a run still moving after
/// `deadline` (the executor is stopped then, as Ctrl-C stops `apply`).
pub async fn apply_with_executor<A: ClusterAdmin>(
    printer: &Printer,
    admin: &mut A,
    plan: &Reassignment,
    throttle: u64,
    deadline: Duration,
) -> anyhow::Result<ApplyReport> {
    let live = admin
        .cluster()
        .await
        .map_err(|e| failure(anyhow::anyhow!("reading the cluster: {e}")))?;
    let prepared = prepare(&live, plan, None, &PrepareSettings::default())
        // Every failing step is exit 3, the plan refused by the demo's own
        // cluster too (`exec_error` would say 2, documented for bad flags,
        // and hint at a --bootstrap-server the demo does not have).
        .map_err(failure)?;
    let settings = ApplySettings {
        rates: Rates {
            replication: Some(throttle),
            log_dirs: None,
        },
        // Polled often: the moves take seconds, and each poll's wait is
        // time added to the bound.
        poll_interval: Duration::from_millis(250),
        ..ApplySettings::default()
    };
    let mut store = MemoryStore::new();
    let mut clock = WallClock::new();
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            stop.store(true, Ordering::SeqCst);
        })
    };
    // On a terminal, a bar per destination broker as well; in a log, the
    // steps without every config change and move.
    let style = Style::choose(OutputFormat::Text, false);
    let mut renderer = Renderer::new(printer, style, style == Style::Bars);
    let report = exec::apply::apply(
        admin,
        &mut clock,
        &prepared,
        &settings,
        &mut store,
        &mut |e| renderer.event(e),
        &stop,
    )
    .await
    .map_err(failure)?;
    timer.abort();
    renderer.finish();
    drop(renderer);
    if report.outcome == ApplyOutcome::Stopped {
        return Err(failure(anyhow::anyhow!(
            "the moves did not finish within {} (three times the physical bound and a minute): {} of {} partitions still moving",
            human_duration(deadline.as_secs_f64()),
            report.in_flight.len(),
            report.partitions_total
        )));
    }
    if report.outcome != ApplyOutcome::Completed {
        return Err(failure(anyhow::anyhow!(
            "the plan did not complete ({:?}): {} refused, {} diverged, {} still moving, {} not submitted",
            report.outcome,
            report.refused.len(),
            report.diverged.len(),
            report.in_flight.len(),
            report.not_submitted.len()
        )));
    }
    if !report.election_failed.is_empty() {
        return Err(failure(anyhow::anyhow!(
            "preferred leader election failed on {} partitions: {}",
            report.election_failed.len(),
            report
                .election_failed
                .iter()
                .map(|e| format!("{}-{}: {}", e.topic, e.partition, e.error))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let verified = verify_settled(
        admin,
        &mut clock,
        &prepared.plan,
        &mut store,
        &VerifySettings::default(),
    )
    .await
    .map_err(failure)?;
    if verified.verdict != Verdict::AllDone {
        return Err(failure(anyhow::anyhow!(
            "verify: {} done, {} in progress, {} diverged, {} failed",
            verified.done,
            verified.in_progress,
            verified.diverged,
            verified.failed
        )));
    }
    printer.note(&format!(
        "  verified: all {} partitions at their targets; {} preferred leaders elected; throttles restored",
        verified.done,
        report.elected.len()
    ));
    Ok(report)
}

/// Reads the ledger topic back and audits it against the ledger.
async fn audit(
    bootstrap: &str,
    rdkafka: &RdkafkaProperties,
    ledger: &Ledger,
) -> Result<Counts, String> {
    let bootstrap = bootstrap.to_string();
    let rdkafka = rdkafka.clone();
    let read = tokio::task::spawn_blocking(move || {
        workload::consume(&bootstrap, &rdkafka, scenario::LEDGER_TOPIC, TIMEOUT * 2)
    })
    .await
    .map_err(|e| format!("the consumer thread: {e}"))??;
    Ok(read.counts(ledger))
}

fn audit_failure(c: &Counts) -> String {
    let mut why = Vec::new();
    if c.acknowledged == 0 {
        why.push("no message was acknowledged".to_string());
    }
    for (n, what) in [
        (c.missing, "acknowledged messages missing"),
        (c.duplicates, "duplicates"),
        (c.corrupt, "corrupt messages"),
    ] {
        if n > 0 {
            why.push(format!("{n} {what}"));
        }
    }
    why.join(", ")
}

/// `--keep`: the bootstrap and commands to try, then wait for Ctrl-C (or
/// SIGTERM). The handlers are in place before the bootstrap is printed, so
/// a Ctrl-C as soon as it shows stops the cluster cleanly.
async fn keep_running(printer: &Printer, cluster: &ClusterHandle) -> anyhow::Result<()> {
    let mut signals = StopSignals::register().map_err(failure)?;
    let bootstrap = cluster.bootstrap();
    printer.out(&format!(
        "\nthe cluster keeps running (Ctrl-C stops it). bootstrap: {bootstrap}\ntry:\n  \
         kafka-migrate describe --bootstrap-server {bootstrap}\n  \
         kafka-migrate describe --bootstrap-server {bootstrap} -o state.json\n  \
         kafka-migrate plan --state state.json --remove-brokers 1 -o plan.json\n  \
         kcat -b {bootstrap} -C -t {} -c 5 -f '%k %p %o\\n'",
        scenario::LEDGER_TOPIC
    ));
    let why = signals.next().await;
    printer.note(&format!("stopping ({why})"));
    Ok(())
}

fn join(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}
