//! Synthetic but realistic cluster snapshots, for tests, benchmarks and
//! trying the planner without a cluster. Pure and seeded.
//!
//! What makes them realistic: the cluster grows in steps and topics are
//! placed (Kafka-style, rack-alternating round robin) only on the brokers
//! that existed when they were created, so old brokers carry more; racks
//! are uneven; replication factors 1 to 3 are mixed; topics have 1 to 256
//! partitions; partition sizes are heavy-tailed with a few hot partitions;
//! some brokers may be dead.
//!
//! Two choices keep the snapshots realistic without putting the quality bar
//! (within one replica of the ideal per broker *and* per topic, with no
//! more moves than the lower bound) out of reach by construction:
//! - Every expansion but the last was followed by a rebalance, as operators
//!   do: topics created before the last expansion are spread over all the
//!   brokers that existed before it. If several expansions were never
//!   rebalanced, the middle generation of brokers is short of replicas
//!   overall yet holds too much of the topics created in its time, so
//!   evening out those topics needs moves off brokers that are below their
//!   quota: beyond the bound, which only counts what must leave or arrive.
//! - Uneven racks differ by about one broker in twenty (at least one): one
//!   rack short, one long, as when racks were filled unevenly, not by a
//!   factor of two or three.
//!
//! Even so, two realistic cases stay beyond the per-topic part of the bar
//! (the planner still meets the rest): uneven racks, and dead or removed
//! brokers. With uneven racks, a partition whose replication factor equals
//! the number of racks has one replica in every rack, so a short rack's
//! brokers carry more of those and must carry fewer of the rest; a topic of
//! replication factor 1 or 2 then cannot sit near its even per-broker share
//! (which ignores that pull) on every broker: a 256-partition topic needs
//! several more per broker on the long rack. (The planner spreads that skew
//! over the topics, see `State::compute_quotas`.) With a dead or removed
//! broker, every topic it held must spread over all survivors, including
//! brokers that are themselves above their quota, and each replica given to
//! one of those costs a move beyond the bound, which counts only what must
//! leave or arrive.

use crate::model::log_dirs::LogDirLayout;
use crate::model::{Broker, Cluster, Partition, Topic, TopicPartition, rack_name};
use crate::planner::rng::SplitMix64;

#[derive(Debug, Clone)]
pub struct Profile {
    pub brokers: usize,
    pub racks: usize,
    /// Make rack sizes differ by about one broker in twenty (otherwise
    /// brokers are dealt round robin).
    pub uneven_racks: bool,
    /// The cluster grew in this many steps (1 = built at once).
    pub growth_steps: usize,
    /// Stop adding topics once this many partitions exist.
    pub partitions: usize,
    /// Largest partition count of a topic.
    pub max_partitions_per_topic: usize,
    /// Probability of replication factors 1, 2 and 3 (rest is 3).
    pub rf1: f64,
    pub rf2: f64,
    pub dead_brokers: usize,
    /// Typical partition size in bytes (the median of the heavy tail).
    pub median_bytes: u64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            brokers: 12,
            racks: 3,
            uneven_racks: true,
            growth_steps: 3,
            partitions: 2000,
            max_partitions_per_topic: 256,
            rf1: 0.1,
            rf2: 0.2,
            dead_brokers: 1,
            median_bytes: 64 << 20,
        }
    }
}

impl Profile {
    /// `gen-snapshot`'s defaults on `n` brokers: chain the setters below,
    /// named as its flags are, e.g.
    /// `Profile::brokers(8).rack_count(4).even_racks().partitions(859)`.
    pub fn brokers(n: usize) -> Profile {
        Profile {
            brokers: n,
            ..Profile::default()
        }
    }

    /// `--rack-count`.
    pub fn rack_count(self, n: usize) -> Profile {
        Profile { racks: n, ..self }
    }

    /// `--even-racks`.
    pub fn even_racks(self) -> Profile {
        Profile {
            uneven_racks: false,
            ..self
        }
    }

    /// `--growth-steps`.
    pub fn growth_steps(self, n: usize) -> Profile {
        Profile {
            growth_steps: n,
            ..self
        }
    }

    /// `--partitions`.
    pub fn partitions(self, n: usize) -> Profile {
        Profile {
            partitions: n,
            ..self
        }
    }

