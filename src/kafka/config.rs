//! The client's settings, and the Kafka client properties file that
//! `--command-config` names (the file Kafka's own tools take).
//!
//! Parsing is pure: text in, settings or one error out. Reading the file
//! and printing warnings belong to the CLI. A value is never put in a
//! message when its key looks like a secret (`password`, `secret`, `jaas`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::bootstrap::Bootstrap;

/// What the client does on the wire, whatever the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// `client.id` in every request header.
    pub client_id: String,
    /// How long one request may wait for its answer (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// How long one call may take, retries included (`default.api.timeout.ms`,
    /// or the command's `--timeout`).
    pub api_timeout: Duration,
    /// Retries after the first attempt (`retries`); the API timeout bounds
    /// them too.
    pub retries: u32,
    /// The first wait before a retry (`retry.backoff.ms`), doubled per
    /// retry up to `retry_backoff_max` (`retry.backoff.max.ms`).
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
}

/// The client id unless the properties name another.
pub const DEFAULT_CLIENT_ID: &str = "kafka-migrate";
/// The API timeout unless `--timeout` or the properties say otherwise.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(30);

impl ClientSettings {
    /// Kafka's defaults with `timeout` for both a request and a call.
    pub fn with_timeout(timeout: Duration) -> ClientSettings {
        ClientSettings {
            client_id: DEFAULT_CLIENT_ID.to_string(),
            request_timeout: timeout,
            api_timeout: timeout,
            // Kafka's admin client retries without a count limit, within
            // default.api.timeout.ms.
            retries: u32::MAX,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
        }
    }

    /// The settings from a command's `--timeout` (if given) and its
    /// properties file: the flag wins over `default.api.timeout.ms`; a
    /// request waits `request.timeout.ms` if set, else the API timeout.
    pub fn resolve(timeout_flag: Option<Duration>, props: &CommandConfig) -> ClientSettings {
        let api_timeout = timeout_flag
            .or(props.api_timeout)
            .unwrap_or(DEFAULT_API_TIMEOUT);
        let mut s = ClientSettings::with_timeout(api_timeout);
        if let Some(t) = props.request_timeout {
            s.request_timeout = t;
        }
        if let Some(id) = &props.client_id {
            s.client_id = id.clone();
        }
        if let Some(r) = props.retries {
            s.retries = r;
        }
        if let Some(b) = props.retry_backoff {
            s.retry_backoff = b;
        }
        if let Some(b) = props.retry_backoff_max {
            s.retry_backoff_max = b;
        }
        s.retry_backoff_max = s.retry_backoff_max.max(s.retry_backoff);
        s
    }
}

/// What a `--command-config` file says that this client honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandConfig {
    pub bootstrap: Option<Bootstrap>,
    pub client_id: Option<String>,
    pub request_timeout: Option<Duration>,
    pub api_timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_backoff: Option<Duration>,
    pub retry_backoff_max: Option<Duration>,
    /// Keys this client does not use, sorted, for one warning.
    pub unknown: Vec<String>,
}

/// Why a properties file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A security setting: TLS and SASL arrive with a later release.
    #[error(
        "{what}: secured clusters (SSL, SASL) come with a later release of kafka-migrate; this one connects in plaintext only"
    )]
    Secured { what: String },
    #[error("line {line}: {key}: {why}")]
    Invalid {
        line: usize,
        key: String,
        why: String,
    },
}

/// Whether a key's value must never be shown.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "jaas"].iter().any(|s| k.contains(s))
}

