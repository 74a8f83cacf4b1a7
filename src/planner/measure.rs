//! What a plan is judged against: the rack-aware ideals (each broker's
//! share of the replicas, each topic's share of one broker, each target
//! rack's) and the lower bounds on moves, measured on a starting state.
//!
//! One definition for both summaries: `plan` gets it from the planner,
//! which measured it on its own starting state ([`super::Outcome::ideals`],
//! [`super::Outcome::bounds`]); `check`, which has no planner run, measures
//! the snapshot the same way through [`measure`]. Offline partitions are
//! left out, as the planner leaves them out.

use super::Bounds;
use super::bound;
use super::online::Online;
use super::replicas::Replicas;
use super::state::{BrokerIx, State};
use crate::model::{BrokerId, Cluster};

/// The rack-aware ideals of a starting state (see the `ideal` module).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ideals {
    /// Per broker, in `Cluster::brokers` order: its ideal replica count
    /// (0 for a broker outside the target set).
    pub replicas: Vec<f64>,
    /// Per broker: the index of its rack in `racks` (0 for a broker
    /// outside the target set, and for every broker where racks do not
    /// count).
    pub rack_of: Vec<usize>,
    /// The racks that hold target brokers, by name; empty where racks do
    /// not count.
    pub racks: Vec<RackIdeal>,
    /// Per topic in `Cluster::topics` order, per rack of `racks` (one
    /// entry where racks do not count): the topic's own share of one
    /// broker there, rounded up, which topic excess is measured against.
    /// Empty for a topic with no online partition.
    pub topic_share: Vec<Vec<u32>>,
}

/// One rack holding target brokers.
#[derive(Debug, Clone, PartialEq)]
pub struct RackIdeal {
    pub name: String,
    /// Target brokers in it.
    pub brokers: usize,
    /// The ideal replica count of each of them.
    pub replicas: f64,
}

impl Ideals {
    /// A target broker's topic share for topic `t` (0 outside the target
    /// set, where every replica is excess).
    pub fn topic_cap(&self, t: usize, broker: usize, is_target: bool) -> u32 {
        if !is_target {
            return 0;
        }
        self.topic_share[t]
            .get(self.rack_of[broker])
            .copied()
            .unwrap_or(0)
    }

    /// Read off a fresh state of `cluster` (the cluster the state was made
    /// from: online partitions only).
    pub(super) fn of(cluster: &Online, st: &State, use_racks: bool) -> Ideals {
        let mut names: Vec<&str> = Vec::new();
        if use_racks {
            names = cluster
                .brokers()
                .iter()
                .filter_map(|b| b.rack.as_deref())
                .collect();
            names.sort_unstable();
            names.dedup();
        }
        let targets: Vec<usize> = (0..st.broker_count).filter(|&b| st.target[b]).collect();
        let mut target_racks: Vec<u16> = targets.iter().filter_map(|&b| st.rack[b]).collect();
        target_racks.sort_unstable();
        target_racks.dedup();
        let slot = |b: usize| -> usize {
            st.rack[b]
                .and_then(|r| target_racks.binary_search(&r).ok())
                .unwrap_or(0)
        };
        let rack_of: Vec<usize> = (0..st.broker_count)
            .map(|b| if st.target[b] { slot(b) } else { 0 })
            .collect();
        let racks = target_racks
            .iter()
            .map(|&r| {
                let members: Vec<usize> = targets
                    .iter()
                    .copied()
                    .filter(|&b| st.rack[b] == Some(r))
                    .collect();
                RackIdeal {
                    name: names[r as usize].to_string(),
                    brokers: members.len(),
                    replicas: st.ideal[members[0]],
                }
            })
            .collect();
        let slots: Vec<u16> = if target_racks.is_empty() {
            vec![0]
        } else {
            target_racks.clone()
        };
        let topic_share = (0..cluster.topic_count())
            .map(|t| {
                slots
                    .iter()
                    .map(|&r| st.share[t * st.nracks + r as usize])
                    .collect()
            })
            .collect();
        let replicas = (0..st.broker_count)
            .map(|b| if st.target[b] { st.ideal[b] } else { 0.0 })
            .collect();
        Ideals {
            replicas,
            rack_of,
            racks,
            topic_share,
        }
    }

    /// The same ideals for `full`, of which `online` is the part without
    /// its offline partitions: a topic left with none has no share.
    pub(super) fn for_full(mut self, full: &Cluster, online: &Online) -> Ideals {
        if full.topics.len() == online.topic_count() {
            return self;
        }
        let mut shares = std::mem::take(&mut self.topic_share).into_iter();
        let mut kept = online.topic_names().peekable();
        self.topic_share = full
            .topics
            .iter()
            .map(|t| {
                if kept.peek() == Some(&t.name.as_str()) {
                    kept.next();
                    shares.next().expect("one share per kept topic")
                } else {
                    Vec::new()
                }
            })
            .collect();
        self
    }
}

/// The ideals and lower bounds of `cluster` as it stands, judged against
/// `targets`, with racks counting or not: what `check` reports a plan
/// against. The planner measures its own start the same way.
pub fn measure(cluster: &Cluster, targets: &[BrokerId], use_racks: bool) -> (Ideals, Bounds) {
    let offline = cluster.offline_mask();
    let online = Online::new(cluster, &offline);
    let index = online.broker_index();
    let reps: Vec<Replicas> = online
        .partitions()
        .map(|(_, p)| p.replicas.iter().map(|id| index[id] as BrokerIx).collect())
        .collect();
    let target: Vec<bool> = online
        .brokers()
        .iter()
        .map(|b| targets.contains(&b.id))
        .collect();
    let movable = vec![true; reps.len()];
    let st = State::of(&online, reps, target, movable, use_racks);
    let ideals = Ideals::of(&online, &st, use_racks).for_full(cluster, &online);
    (ideals, Bounds::of(&st).0)
}

impl Bounds {
    /// The bounds of a fresh state, and the one the planner steers by (the
    /// count and flow bounds; the rack-lock term only adds where the flow
    /// bound is skipped, above its size limit, and steering by it there
    /// would change plans that were not measured against it).
    pub(super) fn of(st: &State) -> (Bounds, u64) {
        let steer = bound::lower_bound(st).max(bound::flow_bound_of(st));
        let bounds = Bounds {
            moves: steer.max(bound::rack_lock_bound(st)),
            exact_moves: None,
        };
        (bounds, steer)
    }
}