    /// `--dead-brokers`.
    pub fn dead_brokers(self, n: usize) -> Profile {
        Profile {
            dead_brokers: n,
            ..self
        }
    }

    /// `--rf3`: every partition has replication factor 3.
    pub fn rf3(self) -> Profile {
        Profile {
            rf1: 0.0,
            rf2: 0.0,
            ..self
        }
    }

    /// The benchmark's scale: 300 brokers in 6 racks, about a million
    /// partitions and three million replicas.
    pub fn large() -> Profile {
        Profile {
            brokers: 300,
            racks: 6,
            uneven_racks: false,
            growth_steps: 3,
            partitions: 1_000_000,
            max_partitions_per_topic: 256,
            rf1: 0.0,
            rf2: 0.0,
            dead_brokers: 0,
            median_bytes: 256 << 20,
        }
    }
}

/// Generates a snapshot; the same profile and seed give the same cluster.
pub fn generate(profile: &Profile, seed: u64) -> Cluster {
    let mut rng = SplitMix64::new(seed);
    let nb = profile.brokers.max(1);
    let racks = profile.racks;
    // Rack of each broker, dealt round robin; uneven racks move about one
    // broker in twenty from one rack to another, keeping every rack non-empty.
    let mut rack_of: Vec<Option<usize>> = if racks == 0 {
        vec![None; nb]
    } else {
        (0..nb).map(|i| Some(i % racks)).collect()
    };
    if racks > 1 && profile.uneven_racks {
        let (short, long) = {
            let a = rng.below(racks as u64) as usize;
            let b = (a + 1 + rng.below(racks as u64 - 1) as usize) % racks;
            (a, b)
        };
        let shift = (nb / 20).max(1).min((nb / racks).saturating_sub(1));
        // Take the youngest brokers of the short rack, so both the old and
        // the new generation keep a broker in every rack.
        let mut moved = 0;
        for i in (0..nb).rev() {
            if moved == shift {
                break;
            }
            if rack_of[i] == Some(short) && i >= racks {
                rack_of[i] = Some(long);
                moved += 1;
            }
        }
    }
    let rack_of = rack_of;
    let brokers: Vec<Broker> = (0..nb)
        .map(|i| Broker {
            id: i as i32 + 1,
            rack: rack_of[i].map(rack_name),
            host: Some(format!("broker-{}", i + 1)),
            port: Some(9092),
            alive: true,
        })
        .collect();

    let steps = profile.growth_steps.max(1);
    let mut topics = Vec::new();
    let mut made = 0usize;
    let sizes_choice = [
        1usize, 1, 2, 3, 4, 6, 8, 12, 12, 16, 24, 32, 48, 64, 100, 128, 256,
    ];
    let mut ti = 0usize;
    while made < profile.partitions {
        // Older topics (created on fewer brokers) make up a share of the
        // whole proportional to how long the cluster stood at that size.
        // Before the last expansion everything was rebalanced over the
        // brokers of the time (see the module documentation).
        let step = (made * steps / profile.partitions.max(1))
            .min(steps - 1)
            .max(steps.saturating_sub(2));
        let live = (nb * (step + 1)).div_ceil(steps).max(1);
        let np = sizes_choice[rng.below(sizes_choice.len() as u64) as usize]
            .min(profile.max_partitions_per_topic.max(1))
            .min(profile.partitions - made);
        let u = rng.unit();
        let rf = if u < profile.rf1 {
            1
        } else if u < profile.rf1 + profile.rf2 {
            2
        } else {
            3
        }
        .min(live);
        let topic_scale = heavy_tail(&mut rng) * profile.median_bytes as f64;
        let placement = place(
            &brokers[..live],
            rack_of.get(..live).unwrap_or(&[]),
            np,
            rf,
            &mut rng,
        );
        let partitions = placement
            .into_iter()
            .enumerate()
            .map(|(pi, replicas)| {
                let mut size = topic_scale * (0.5 + rng.unit());
                if rng.unit() < 0.01 {
                    size *= 10.0; // a hot partition
                }
                Partition {
                    partition: pi as i32,
                    isr: replicas.clone(),
                    leader: replicas.first().copied(),
                    replicas,
                    size_bytes: size as u64,
                    in_flight: None,
                }
            })
            .collect();
        topics.push(Topic {
            name: format!("topic-{ti:06}"),
            partitions,
        });
        ti += 1;
        made += np;
    }

    let mut cluster = Cluster { brokers, topics };
    // Dead brokers: chosen among the older ones, so they hold data. A pick
    // that is already dead takes the next alive broker, so the count asked
    // for is the count made.
    for k in 0..profile.dead_brokers.min(nb.saturating_sub(1)) {
        let mut i = (k * 7 + rng.below(nb as u64 / steps as u64 + 1) as usize) % nb;
        while !cluster.brokers[i].alive {
            i = (i + 1) % nb;
        }
        let id = cluster.brokers[i].id;
        cluster.brokers[i].alive = false;
        for t in &mut cluster.topics {
            for p in &mut t.partitions {
                p.isr.retain(|&b| b != id);
                if p.leader == Some(id) {
                    p.leader = p.isr.first().copied();
                }
            }
        }
    }
    cluster
}

