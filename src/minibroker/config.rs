//! Cluster configuration, its limits, and the small parsers the CLI needs
//! (`orders:12:3`, `200MiB`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::kafka::scram::{self, ScramHash, StoredCredential};
use crate::units::human_bytes;

/// Most brokers one mini-broker runs. Each broker is a listener, and a
/// client such as librdkafka connects to every broker it learns of, so the
/// process holds about brokers × (clients + 1) sockets: 64 brokers leave
/// room for 15 such clients under the usual limit of 1024 open files.
pub const MAX_BROKERS: usize = 64;

/// Most partitions (all topics together), counting those created over the
/// wire. Every replication step (every 5 ms) visits each partition under
/// the state lock, so the step's length is the latency every request may
/// wait: measured, a step over 50,000 partitions of RF 3 takes 0.37 s in a
/// debug build (an optimised build is several times faster). The bound also
/// keeps a CreateTopics asking for 2^31 partitions from exhausting memory.
pub const MAX_PARTITIONS: usize = 100_000;

/// Most log dirs per broker (each is a directory under the data dir).
pub const MAX_LOG_DIRS: usize = 16;

/// A topic to create at start-up: `name:partitions:replication_factor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
}

impl std::str::FromStr for TopicSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad =
            || format!("invalid topic spec {s:?}, expected NAME:PARTITIONS:REPLICATION_FACTOR");
        match parts.as_slice() {
            [name, p, rf] if !name.is_empty() => Ok(TopicSpec {
                name: crate::model::check_topic_name(name).map(|()| name.to_string())?,
                partitions: p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
                replication_factor: rf.parse().ok().filter(|r| *r > 0).ok_or_else(bad)?,
            }),
            _ => Err(bad()),
        }
    }
}

/// Everything `Cluster::start` needs.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Number of brokers; ids are 1..=brokers.
    pub brokers: usize,
    /// Brokers get racks `rack-a`, `rack-b`, ... round-robin; 0 = no racks.
    pub racks: usize,
    /// Interface to bind; loopback unless told otherwise.
    pub host: String,
    /// Port of broker 1; broker n gets base_port + n - 1. 0 = ephemeral.
    pub base_port: u16,
    pub log_dirs_per_broker: usize,
    /// Root of the log dirs (`DIR/broker-1/dir-0`). When set, the cluster
    /// is loaded from it at start and saved by `shutdown_and_persist`;
    /// when not, data stays in memory and the paths are only names.
    pub data_dir: Option<PathBuf>,
    /// When segment writes reach the disk (`--flush`).
    pub flush: super::segment::FlushPolicy,
    pub topics: Vec<TopicSpec>,
    /// Synthetic bytes loaded into each start-up topic (spread unevenly
    /// over its partitions) without a producer.
    pub fill_bytes: u64,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_max: Duration,
    /// Replication step interval.
    pub replication_tick: Duration,
    pub cluster_id: String,
    /// `auto.create.topics.enable`: a Metadata request that names an
    /// unknown topic and allows auto-creation (as producers' do) creates
    /// it with the two defaults below.
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of an auto-created topic, and of a
    /// CreateTopics entry asking for the default (-1).
    pub default_partitions: i32,
    /// `default.replication.factor`, used the same way.
    pub default_replication_factor: i16,
    /// `min.insync.replicas` of a topic that does not set its own.
    pub min_insync_replicas: u16,
    /// `log.segment.bytes`: where a topic without `segment.bytes` rolls
    /// its segments (with a data dir).
    pub log_segment_bytes: u64,
    /// `offsets.retention.minutes` and `offsets.retention.check.interval.ms`.
    pub offsets_retention: Duration,
    pub offsets_retention_check: Duration,
    /// TLS on every listener, with a certificate for these names (empty:
    /// the host and `localhost`); None: plaintext.
    pub tls: Option<Vec<String>>,
    /// With `tls`: how its certificates are made (client certificates
    /// required, an expired broker certificate for tests).
    pub tls_options: super::tls::TlsOptions,
    /// SASL/PLAIN required on every listener, for these users; None: no
    /// authentication.
    pub sasl: Option<SaslUsers>,
    /// KIP-368's session lifetime given with every successful
    /// SaslAuthenticate; None: sessions never expire.
    pub sasl_session_lifetime: Option<Duration>,
}

/// A SASL mechanism the mini-broker can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramHash),
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(h) => h.mechanism(),
        }
    }
}

/// SASL users: PLAIN passwords, and SCRAM credentials salted and iterated
/// as Kafka stores them (no password kept); `Debug` shows only the names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SaslUsers {
    plain: BTreeMap<String, String>,
    scram: BTreeMap<(ScramHash, String), StoredCredential>,
}

