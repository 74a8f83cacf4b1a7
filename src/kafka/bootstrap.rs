//! What every live command is told about the cluster before it opens a
//! socket: the bootstrap servers (`HOST:PORT[,HOST:PORT...]`) and how long
//! to wait for an answer. Both parse here, so a malformed value is a usage
//! error before any connection, worded the same for every command.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The form every bootstrap message shows.
pub const BOOTSTRAP_FORM: &str = "HOST:PORT[,HOST:PORT...]";

/// One `HOST:PORT`; an IPv6 host is written in brackets, `[::1]:9092`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The bootstrap servers, at least one, in the order given. Empty entries
/// (a trailing comma) are skipped, as Kafka's clients skip them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    servers: Vec<Server>,
}

impl Bootstrap {
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }
}

/// `host:port,host:port`: what `Admin::connect` takes.
impl fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.servers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl FromStr for Bootstrap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let servers = s
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                server(e).map_err(|why| {
                    // The entry is named only where there are several.
                    let which = if s.contains(',') {
                        format!("{e:?}: ")
                    } else {
                        String::new()
                    };
                    format!("{which}{why}; expected {BOOTSTRAP_FORM}")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(format!("no server given; expected {BOOTSTRAP_FORM}"));
        }
        Ok(Bootstrap { servers })
    }
}

fn server(entry: &str) -> Result<Server, &'static str> {
    if entry.contains("://") {
        return Err("a scheme, which Kafka addresses do not have");
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("no closing ']'")?;
        let port = after.strip_prefix(':').ok_or("no port")?;
        (host, port)
    } else {
        let (host, port) = entry.rsplit_once(':').ok_or("no port")?;
        if host.contains(':') {
            return Err("an IPv6 address without brackets (write [::1]:9092)");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("no host");
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '[' | ']'))
    {
        return Err("not a host name or address");
    }
    if port.is_empty() {
        return Err("no port");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("no valid port (1 to 65535)"),
        Ok(port) => Ok(Server {
            host: host.to_string(),
            port,
        }),
    }
}

/// A timeout as a flag takes it: plain seconds (`30`), or with a unit
/// (`500ms`, `30s`, `2m`). Zero is refused: it would give up before any
/// broker could answer.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || format!("{s:?} is not a duration: give seconds (30) or 500ms, 30s, 2m");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

/// A duration for messages: `500 ms`, `1 s`, `1.5 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bootstrap_lists() {
        let b: Bootstrap = " a:9092, 10.0.0.1:19092,[::1]:9093,".parse().unwrap();
        assert_eq!(b.to_string(), "a:9092,10.0.0.1:19092,[::1]:9093");
        assert_eq!(b.servers()[2].host, "::1");
        for (bad, why) in [
            ("", "no server given"),
            (" , ", "no server given"),
            ("kafka", "no port"),
            ("kafka:", "no port"),
            (":9092", "no host"),
            ("kafka:0", "no valid port"),
            ("kafka:65536", "no valid port"),
            ("kafka:x", "no valid port"),
            ("a:1,b", "\"b\": no port"),
            ("::1:9092", "without brackets"),
            ("[::1:9092", "no closing"),
            ("http://kafka:9092", "a scheme"),
            ("my host:9092", "not a host name"),
        ] {
            let e = bad.parse::<Bootstrap>().unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(e.contains(BOOTSTRAP_FORM), "{bad:?}: {e}");
        }
    }

    #[test]
    fn parses_timeouts() {
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_timeout("0").unwrap_err().contains("more than 0"));
        assert!(parse_timeout("0ms").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("1h").is_err());
        assert!(parse_timeout("").is_err());
        assert_eq!(human(Duration::from_millis(500)), "500 ms");
        assert_eq!(human(Duration::from_secs(1)), "1 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
    }
}
