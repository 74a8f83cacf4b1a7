//! All terminal output goes through here: data to stdout, messages and
//! progress to stderr. Tables use comfy-table.
//!
//! Standard output is checked, not assumed: a closed pipe (`| head`) ends
//! the output quietly, and any other failed write (`> /dev/full`) is kept
//! for `cli::main` to report as a failure, so a run never exits 0 having
//! written nothing. Text follows the locale: in a non-UTF-8 one (`LANG=C`)
//! borders, arrows and bars are ASCII.

// The one module that writes the terminal (clippy.toml holds the rest of
// the crate to that).
#![allow(clippy::disallowed_methods)]

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use comfy_table::presets::{ASCII_FULL_CONDENSED, UTF8_FULL_CONDENSED};
use comfy_table::{CellAlignment, ContentArrangement, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The formats of a command that reports on a plan (`plan`, `check`,
/// `apply --dry-run`): the text and JSON of [`OutputFormat`], or Markdown
/// for a pull-request comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

impl ReportFormat {
    /// How the printer writes everything but the report itself: Markdown
    /// is a document on stdout, messages stay text on stderr.
    pub fn base(self) -> OutputFormat {
        match self {
            ReportFormat::Json => OutputFormat::Json,
            ReportFormat::Text | ReportFormat::Markdown => OutputFormat::Text,
        }
    }
}

impl From<OutputFormat> for ReportFormat {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Text => ReportFormat::Text,
            OutputFormat::Json => ReportFormat::Json,
        }
    }
}

/// The version of every `--output json` document; bumped on breaking change.
pub const JSON_VERSION: u32 = 1;

/// The first failed write to standard output; later writes are skipped.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// The failed write to standard output, if any (for `cli::main`).
pub fn take_stdout_error() -> Option<std::io::Error> {
    STDOUT_ERROR.lock().map(|mut e| e.take()).unwrap_or(None)
}

fn write_stdout(text: &str) {
    let mut failed = STDOUT_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() {
        return;
    }
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{text}").and_then(|()| o.flush()) {
        *failed = Some(e);
    }
}

/// Whether the locale's character set is UTF-8 (`LC_ALL`, then
/// `LC_CTYPE`, then `LANG`, as C's `setlocale` reads them). No locale at
/// all is the C locale: ASCII.
pub fn utf8_locale() -> bool {
    static UTF8: OnceLock<bool> = OnceLock::new();
    *UTF8.get_or_init(|| {
        let var = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_ascii_lowercase();
        var.contains("utf-8") || var.contains("utf8")
    })
}

/// The text as the terminal's character set can show it: in ASCII, the
/// arrows and bars this tool draws become `->` and `#`.
pub fn glyphs(text: &str) -> Cow<'_, str> {
    if utf8_locale() || text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '→' => s.push_str("->"),
            '█' => s.push('#'),
            // Partial blocks of a bar: half or more shows, less does not,
            // and the bar keeps its width.
            '▌' | '▋' | '▊' | '▉' => s.push('#'),
            '▏' | '▎' | '▍' => s.push(' '),
            c if c.is_ascii() => s.push(c),
            _ => s.push('?'),
        }
    }
    Cow::Owned(s)
}

pub struct Printer {
    pub format: OutputFormat,
    /// Standard output carries data (`-o -`): text for people goes to
    /// stderr instead, so the data stays whole.
    data_on_stdout: bool,
}

impl Printer {
    pub fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            data_on_stdout: false,
        }
    }

    /// A printer for a command whose output file may be `-`. Its JSON
    /// summary would mix with that data on one stream: a usage error.
    pub fn for_outputs(
        format: impl Into<ReportFormat>,
        outputs: &[(&str, &Path)],
    ) -> anyhow::Result<Self> {
        let format = format.into();
        let on_stdout = outputs.iter().find(|(_, p)| crate::fsutil::is_stdout(p));
        if let Some((flag, _)) = on_stdout
            && format != ReportFormat::Text
        {
            let name = if format == ReportFormat::Json {
                "json"
            } else {
                "markdown"
            };
            return Err(super::exit::invalid(anyhow::anyhow!(
                "--output {name} and {flag} - would mix on standard output; write {flag} to a file"
            )));
        }
        Ok(Printer {
            format: format.base(),
            data_on_stdout: on_stdout.is_some(),
        })
    }

    /// Text for people, in the locale's character set: on stdout, or on
    /// stderr when stdout carries data.
    pub fn out(&self, text: &str) {
        if self.data_on_stdout {
            self.message(text);
        } else {
            write_stdout(&glyphs(text));
        }
    }

    /// Data for stdout, byte for byte (a plan, a snapshot).
    pub fn data(&self, text: &str) {
        write_stdout(text);
    }

    pub fn json(&self, value: &serde_json::Value) {
        self.data(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
    }

    /// One JSON Lines record on stdout (events of `--output json`).
    pub fn json_line(&self, value: &serde_json::Value) {
        self.data(&serde_json::to_string(value).expect("JSON values serialize"));
    }

    pub fn warn(&self, msg: &str) {
        self.message(&format!("warning: {msg}"));
    }

    pub fn note(&self, msg: &str) {
        self.message(msg);
    }

    /// One `error:` line per line of the message (one per problem).
    pub fn error(&self, msg: &str, hint: Option<&str>) {
        for line in msg.lines() {
            self.message(&format!("error: {line}"));
        }
        if let Some(h) = hint {
            self.message(&format!("hint: {h}"));
        }
    }

    /// A line for stderr, after whatever stdout holds so far, so the two
    /// read in order on one terminal.
    fn message(&self, line: &str) {
        let _ = std::io::stdout().lock().flush();
        let _ = writeln!(std::io::stderr().lock(), "{}", glyphs(line));
    }
}

/// Whether stderr is a terminal: progress is drawn as bars there, and
/// written as plain periodic lines anywhere else (a CI log, a file).
pub fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Where progress bars draw: stderr, the stream of messages, so stdout
/// stays data.
pub fn progress_target() -> indicatif::ProgressDrawTarget {
    indicatif::ProgressDrawTarget::stderr()
}

/// A table with right-aligned numeric columns after the first `left` ones.
pub fn table(header: &[&str], left: usize, rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(if utf8_locale() {
        UTF8_FULL_CONDENSED
    } else {
        ASCII_FULL_CONDENSED
    })
    .set_content_arrangement(ContentArrangement::Disabled)
    .set_header(header.to_vec());
    // Cells are in the locale's characters before widths are measured.
    for r in rows {
        t.add_row(r.iter().map(|c| glyphs(c).into_owned()).collect::<Vec<_>>());
    }
    for i in left..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// A small horizontal bar of `value / max`, `width` cells wide, with
/// eighth-block resolution.
pub fn bar(value: f64, max: f64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if max <= 0.0 {
        return " ".repeat(width);
    }
    let eighths = ((value / max).clamp(0.0, 1.0) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    s.push_str(PARTS[eighths % 8]);
    let used = eighths / 8 + usize::from(!eighths.is_multiple_of(8));
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    s
}
