//! All terminal output goes through here: data to stdout, messages and
//! progress to stderr. Tables use comfy-table.

use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The version of every `--output json` document; bumped on breaking change.
pub const JSON_VERSION: u32 = 1;

pub struct Printer {
    pub format: OutputFormat,
}

impl Printer {
    pub fn new(format: OutputFormat) -> Self {
        Printer { format }
    }

    /// Data for stdout. A closed pipe (`| head`) is not an error.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
    }

    pub fn json(&self, value: &serde_json::Value) {
        self.out(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
    }

    pub fn warn(&self, msg: &str) {
        eprintln!("warning: {msg}");
    }

    pub fn note(&self, msg: &str) {
        eprintln!("{msg}");
    }

    /// One `error:` line per line of the message (one per problem).
    pub fn error(&self, msg: &str, hint: Option<&str>) {
        for line in msg.lines() {
            eprintln!("error: {line}");
        }
        if let Some(h) = hint {
            eprintln!("hint: {h}");
        }
    }
}

/// A table with right-aligned numeric columns after the first `left` ones.
pub fn table(header: &[&str], left: usize, rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
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
    let used = eighths / 8 + usize::from(eighths % 8 > 0);
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    s
}