/// Reads a Kafka client properties file.
pub fn parse_command_config(text: &str) -> Result<CommandConfig, ConfigError> {
    let props = parse_properties(text);
    // Security first: whatever else is wrong, a secured cluster is the
    // thing to say.
    let mut secured: Vec<String> = Vec::new();
    for (key, (_, value)) in &props {
        if key == "security.protocol" {
            if !value.eq_ignore_ascii_case("PLAINTEXT") {
                secured.push(format!("security.protocol={value}"));
            }
        } else if key.starts_with("sasl.") || key.starts_with("ssl.") {
            secured.push(key.clone());
        }
    }
    if !secured.is_empty() {
        return Err(ConfigError::Secured {
            what: secured.join(", "),
        });
    }
    let mut out = CommandConfig::default();
    for (key, (line, value)) in &props {
        let invalid = |why: String| ConfigError::Invalid {
            line: *line,
            key: key.clone(),
            why,
        };
        let millis = |positive: bool| -> Result<Duration, ConfigError> {
            let shown = if is_secret_key(key) {
                String::from("the value")
            } else {
                format!("{value:?}")
            };
            match value.trim().parse::<u64>() {
                Ok(0) if positive => Err(invalid(format!("{shown} must be more than 0"))),
                Ok(n) => Ok(Duration::from_millis(n)),
                Err(_) => Err(invalid(format!("{shown} is not a number of milliseconds"))),
            }
        };
        match key.as_str() {
            "security.protocol" => {}
            "bootstrap.servers" => {
                out.bootstrap = Some(value.parse::<Bootstrap>().map_err(invalid)?);
            }
            "client.id" => out.client_id = Some(value.clone()),
            "request.timeout.ms" => out.request_timeout = Some(millis(true)?),
            "default.api.timeout.ms" => out.api_timeout = Some(millis(true)?),
            "retry.backoff.ms" => out.retry_backoff = Some(millis(false)?),
            "retry.backoff.max.ms" => out.retry_backoff_max = Some(millis(false)?),
            "retries" => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("{value:?} is not a whole number of retries")))?;
                if n < 0 {
                    return Err(invalid(format!("{value:?} must be 0 or more")));
                }
                out.retries = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            _ => out.unknown.push(key.clone()),
        }
    }
    Ok(out)
}

/// Java's `.properties` syntax (`java.util.Properties.load`): `#` and `!`
/// comment lines, `key=value`, `key: value` or `key value`, a line ending
/// in an odd number of backslashes continued on the next (its leading
/// blanks dropped), and escapes (`\t`, `\n`, `\r`, `\f`, `\uXXXX`, and a
/// backslash before any other character standing for that character).
/// The last of repeated keys wins; each key keeps the line it started on.
pub fn parse_properties(text: &str) -> BTreeMap<String, (usize, String)> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, first)) = lines.next() {
        let first = first.trim_start_matches([' ', '\t', '\x0c']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut line = first;
        loop {
            let trailing = line.len() - line.trim_end_matches('\\').len();
            if trailing % 2 == 1 {
                logical.push_str(&line[..line.len() - 1]);
                match lines.next() {
                    Some((_, next)) => line = next.trim_start_matches([' ', '\t', '\x0c']),
                    None => break,
                }
            } else {
                logical.push_str(line);
                break;
            }
        }
        let (key, value) = split_key_value(&logical);
        out.insert(unescape(key), (i + 1, unescape(value)));
    }
    out
}

