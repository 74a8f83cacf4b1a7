//! The executor's events as people and scripts read them: progress bars on
//! a terminal, plain lines in a log, JSON Lines for `--output json`.
//!
//! The driver decides and measures (bytes copied, rate, ETA come in its
//! events, from its clock); this module only draws. Plain lines are paced
//! by the events' own elapsed time, so a log reads the same at any speed.

use std::collections::{BTreeMap, BTreeSet};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::printer::{
    JSON_VERSION, OutputFormat, Printer, progress_target, stderr_is_terminal, utf8_locale,
};
use crate::exec::apply::{Event, LeftAloneView, Outcome, PartitionError, Progress, ThrottleReason};
use crate::model::{BrokerId, TopicPartition};
use crate::units::{human_bytes, human_duration};

/// How often a plain progress line is written (of the run's elapsed time).
const LINE_EVERY_MS: u64 = 10_000;

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// indicatif bars on stderr (a terminal).
    Bars,
    /// A line per step and a progress line every few seconds on stderr.
    Lines,
    /// Each event one JSON object on stdout, with `version`.
    Json,
}

impl Style {
    /// JSON for `--output json`; bars when stderr is a terminal and
    /// progress is wanted; plain lines otherwise.
    pub fn choose(format: OutputFormat, no_progress: bool) -> Style {
        match format {
            OutputFormat::Json => Style::Json,
            OutputFormat::Text if !no_progress && stderr_is_terminal() => Style::Bars,
            OutputFormat::Text => Style::Lines,
        }
    }
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    /// Per destination broker, with `-v`.
    brokers: BTreeMap<BrokerId, ProgressBar>,
}

/// Draws one run's events.
pub struct Renderer<'p> {
    printer: &'p Printer,
    style: Style,
    verbose: bool,
    bars: Option<Bars>,
    /// The elapsed time of the last plain progress line.
    last_line_ms: Option<u64>,
    /// The latest progress, for the line after a step.
    last: Option<Progress>,
    /// Refusals already warned about on stderr as they happened, which the
    /// run's end need not repeat.
    refusals_shown: BTreeSet<TopicPartition>,
}

fn bar_style(template: &str) -> ProgressStyle {
    let chars = if utf8_locale() {
        "█▉▊▋▌▍▎▏ "
    } else {
        "#>-"
    };
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars(chars)
}

fn pct(done: u64, total: u64) -> String {
    if total == 0 {
        "100%".into()
    } else {
        format!("{:.0}%", done as f64 * 100.0 / total as f64)
    }
}

fn rate_eta(p: &Progress) -> String {
    match (p.rate_bytes_per_sec, p.eta_seconds) {
        (Some(r), Some(eta)) => format!(
            "{}/s, ETA {}",
            human_bytes(r.max(0.0) as u64),
            human_duration(eta)
        ),
        (Some(r), None) => format!("{}/s", human_bytes(r.max(0.0) as u64)),
        _ => "rate not known yet".into(),
    }
}

/// One plain line of progress.
pub fn progress_line(p: &Progress) -> String {
    format!(
        "progress: {} of {} copied ({}), {} of {} partitions done, {} moving, {}",
        human_bytes(p.bytes_copied),
        human_bytes(p.bytes_total),
        pct(p.bytes_copied, p.bytes_total),
        p.partitions_done,
        p.partitions_total,
        p.in_flight,
        rate_eta(p)
    )
}

fn rates(replication: Option<u64>, log_dirs: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(r) = replication {
        parts.push(format!("replication {}/s", human_bytes(r)));
    }
    if let Some(r) = log_dirs {
        parts.push(format!("log dirs {}/s", human_bytes(r)));
    }
    if parts.is_empty() {
        "no throttle".into()
    } else {
        parts.join(", ")
    }
}

