//! Reading the JSON documents operators hand in (snapshots, plans,
//! topics-to-move): a UTF-8 byte order mark is skipped (editors on Windows
//! write one), the top level must be the object the format describes, and
//! serde's messages are said in JSON's words, never in the parser's own
//! (`struct RawSnapshot with 3 elements`, `u16`, `sequence`).

use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::error::Category;

use super::{Problem, Problems};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses `bytes` as `T`; `what` describes the expected top-level object
/// for messages ("a snapshot object with version, brokers and topics").
pub(crate) fn parse<T: DeserializeOwned>(
    source: &str,
    bytes: &[u8],
    what: &str,
) -> Result<T, Problems> {
    let fail = |message: String| Problems::single(source, Problem::new("", message));
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(fail(
            "the input is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8"
                .into(),
        ));
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(fail(format!("the input is empty; expected {what}"))),
        Some(b'{') => {}
        // Valid JSON of the wrong kind is named as such; anything else
        // gets the syntax error below.
        Some(&first) if serde_json::from_slice::<IgnoredAny>(bytes).is_ok() => {
            return Err(fail(format!("expected {what}, found {}", kind(first))));
        }
        Some(_) => {}
    }
    serde_json::from_slice(bytes).map_err(|e| fail(describe(&e)))
}

/// The kind of a JSON value from its first byte (the value is known valid).
fn kind(first: u8) -> &'static str {
    match first {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match e.classify() {
        Category::Data => {
            let position = format!(" at line {} column {}", e.line(), e.column());
            let message = text.strip_suffix(&position).unwrap_or(&text);
            format!(
                "{} (line {}, column {})",
                in_json_words(message),
                e.line(),
                e.column()
            )
        }
        Category::Syntax | Category::Eof | Category::Io => format!("invalid JSON: {text}"),
    }
}

/// serde's data errors (`invalid type: sequence, expected u16`) in JSON's
/// vocabulary (`found an array, expected an integer from 0 to 65535`).
fn in_json_words(message: &str) -> String {
    let Some((found, expected)) = message.split_once(", expected ") else {
        return message.to_string();
    };
    let found = if let Some(t) = found.strip_prefix("invalid type: ") {
        unexpected(t)
    } else if let Some(v) = found.strip_prefix("invalid value: ") {
        unexpected(v)
    } else if found.starts_with("invalid length ") {
        // An array where an object was expected: serde reads objects from
        // arrays positionally, which no format here allows.
        "an array".to_string()
    } else {
        return message.to_string();
    };
    let expected = match expected {
        "u16" => "an integer from 0 to 65535",
        "u8" | "u32" | "u64" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a sequence" => "an array",
        "a map" => "an object",
        other => other,
    };
    format!("found {found}, expected {expected}")
}

/// serde's `Unexpected` as JSON names it.
fn unexpected(what: &str) -> String {
    let literal = |s: &str| s.trim_matches('`').to_string();
    match what {
        "sequence" => "an array".into(),
        "map" => "an object".into(),
        "null" | "unit value" => "null".into(),
        _ => {
            if let Some(n) = what
                .strip_prefix("integer ")
                .or_else(|| what.strip_prefix("floating point "))
            {
                format!("the number {}", literal(n))
            } else if let Some(b) = what.strip_prefix("boolean ") {
                literal(b)
            } else if let Some(s) = what.strip_prefix("string ") {
                format!("the string {s}")
            } else {
                what.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(expecting = "a thing object with a port")]
    #[allow(dead_code)]
    struct Thing {
        port: Option<u16>,
        size: Option<u64>,
        ids: Option<Vec<i64>>,
    }

    fn err(json: &str) -> String {
        parse::<Thing>("t.json", json.as_bytes(), "a thing object with a port")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn messages_use_json_words() {
        let cases = [
            (
                "[]",
                "t.json: expected a thing object with a port, found an array",
            ),
            (
                "\"x\"",
                "expected a thing object with a port, found a string",
            ),
            ("7", "found a number"),
            (
                "",
                "t.json: the input is empty; expected a thing object with a port",
            ),
            (
                r#"{"port":70000}"#,
                "found the number 70000, expected an integer from 0 to 65535 (line 1, column 13)",
            ),
            (
                r#"{"size":-1}"#,
                "found the number -1, expected a non-negative integer",
            ),
            (r#"{"ids":{}}"#, "found an object, expected an array"),
            (
                r#"{"ids":[1.5]}"#,
                "found the number 1.5, expected an integer",
            ),
            (
                r#"{"ids":["a"]}"#,
                "found the string \"a\", expected an integer",
            ),
            (
                r#"{"port":true}"#,
                "found true, expected an integer from 0 to 65535",
            ),
            ("{\"port\":", "invalid JSON: EOF while parsing a value"),
            ("<html>", "invalid JSON: expected value at line 1 column 1"),
            ("\u{feff}[1]", "found an array"),
        ];
        for (json, want) in cases {
            let got = err(json);
            assert!(got.contains(want), "{json}: {got}");
            for internal in [
                "Thing", "struct", "u16", "u64", "i64", "sequence", "elements",
            ] {
                assert!(!got.contains(internal), "{json}: {got}");
            }
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_utf16_is_named() {
        let ok = parse::<Thing>("t", b"\xEF\xBB\xBF{\"port\":1}", "a thing").unwrap();
        assert_eq!(ok.port, Some(1));
        let e = parse::<Thing>("t", b"\xFF\xFE{\0}\0", "a thing").unwrap_err();
        assert!(e.to_string().contains("UTF-16"), "{e}");
    }
}