/// The raw key and value of a logical line: the key ends at the first
/// unescaped `=`, `:` or blank; blanks and one `=` or `:` separate.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(u) if hex.len() == 4 => {
                        out.push(u);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    // Java throws on a malformed \u; keeping the text is
                    // kinder, and the key is then unknown or invalid anyway.
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Vec<(String, usize, String)> {
        parse_properties(text)
            .into_iter()
            .map(|(k, (l, v))| (k, l, v))
            .collect()
    }

    #[test]
    fn reads_java_properties_syntax() {
        let text = "# comment\n  ! another\n\na=1\nb : 2\nc   3\nd=\n  e = x = y  \n\
                    long = one, \\\n      two, \\\n  three\n\
                    tab\\tkey=v\\u0041\\\\z\nesc\\=aped=q\nf=last\nf=later\nwin=a\\\r\n  b\r\n";
        assert_eq!(
            props(text),
            vec![
                ("a".into(), 4, "1".into()),
                ("b".into(), 5, "2".into()),
                ("c".into(), 6, "3".into()),
                ("d".into(), 7, "".into()),
                ("e".into(), 8, "x = y  ".into()),
                ("esc=aped".into(), 13, "q".into()),
                ("f".into(), 15, "later".into()),
                ("long".into(), 9, "one, two, three".into()),
                ("tab\tkey".into(), 12, "vA\\z".into()),
                ("win".into(), 16, "ab".into()),
            ]
        );
        // An even number of trailing backslashes is an escaped backslash,
        // not a continuation.
        assert_eq!(
            props("a=x\\\\\nb=y"),
            vec![("a".into(), 1, "x\\".into()), ("b".into(), 2, "y".into())]
        );
        // A continuation on the last line ends the value.
        assert_eq!(props("a=x\\"), vec![("a".into(), 1, "x".into())]);
    }

    #[test]
    fn honours_the_client_keys() {
        let c = parse_command_config(
            "bootstrap.servers=k1:9092,k2:9092\nclient.id=ops\nrequest.timeout.ms=5000\n\
             default.api.timeout.ms=60000\nretries=3\nretry.backoff.ms=50\nretry.backoff.max.ms=400\n\
             security.protocol=plaintext\nacks=all\nlinger.ms=5\n",
        )
        .unwrap();
        assert_eq!(c.bootstrap.unwrap().to_string(), "k1:9092,k2:9092");
        assert_eq!(c.client_id.as_deref(), Some("ops"));
        assert_eq!(c.request_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.api_timeout, Some(Duration::from_secs(60)));
        assert_eq!(c.retries, Some(3));
        assert_eq!(c.retry_backoff, Some(Duration::from_millis(50)));
        assert_eq!(c.retry_backoff_max, Some(Duration::from_millis(400)));
        assert_eq!(c.unknown, vec!["acks".to_string(), "linger.ms".to_string()]);
        assert_eq!(parse_command_config("").unwrap(), CommandConfig::default());
    }

    #[test]
    fn settings_come_from_the_flag_then_the_file_then_defaults() {
        let none = CommandConfig::default();
        let d = ClientSettings::resolve(None, &none);
        assert_eq!(d.api_timeout, DEFAULT_API_TIMEOUT);
        assert_eq!(d.request_timeout, DEFAULT_API_TIMEOUT);
        assert_eq!(d.client_id, "kafka-migrate");
        assert_eq!(d.retry_backoff, Duration::from_millis(100));
        assert_eq!(d.retry_backoff_max, Duration::from_secs(1));
        assert_eq!(d.retries, u32::MAX);
        let file = parse_command_config(
            "default.api.timeout.ms=9000\nrequest.timeout.ms=2000\nretries=0\nretry.backoff.ms=3000",
        )
        .unwrap();
        let s = ClientSettings::resolve(None, &file);
        assert_eq!(s.api_timeout, Duration::from_secs(9));
        assert_eq!(s.request_timeout, Duration::from_secs(2));
        assert_eq!(s.retries, 0);
        // The ceiling never sits below the first wait.
        assert_eq!(s.retry_backoff_max, Duration::from_secs(3));
        let flag = ClientSettings::resolve(Some(Duration::from_secs(4)), &file);
        assert_eq!(flag.api_timeout, Duration::from_secs(4));
        assert_eq!(flag.request_timeout, Duration::from_secs(2));
    }

    #[test]
    fn refuses_security_settings_without_their_values() {
        for (text, named) in [
            ("security.protocol=SASL_SSL", "security.protocol=SASL_SSL"),
            (
                "security.protocol=SSL\nssl.truststore.location=/x",
                "security.protocol=SSL, ssl.truststore.location",
            ),
            (
                "sasl.mechanism=PLAIN\nsasl.jaas.config=org.Plain required password=\"hunter2\";",
                "sasl.jaas.config, sasl.mechanism",
            ),
            ("ssl.key.password=hunter2", "ssl.key.password"),
        ] {
            let e = parse_command_config(text).unwrap_err();
            assert!(matches!(e, ConfigError::Secured { .. }), "{text}: {e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with(named), "{text}: {msg}");
            assert!(msg.contains("later release"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }

    #[test]
    fn invalid_values_name_line_and_key() {
        for (text, want) in [
            (
                "\nrequest.timeout.ms=abc",
                "line 2: request.timeout.ms: \"abc\" is not a number of milliseconds",
            ),
            (
                "default.api.timeout.ms=0",
                "line 1: default.api.timeout.ms: \"0\" must be more than 0",
            ),
            ("retries=-1", "line 1: retries: \"-1\" must be 0 or more"),
            ("retries=many", "is not a whole number"),
            (
                "bootstrap.servers=nohost",
                "line 1: bootstrap.servers: no port",
            ),
        ] {
            let e = parse_command_config(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(parse_command_config("retries=99999999999").unwrap().retries == Some(u32::MAX));
        assert!(is_secret_key("sasl.jaas.config"));
        assert!(is_secret_key("ssl.keystore.PASSWORD"));
        assert!(is_secret_key("my.client.secret"));
        assert!(!is_secret_key("client.id"));
    }
}