/// The lines a step (any event but progress) reads as, and the warnings
/// it carries. `verbose` adds the detail: each move, op and partition.
pub fn step_lines(e: &Event, verbose: bool) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    match e {
        Event::Started {
            partitions,
            already_done,
            adopted,
            to_submit,
            reorders,
            bytes_total,
            bound_seconds,
            replication_rate,
            log_dirs_rate,
            resumed,
        } => {
            if *resumed {
                lines.push("resuming from the journal of an earlier run".into());
            }
            let bound = match bound_seconds {
                Some(s) => format!(", at least {} at the throttle", human_duration(*s)),
                None => String::new(),
            };
            lines.push(format!(
                "{partitions} partitions in the plan: {already_done} already at their target, {adopted} moving from an earlier run, {to_submit} to submit ({reorders} leader-only reorders); {} to copy{bound} ({})",
                human_bytes(*bytes_total),
                rates(*replication_rate, *log_dirs_rate)
            ));
        }
        Event::Submitted {
            moves,
            reorders,
            refused,
            log_dirs,
            ..
        } => {
            let bytes: u64 = moves.iter().map(|m| m.bytes).sum();
            let reorders = match reorders {
                0 => String::new(),
                n => format!(" ({})", counted(*n, "leader-only reorder")),
            };
            // A poll that only had disk moves accepted says just that.
            if !moves.is_empty() || log_dirs.is_empty() {
                lines.push(format!(
                    "submitted {}{reorders}, {} to copy",
                    counted(moves.len(), "move"),
                    human_bytes(bytes)
                ));
            }
            if !log_dirs.is_empty() {
                let named: Vec<String> = log_dirs
                    .iter()
                    .take(10)
                    .map(|d| {
                        format!(
                            "{}-{} on {} to {}",
                            d.topic, d.partition, d.broker, d.log_dir
                        )
                    })
                    .collect();
                let more = log_dirs.len().saturating_sub(named.len());
                lines.push(format!(
                    "{} accepted into their log dir: {}{}",
                    counted(log_dirs.len(), "replica"),
                    named.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
            if verbose {
                for m in moves {
                    lines.push(format!(
                        "  {}-{} -> {:?} ({})",
                        m.topic,
                        m.partition,
                        m.target,
                        human_bytes(m.bytes)
                    ));
                }
            }
            for r in refused {
                warnings.push(format!(
                    "{}-{} refused by the cluster: {}",
                    r.topic, r.partition, r.error
                ));
            }
        }
        Event::Progress(p) => lines.push(progress_line(p)),
        Event::PartitionDone {
            topic,
            partition,
            replicas,
            ..
        } => {
            if verbose {
                lines.push(format!("done {topic}-{partition}: {replicas:?}"));
            }
        }
        Event::ThrottleChanged {
            reason,
            replication_rate,
            log_dirs_rate,
            ops,
            left_alone,
            ..
        } => {
            let what = match reason {
                ThrottleReason::Batch => {
                    format!(
                        "throttles set ({})",
                        rates(*replication_rate, *log_dirs_rate)
                    )
                }
                ThrottleReason::RateChanged => format!(
                    "throttle rate changed ({})",
                    rates(*replication_rate, *log_dirs_rate)
                ),
                ThrottleReason::Restored => "throttles restored to what they were before".into(),
            };
            lines.push(format!("{what}: {} config changes", ops.len()));
            if verbose {
                for o in ops {
                    lines.push(format!(
                        "  {} {}: {} {}{}",
                        o.resource_type,
                        o.resource,
                        o.op,
                        o.key,
                        o.value.as_ref().map_or(String::new(), |v| format!("={v}"))
                    ));
                }
            }
            warnings.extend(left_alone.iter().map(left_alone_line));
        }
        Event::Finished {
            elapsed_ms,
            outcome,
            partitions_done,
            partitions_total,
            in_flight,
            elected,
            bytes_copied,
        } => {
            let took = human_duration(*elapsed_ms as f64 / 1000.0);
            lines.push(match outcome {
                Outcome::Completed => format!(
                    "completed in {took}: {partitions_done} of {partitions_total} partitions at their target, {} copied, {elected} preferred leaders elected",
                    human_bytes(*bytes_copied)
                ),
                Outcome::Submitted => format!(
                    "submitted (--no-wait) in {took}: {in_flight} moves in flight, {partitions_done} of {partitions_total} partitions at their target"
                ),
                Outcome::Stopped => format!(
                    "stopped after {took}: {in_flight} moves still in flight, {partitions_done} of {partitions_total} partitions at their target; throttles stay in force"
                ),
                Outcome::Incomplete => format!(
                    "ended after {took} with {partitions_done} of {partitions_total} partitions at their target: the others were refused or diverged"
                ),
            });
        }
    }
    (lines, warnings)
}

/// Whether a plain progress line is due: the first one, then one per
/// [`LINE_EVERY_MS`] of the run's time.
fn line_due(last_ms: Option<u64>, now_ms: u64) -> bool {
    last_ms.is_none_or(|t| now_ms >= t.saturating_add(LINE_EVERY_MS))
}

/// "1 move", "2 moves".
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A throttle value the restore did not touch, and why: someone changed
/// it after this tool set it.
pub fn left_alone_line(l: &LeftAloneView) -> String {
    format!(
        "{} {}: {} left as it is: this tool set {:?}, and it is now {}",
        l.resource_type,
        l.resource,
        l.key,
        l.ours,
        l.now
            .as_ref()
            .map_or("deleted".to_string(), |v| format!("{v:?}"))
    )
}

/// An event as one JSON Lines record: its fields, its `event` tag and
/// `version`.
pub fn json_record(e: &Event) -> serde_json::Value {
    let mut v = serde_json::to_value(e).expect("events serialize");
    if let Some(o) = v.as_object_mut() {
        o.insert("version".into(), JSON_VERSION.into());
    }
    v
}

impl<'p> Renderer<'p> {
    pub fn new(printer: &'p Printer, style: Style, verbose: bool) -> Renderer<'p> {
        Renderer {
            printer,
            style,
            verbose,
            bars: None,
            last_line_ms: None,
            last: None,
            refusals_shown: BTreeSet::new(),
        }
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// A message for stderr that does not tear the bars.
    pub fn note(&self, msg: &str) {
        match &self.bars {
            Some(b) => b.multi.suspend(|| self.printer.note(msg)),
            None => self.printer.note(msg),
        }
    }

    pub fn warn(&self, msg: &str) {
        match &self.bars {
            Some(b) => b.multi.suspend(|| self.printer.warn(msg)),
            None => self.printer.warn(msg),
        }
    }

    /// Whether the refusal of `tp` was warned about as it happened.
    pub fn refusal_shown(&self, tp: &TopicPartition) -> bool {
        self.refusals_shown.contains(tp)
    }

    pub fn event(&mut self, e: &Event) {
        if let Event::Submitted { refused, .. } = e
            && self.style != Style::Json
        {
            self.refusals_shown
                .extend(refused.iter().map(PartitionError::tp));
        }
        match self.style {
            Style::Json => self.printer.json_line(&json_record(e)),
            Style::Lines => self.line(e),
            Style::Bars => self.bar(e),
        }
    }

    fn line(&mut self, e: &Event) {
        if let Event::Progress(p) = e {
            if line_due(self.last_line_ms, p.elapsed_ms) {
                self.last_line_ms = Some(p.elapsed_ms);
                self.printer.note(&progress_line(p));
            }
            self.last = Some(p.clone());
            return;
        }
        let (lines, warnings) = step_lines(e, self.verbose);
        for l in &lines {
            self.printer.note(l);
        }
        for w in &warnings {
            self.printer.warn(w);
        }
    }

    fn bar(&mut self, e: &Event) {
        match e {
            Event::Started { bytes_total, .. } => {
                let multi = MultiProgress::with_draw_target(progress_target());
                let overall = multi.add(ProgressBar::new(*bytes_total));
                overall.set_style(bar_style(
                    "{spinner} {elapsed_precise} [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg}",
                ));
                overall.enable_steady_tick(std::time::Duration::from_millis(200));
                self.bars = Some(Bars {
                    multi,
                    overall,
                    brokers: BTreeMap::new(),
                });
            }
            Event::Progress(p) => {
                if let Some(b) = &mut self.bars {
                    b.overall.set_length(p.bytes_total);
                    b.overall.set_position(p.bytes_copied.min(p.bytes_total));
                    b.overall.set_message(format!(
                        "{} of {} partitions, {} moving, {}",
                        p.partitions_done,
                        p.partitions_total,
                        p.in_flight,
                        rate_eta(p)
                    ));
                    if self.verbose {
                        for bp in &p.brokers {
                            let bar = b.brokers.entry(bp.broker).or_insert_with(|| {
                                let bar = b.multi.add(ProgressBar::new(bp.bytes_total));
                                bar.set_style(bar_style(
                                    "  broker {msg:>6} [{bar:30}] {binary_bytes}/{binary_total_bytes}",
                                ));
                                bar.set_message(bp.broker.to_string());
                                bar
                            });
                            bar.set_length(bp.bytes_total);
                            bar.set_position(bp.bytes_copied.min(bp.bytes_total));
                        }
                    }
                }
                self.last = Some(p.clone());
                return;
            }
            _ => {}
        }
        let (lines, warnings) = step_lines(e, self.verbose);
        for l in &lines {
            self.note(l);
        }
        for w in &warnings {
            self.warn(w);
        }
        if matches!(e, Event::Finished { .. }) {
            self.finish();
        }
    }

    /// Takes the bars off the terminal (the lines above them stay).
    pub fn finish(&mut self) {
        if let Some(b) = self.bars.take() {
            for bar in b.brokers.values() {
                bar.finish_and_clear();
            }
            b.overall.finish_and_clear();
            let _ = b.multi.clear();
        }
    }
}

impl Drop for Renderer<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(elapsed_ms: u64) -> Progress {
        Progress {
            elapsed_ms,
            bytes_copied: 512 << 20,
            bytes_total: 1 << 30,
            partitions_done: 3,
            partitions_total: 12,
            in_flight: 4,
            rate_bytes_per_sec: Some(50.0 * 1024.0 * 1024.0),
            eta_seconds: Some(10.24),
            brokers: Vec::new(),
        }
    }

    #[test]
    fn json_records_carry_the_event_and_the_version() {
        let v = json_record(&Event::Progress(progress(1500)));
        assert_eq!(v["version"], 1);
        assert_eq!(v["event"], "progress");
        assert_eq!(v["bytes_copied"], 512u64 << 20);
        let v = json_record(&Event::PartitionDone {
            elapsed_ms: 7,
            topic: "orders".into(),
            partition: 3,
            replicas: vec![1, 2],
        });
        assert_eq!(v["event"], "partition_done");
        assert_eq!(v["version"], 1);
    }

    #[test]
    fn plain_lines_are_paced_by_the_runs_own_time() {
        assert!(line_due(None, 0));
        assert!(!line_due(Some(0), LINE_EVERY_MS - 1));
        assert!(line_due(Some(0), LINE_EVERY_MS));
        assert!(line_due(Some(u64::MAX), u64::MAX));
        assert_eq!(counted(1, "move"), "1 move");
        assert_eq!(counted(0, "move"), "0 moves");
        assert_eq!(
            progress_line(&progress(0)),
            "progress: 512 MiB of 1.00 GiB copied (50%), 3 of 12 partitions done, 4 moving, 50.0 MiB/s, ETA 11s"
        );
    }

    // regression: a partition the cluster refused on submission was warned
    // about twice on stderr, when refused and again at the run's end.
    #[test]
    fn a_refusal_warned_as_it_happens_is_remembered() {
        let refused = PartitionError {
            topic: "orders".into(),
            partition: 1,
            code: 39,
            error: "INVALID_REPLICA_ASSIGNMENT (39)".into(),
        };
        let submitted = Event::Submitted {
            elapsed_ms: 0,
            moves: Vec::new(),
            reorders: 0,
            refused: vec![refused.clone()],
            log_dirs: Vec::new(),
        };
        let printer = Printer::new(OutputFormat::Json);
        let (_, warnings) = step_lines(&submitted, false);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let mut lines = Renderer::new(&printer, Style::Lines, false);
        assert!(!lines.refusal_shown(&refused.tp()));
        lines.event(&submitted);
        assert!(lines.refusal_shown(&refused.tp()));
        // JSON events go to stdout: the end's warnings on stderr are the
        // only ones.
        let mut json = Renderer::new(&printer, Style::Json, false);
        json.event(&submitted);
        assert!(!json.refusal_shown(&refused.tp()));
    }

    #[test]
    fn a_stop_says_that_moves_and_throttles_stay() {
        let (lines, warnings) = step_lines(
            &Event::Finished {
                elapsed_ms: 61_000,
                outcome: Outcome::Stopped,
                partitions_done: 2,
                partitions_total: 5,
                in_flight: 3,
                elected: 0,
                bytes_copied: 0,
            },
            false,
        );
        assert!(warnings.is_empty());
        assert_eq!(
            lines,
            [
                "stopped after 1m 01s: 3 moves still in flight, 2 of 5 partitions at their target; throttles stay in force"
            ]
        );
    }
}
