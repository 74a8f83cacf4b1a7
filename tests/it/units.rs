//! Sizes, rates and durations as operators write and read them: every
//! unit and every boundary, where a wrong multiplier or a lost arm would
//! change a budget or a summary in silence.

use kafka_migrate::units::{human_bytes, human_duration, parse_rate, parse_size};

#[test]
fn sizes_in_every_unit() {
    const KI: u64 = 1024;
    let cases: [(&str, u64); 18] = [
        ("0", 0),
        ("1024", 1024),
        ("7B", 7),
        ("7KB", 7_000),
        ("5MB", 5_000_000),
        ("2GB", 2_000_000_000),
        ("3TB", 3_000_000_000_000),
        ("1.5k", 1536),
        ("3KiB", 3 * KI),
        ("200MiB", 200 * KI * KI),
        ("4m", 4 * KI * KI),
        ("500GiB", 500 * KI * KI * KI),
        ("3G", 3 * KI * KI * KI),
        ("2TiB", 2 * KI * KI * KI * KI),
        ("1t", KI * KI * KI * KI),
        ("1.5GiB", 3 * KI * KI * KI / 2),
        (" 12 mib ", 12 * KI * KI),
        ("0.5KB", 500),
    ];
    for (text, bytes) in cases {
        assert_eq!(parse_size(text), Ok(bytes), "{text:?}");
    }
}

#[test]
fn sizes_out_of_range_or_malformed() {
    // The largest f64 below 2^64 fits; 2^64 and past it do not.
    assert_eq!(
        parse_size("18446744073709549568"),
        Ok(18_446_744_073_709_549_568)
    );
    for bad in [
        "18446744073709551616",
        "16384PiB",
        "16777216TiB",
        "100000000000000000000",
        &"9".repeat(400),
    ] {
        let e = parse_size(bad).unwrap_err();
        assert!(
            e.contains("out of range") || e.contains("unknown size unit"),
            "{bad}: {e}"
        );
    }
    assert_eq!(
        parse_size("18446744073709551616").unwrap_err(),
        "\"18446744073709551616\" is out of range"
    );
    assert_eq!(
        parse_size("-5MB").unwrap_err(),
        "\"-5MB\" is not a size (e.g. 500MiB, 2GB, 1048576)"
    );
    assert_eq!(
        parse_size("12 parsecs").unwrap_err(),
        "unknown size unit \"parsecs\" in \"12 parsecs\""
    );
    assert!(parse_size("").is_err());
    assert!(parse_size("GiB").is_err());
    assert!(parse_size("1.2.3").is_err());
}

#[test]
fn rates() {
    assert_eq!(parse_rate("50MB/s"), Ok(50_000_000));
    assert_eq!(parse_rate("50MB"), Ok(50_000_000));
    assert_eq!(parse_rate("1"), Ok(1));
    assert_eq!(parse_rate("10MiB/s"), Ok(10 << 20));
    assert_eq!(
        parse_rate("0/s").unwrap_err(),
        "rate \"0/s\" must be above zero"
    );
    assert!(parse_rate("fast").is_err());
}

#[test]
fn bytes_for_people() {
    const KI: u64 = 1024;
    let cases: [(u64, &str); 14] = [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (9 * KI, "9.00 KiB"),
        (10 * KI, "10.0 KiB"),
        (99 * KI, "99.0 KiB"),
        (100 * KI, "100 KiB"),
        (1023 * KI, "1023 KiB"),
        (5 * KI * KI * KI, "5.00 GiB"),
        (3 * KI * KI * KI * KI, "3.00 TiB"),
        (KI * KI * KI * KI * KI, "1.00 PiB"),
        // Past PiB there is no larger unit: the number grows.
        (KI * KI * KI * KI * KI * KI, "1024 PiB"),
        (u64::MAX, "16384 PiB"),
    ];
    for (bytes, text) in cases {
        assert_eq!(human_bytes(bytes), text, "{bytes}");
    }
}

#[test]
fn durations_for_people() {
    let cases: [(f64, &str); 9] = [
        (0.0, "0s"),
        (0.2, "1s"),
        (45.0, "45s"),
        (59.2, "1m 00s"),
        (200.0, "3m 20s"),
        (3599.0, "59m 59s"),
        (3600.0, "1h 00m"),
        (3725.0, "1h 02m"),
        (90000.0, "25h 00m"),
    ];
    for (secs, text) in cases {
        assert_eq!(human_duration(secs), text, "{secs}");
    }
}