impl SaslUsers {
    /// A PLAIN user.
    pub fn add(&mut self, user: &str, password: &str) {
        self.plain.insert(user.to_string(), password.to_string());
    }
    /// A SCRAM user, with a fresh salt and Kafka's minimum iterations.
    pub fn add_scram(&mut self, hash: ScramHash, user: &str, password: &str) {
        self.scram.insert(
            (hash, user.to_string()),
            StoredCredential::new(hash, password, scram::MIN_ITERATIONS),
        );
    }
    pub fn add_user(&mut self, u: &SaslUser) {
        match u.mechanism {
            SaslMechanism::Plain => self.add(&u.user, &u.password),
            SaslMechanism::Scram(h) => self.add_scram(h, &u.user, &u.password),
        }
    }
    pub fn check(&self, user: &str, password: &str) -> bool {
        self.plain.get(user).is_some_and(|p| p == password)
    }
    pub fn scram(&self, hash: ScramHash, user: &str) -> Option<StoredCredential> {
        self.scram.get(&(hash, user.to_string())).cloned()
    }
    /// The mechanisms some user can authenticate with, PLAIN first.
    pub fn mechanisms(&self) -> Vec<SaslMechanism> {
        let mut out: Vec<SaslMechanism> = self
            .scram
            .keys()
            .map(|(h, _)| SaslMechanism::Scram(*h))
            .collect();
        if !self.plain.is_empty() {
            out.insert(0, SaslMechanism::Plain);
        }
        out.dedup();
        out
    }
}

