//! `kafka-migrate status`: every move in flight with its progress, and the
//! throttles in force, whoever started or set them (Kafka's own tool too).

use anyhow::Result;
use clap::Args;

use super::args::ClusterArgs;
use super::cluster::{connect, exec_error, report_json, runtime};
use super::exit::Exit;
use super::printer::{OutputFormat, Printer, table};
use crate::exec::verify::status;
use crate::model::live::ClusterAdmin;
use crate::units::human_bytes;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn exec(args: StatusArgs) -> Result<Exit> {
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(&mut admin, &args).await
    })
}

async fn run<A: ClusterAdmin>(admin: &mut A, args: &StatusArgs) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let report = status(admin).await.map_err(exec_error)?;
    match args.output {
        OutputFormat::Json => printer.json(&report_json("status", &report)),
        OutputFormat::Text => {
            if report.moves.is_empty() {
                printer.out("no moves in flight");
            } else {
                let rows = report
                    .moves
                    .iter()
                    .map(|m| {
                        let pct = if m.bytes_total == 0 {
                            "-".to_string()
                        } else {
                            format!(
                                "{:.0}%",
                                m.bytes_copied as f64 * 100.0 / m.bytes_total as f64
                            )
                        };
                        vec![
                            format!("{}-{}", m.topic, m.partition),
                            format!("{:?}", m.target),
                            format!("{:?}", m.adding),
                            format!("{:?}", m.removing),
                            format!(
                                "{} of {}",
                                human_bytes(m.bytes_copied),
                                human_bytes(m.bytes_total)
                            ),
                            pct,
                        ]
                    })
                    .collect();
                printer.out(&table(
                    &["moving", "target", "adding", "removing", "copied", ""],
                    4,
                    rows,
                ));
                printer.out(&format!("{} moves in flight", report.moves.len()));
            }
            for m in &report.log_dir_moves {
                printer.out(&format!(
                    "disk move {}-{} on broker {}: {} -> {}, {} of {} copied",
                    m.topic,
                    m.partition,
                    m.broker,
                    m.log_dir,
                    m.future_log_dir,
                    human_bytes(m.bytes_copied),
                    human_bytes(m.bytes_total)
                ));
            }
            if report.throttles.is_empty() {
                printer.out("no throttles in force");
            } else {
                for t in &report.throttles {
                    printer.out(&format!(
                        "throttle {} {}: {}={}",
                        t.resource_type, t.resource, t.key, t.value
                    ));
                }
            }
        }
    }
    Ok(Exit::Ok)
}