/// A log-normal multiplier with median 1 (sigma 1.5): most topics small,
/// a few very large.
/// Gives each alive broker `dirs` log dirs (`/var/lib/kafka/data-0` ...;
/// `describe` cannot ask a dead one) and puts each of its replicas where
/// Kafka would have created it: in the broker's
/// dir holding the fewest partitions (the first of equals), partitions in
/// the order they were created. Counts even, bytes not: partition sizes
/// are heavy-tailed, which is why JBOD brokers drift apart.
pub fn log_dirs(cluster: &Cluster, dirs: usize) -> LogDirLayout {
    let names: Vec<String> = (0..dirs)
        .map(|d| format!("/var/lib/kafka/data-{d}"))
        .collect();
    let mut layout = LogDirLayout::default();
    let mut count: std::collections::BTreeMap<i32, Vec<usize>> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| {
            layout.add_broker_dirs(b.id, names.iter().cloned());
            (b.id, vec![0; dirs])
        })
        .collect();
    for t in &cluster.topics {
        for p in &t.partitions {
            for b in &p.replicas {
                let Some(held) = count.get_mut(b) else {
                    continue;
                };
                let d = (0..dirs).min_by_key(|&d| (held[d], d)).expect("dirs >= 1");
                held[d] += 1;
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: p.partition,
                };
                layout.insert(tp, *b, names[d].clone());
            }
        }
    }
    layout
}

fn heavy_tail(rng: &mut SplitMix64) -> f64 {
    let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (1.5 * z).exp()
}

/// Kafka-style placement: brokers listed alternating racks, the first
/// replica of partition `i` at `start + i`, followers shifted after it.
fn place(
    brokers: &[Broker],
    rack_of: &[Option<usize>],
    partitions: usize,
    rf: usize,
    rng: &mut SplitMix64,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    let mut by_rack: Vec<Vec<usize>> = Vec::new();
    for (i, r) in rack_of.iter().enumerate().take(n) {
        let r = r.unwrap_or(0);
        if by_rack.len() <= r {
            by_rack.resize(r + 1, Vec::new());
        }
        by_rack[r].push(i);
    }
    let mut alternating = Vec::with_capacity(n);
    let longest = by_rack.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for r in &by_rack {
            if let Some(&b) = r.get(k) {
                alternating.push(b);
            }
        }
    }
    let start = rng.below(n as u64) as usize;
    let mut shift = rng.below(n as u64) as usize;
    (0..partitions)
        .map(|i| {
            if i > 0 && i % n == 0 {
                shift += 1;
            }
            let first = (start + i) % n;
            let mut reps = vec![alternating[first]];
            let mut j = 0;
            while reps.len() < rf {
                let cand = alternating[(first + 1 + (shift + j) % (n - 1).max(1)) % n];
                j += 1;
                let racks_used = reps
                    .iter()
                    .filter(|&&b| rack_of[b] == rack_of[cand])
                    .count();
                let distinct_racks = by_rack.iter().filter(|r| !r.is_empty()).count();
                // Keep rack safety where the racks allow it.
                if !reps.contains(&cand)
                    && (racks_used == 0 || reps.len() >= distinct_racks || j > 4 * n)
                {
                    reps.push(cand);
                }
            }
            reps.iter().map(|&b| brokers[b].id).collect()
        })
        .collect()
}
