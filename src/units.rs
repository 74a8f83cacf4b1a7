//! Sizes and rates as operators write them: `200MiB`, `1.5GB`, `50MB/s`.

/// Parses a byte size: a number with an optional unit (B, KB, MB, GB, TB
/// are powers of 1000; KiB, MiB, GiB, TiB powers of 1024; K, M, G, T are
/// taken as binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 500MiB, 2GB, 1048576)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024f64.powi(4),
        u => return Err(format!("unknown size unit {u:?} in {s:?}")),
    };
    let v = n * mult;
    // `u64::MAX as f64` is 2^64, itself out of range: `as u64` would
    // saturate it (and anything past it) to u64::MAX in silence.
    if !(0.0..u64::MAX as f64).contains(&v) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v.round() as u64)
}

/// Parses a rate in bytes per second; a trailing `/s` is optional.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let v = parse_size(t)?;
    if v == 0 {
        return Err(format!("rate {s:?} must be above zero"));
    }
    Ok(v)
}

/// Bytes for people: binary units, three significant digits.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// A duration for people: `1h 02m`, `3m 20s`, `45s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.ceil() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("200MiB"), Ok(200 << 20));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(parse_rate("50MB/s"), Ok(50_000_000));
        assert!(parse_rate("0").is_err());
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_duration(3725.0), "1h 02m");
    }
}