impl std::fmt::Debug for SaslUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslUsers")
            .field("plain", &self.plain.keys().collect::<Vec<_>>())
            .field("scram", &self.scram.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One `--sasl MECHANISM:USER:PASSWORD`; `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslUser {
    pub mechanism: SaslMechanism,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for SaslUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SaslUser({}, {:?})", self.mechanism.name(), self.user)
    }
}

/// `--sasl plain:USER:PASSWORD`, `scram-sha-256:...` or `scram-sha-512:...`.
pub fn parse_sasl_user(s: &str) -> Result<SaslUser, String> {
    const EXPECTED: &str = "expected MECHANISM:USER:PASSWORD, e.g. scram-sha-512:admin:secret";
    let (mechanism, rest) = s.split_once(':').ok_or(EXPECTED)?;
    let mechanism = match mechanism.to_ascii_lowercase().as_str() {
        "plain" => SaslMechanism::Plain,
        "scram-sha-256" => SaslMechanism::Scram(ScramHash::Sha256),
        "scram-sha-512" => SaslMechanism::Scram(ScramHash::Sha512),
        _ => {
            return Err(format!(
                "{mechanism:?}: one of plain, scram-sha-256, scram-sha-512"
            ));
        }
    };
    let (user, password) = rest.split_once(':').ok_or(EXPECTED)?;
    if user.is_empty() {
        return Err("the user is empty".into());
    }
    Ok(SaslUser {
        mechanism,
        user: user.to_string(),
        password: password.to_string(),
    })
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            brokers: 3,
            racks: 0,
            host: "127.0.0.1".into(),
            base_port: 0,
            log_dirs_per_broker: 1,
            data_dir: None,
            flush: Default::default(),
            topics: vec![],
            fill_bytes: 0,
            replica_lag_max: Duration::from_secs(10),
            replication_tick: Duration::from_millis(5),
            cluster_id: "kafka-migrate-mini".into(),
            // Kafka's defaults.
            auto_create_topics: true,
            default_partitions: 1,
            default_replication_factor: 1,
            min_insync_replicas: 1,
            log_segment_bytes: super::segment::DEFAULT_SEGMENT_BYTES,
            offsets_retention: super::groups::OFFSETS_RETENTION,
            offsets_retention_check: super::groups::OFFSETS_RETENTION_CHECK,
            tls: None,
            tls_options: Default::default(),
            sasl: None,
            sasl_session_lifetime: None,
        }
    }
}

impl ClusterConfig {
    /// `rack-a` ... `rack-z`, then `rack-aa`, `rack-ab`, ... so that every
    /// rack index has its own name.
    pub fn rack_of(&self, broker_index: usize) -> Option<String> {
        (self.racks > 0).then(|| crate::model::rack_name(broker_index % self.racks))
    }

    /// Checks every limit a configuration must meet before anything starts;
    /// the message names the value and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.brokers;
        if !(1..=MAX_BROKERS).contains(&n) {
            return Err(format!(
                "{n} brokers is out of range: the mini-broker runs 1 to {MAX_BROKERS}"
            ));
        }
        if self.racks > n {
            return Err(format!(
                "{} racks for {n} brokers: at most one rack per broker",
                self.racks
            ));
        }
        if !(1..=MAX_LOG_DIRS).contains(&self.log_dirs_per_broker) {
            return Err(format!(
                "{} log dirs per broker is out of range: 1 to {MAX_LOG_DIRS}",
                self.log_dirs_per_broker
            ));
        }
        if self.host.parse::<IpAddr>().is_err() {
            return Err(format!(
                "host {:?} is not an IP address (e.g. 127.0.0.1 or ::1)",
                self.host
            ));
        }
        if self.base_port != 0 {
            let last = u32::from(self.base_port) + n as u32 - 1;
            if last > u32::from(u16::MAX) {
                return Err(format!(
                    "ports {}-{last} for {n} brokers run past 65535: with {n} brokers the first port is at most {}",
                    self.base_port,
                    u32::from(u16::MAX) + 1 - n as u32
                ));
            }
        }
        let mut total = 0usize;
        for (i, t) in self.topics.iter().enumerate() {
            if self.topics[..i].iter().any(|u| u.name == t.name) {
                return Err(format!("topic {} is given twice", t.name));
            }
            if usize::try_from(t.replication_factor).unwrap_or(0) > n {
                return Err(format!(
                    "topic {}: replication factor {} is more than the {n} brokers",
                    t.name, t.replication_factor
                ));
            }
            total += usize::try_from(t.partitions).unwrap_or(0);
        }
        if total > MAX_PARTITIONS {
            return Err(format!(
                "{total} partitions in the topics given: the mini-broker holds at most {MAX_PARTITIONS}"
            ));
        }
        if !(1..=MAX_PARTITIONS as i64).contains(&i64::from(self.default_partitions)) {
            return Err(format!(
                "{} default partitions is out of range: 1 to {MAX_PARTITIONS}",
                self.default_partitions
            ));
        }
        if !(1..=n as i64).contains(&i64::from(self.default_replication_factor)) {
            return Err(format!(
                "default replication factor {} is out of range: 1 to the {n} brokers",
                self.default_replication_factor
            ));
        }
        Ok(())
    }

    /// A broker's log dirs: absolute, as Kafka's `log.dirs` are (a
    /// snapshot refuses relative ones), even for a relative `--data-dir`.
    pub fn log_dirs_of(&self, id: i32) -> Vec<String> {
        let root = match &self.data_dir {
            Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
            None => PathBuf::from("/mini-broker"),
        };
        (0..self.log_dirs_per_broker.max(1))
            .map(|d| {
                root.join(format!("broker-{id}"))
                    .join(format!("dir-{d}"))
                    .display()
                    .to_string()
            })
            .collect()
    }
}

/// Refuses a `--fill` that cannot fit in memory: the data is kept in
/// memory (one copy shared by a partition's replicas), so `fill` bytes for
/// each of `topics` topics must fit in `available` (None: unknown, no check).
pub fn check_fill_memory(fill: u64, topics: usize, available: Option<u64>) -> Result<(), String> {
    let Some(available) = available else {
        return Ok(());
    };
    let needed = u128::from(fill) * topics as u128;
    if needed > u128::from(available) {
        let needed = u64::try_from(needed).unwrap_or(u64::MAX);
        return Err(format!(
            "filling {topics} topic(s) with {} each needs {} of memory (the mini-broker keeps data in memory), more than the {} available (MemAvailable in /proc/meminfo)",
            human_bytes(fill),
            human_bytes(needed),
            human_bytes(available)
        ));
    }
    Ok(())
}

/// Memory available to a new process: `MemAvailable` of /proc/meminfo on
/// Linux, None elsewhere or when unreadable.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_users_parse_and_keep_scram_salted() {
        let u = parse_sasl_user("SCRAM-SHA-512:admin:pa:ss").unwrap();
        assert_eq!(u.mechanism, SaslMechanism::Scram(ScramHash::Sha512));
        assert_eq!((u.user.as_str(), u.password.as_str()), ("admin", "pa:ss"));
        assert!(!format!("{u:?}").contains("pa:ss"));
        assert!(
            parse_sasl_user("gssapi:a:b")
                .unwrap_err()
                .contains("scram-sha-256")
        );
        assert_eq!(
            parse_sasl_user("plain::x").unwrap_err(),
            "the user is empty"
        );
        let mut users = SaslUsers::default();
        users.add_user(&u);
        users.add_user(&parse_sasl_user("scram-sha-256:b:x").unwrap());
        users.add_user(&parse_sasl_user("plain:c:y").unwrap());
        assert_eq!(
            users.mechanisms(),
            [
                SaslMechanism::Plain,
                SaslMechanism::Scram(ScramHash::Sha256),
                SaslMechanism::Scram(ScramHash::Sha512)
            ]
        );
        let c = users.scram(ScramHash::Sha512, "admin").unwrap();
        assert_eq!(c.iterations, 4096);
        assert_eq!(c.salt.len(), 32);
        assert!(users.scram(ScramHash::Sha256, "admin").is_none());
        // The same password is salted afresh each time.
        let mut again = SaslUsers::default();
        again.add_user(&u);
        assert_ne!(
            again.scram(ScramHash::Sha512, "admin").unwrap().salt,
            c.salt
        );
    }

    #[test]
    fn parses_topic_specs() {
        let t: TopicSpec = "orders:12:3".parse().unwrap();
        assert_eq!(
            t,
            TopicSpec {
                name: "orders".into(),
                partitions: 12,
                replication_factor: 3
            }
        );
        assert!("orders:0:3".parse::<TopicSpec>().is_err());
        assert!("orders:3".parse::<TopicSpec>().is_err());
        let bad = "or ders:1:1".parse::<TopicSpec>().unwrap_err();
        assert!(bad.contains("invalid topic name \"or ders\""), "{bad}");
        assert!(".:1:1".parse::<TopicSpec>().is_err());
    }

    #[test]
    fn rack_names_never_repeat() {
        let c = ClusterConfig {
            brokers: 60,
            racks: 60,
            ..ClusterConfig::default()
        };
        let names: std::collections::BTreeSet<_> = (0..60).map(|i| c.rack_of(i).unwrap()).collect();
        assert_eq!(names.len(), 60);
        assert_eq!(c.rack_of(0).unwrap(), "rack-a");
        assert_eq!(c.rack_of(25).unwrap(), "rack-z");
        assert_eq!(c.rack_of(26).unwrap(), "rack-aa");
        assert_eq!(c.rack_of(53).unwrap(), "rack-bb");
    }

    #[test]
    fn limits_are_checked_with_the_range_named() {
        let ok = ClusterConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        let err = |c: ClusterConfig| c.validate().unwrap_err();
        let e = err(ClusterConfig {
            base_port: 65534,
            brokers: 5,
            ..ok.clone()
        });
        assert!(
            e.contains("65534-65538") && e.contains("at most 65531"),
            "{e}"
        );
        assert_eq!(
            ClusterConfig {
                base_port: 65531,
                brokers: 5,
                ..ok.clone()
            }
            .validate(),
            Ok(())
        );
        let e = err(ClusterConfig {
            brokers: MAX_BROKERS + 1,
            ..ok.clone()
        });
        assert!(e.contains("1 to 64"), "{e}");
        assert!(
            err(ClusterConfig {
                brokers: 0,
                ..ok.clone()
            })
            .contains("0 brokers")
        );
        assert!(
            err(ClusterConfig {
                racks: 4,
                ..ok.clone()
            })
            .contains("4 racks for 3 brokers")
        );
        assert!(
            err(ClusterConfig {
                log_dirs_per_broker: 0,
                ..ok.clone()
            })
            .contains("1 to 16")
        );
        assert!(
            err(ClusterConfig {
                host: "localhost".into(),
                ..ok.clone()
            })
            .contains("not an IP")
        );
        let e = err(ClusterConfig {
            topics: vec!["a:60000:1".parse().unwrap(), "b:40001:1".parse().unwrap()],
            ..ok.clone()
        });
        assert!(
            e.contains("100001 partitions") && e.contains("100000"),
            "{e}"
        );
        let e = err(ClusterConfig {
            topics: vec!["a:1:4".parse().unwrap()],
            ..ok.clone()
        });
        assert!(e.contains("replication factor 4"), "{e}");
        assert!(
            err(ClusterConfig {
                topics: vec!["a:1:1".parse().unwrap(), "a:2:1".parse().unwrap()],
                ..ok.clone()
            })
            .contains("twice")
        );
        assert!(
            err(ClusterConfig {
                default_partitions: 0,
                ..ok.clone()
            })
            .contains("default partitions")
        );
        assert!(
            err(ClusterConfig {
                default_replication_factor: 4,
                ..ok
            })
            .contains("1 to the 3 brokers")
        );
    }

    #[test]
    fn fill_is_bounded_by_available_memory() {
        assert_eq!(check_fill_memory(1 << 30, 2, Some(3 << 30)), Ok(()));
        assert_eq!(check_fill_memory(u64::MAX, 2, None), Ok(()));
        let e = check_fill_memory(2 << 30, 2, Some(3 << 30)).unwrap_err();
        assert!(
            e.contains("4.00 GiB") && e.contains("3.00 GiB available"),
            "{e}"
        );
        // No overflow on absurd sizes.
        assert!(check_fill_memory(u64::MAX, 3, Some(1 << 40)).is_err());
        assert_eq!(
            parse_mem_available("MemTotal: 100 kB\nMemAvailable:    2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_mem_available("MemTotal: 100 kB\n"), None);
    }
}
