//! Where replicas go and who leads: topic creation and deletion, brokers
//! stopping, starting and joining, leader elections.

use std::collections::BTreeMap;
use std::time::Instant;

use super::reassign::validate_replicas;
use super::*;
use crate::minibroker::code;

impl State {
    /// Refuses `more` partitions that would take the cluster past
    /// [`MAX_PARTITIONS`].
    fn check_room(&self, more: usize) -> Result<(), Refusal> {
        let have = self.partition_count();
        if have.saturating_add(more) > MAX_PARTITIONS {
            return Err(Refusal::new(
                code::POLICY_VIOLATION,
                format!(
                    "the mini-broker holds at most {MAX_PARTITIONS} partitions: {have} exist and {more} more were asked for"
                ),
            ));
        }
        Ok(())
    }

    /// Rack-aware round-robin placement over live brokers: consecutive
    /// brokers in the rack-interleaved order land in different racks.
    pub fn place(&self, partitions: i32, rf: i16) -> Result<Vec<Vec<BrokerId>>, Refusal> {
        if partitions <= 0 {
            return Err(Refusal::new(
                code::INVALID_PARTITIONS,
                "partitions must be positive",
            ));
        }
        // Before any allocation: a request may ask for 2^31 partitions.
        self.check_room(partitions as usize)?;
        let mut by_rack: BTreeMap<Option<String>, Vec<BrokerId>> = BTreeMap::new();
        for b in self.brokers.values().filter(|b| b.alive) {
            by_rack.entry(b.rack.clone()).or_default().push(b.id);
        }
        let mut order = Vec::new();
        let max_len = by_rack.values().map(Vec::len).max().unwrap_or(0);
        for i in 0..max_len {
            for ids in by_rack.values() {
                if let Some(id) = ids.get(i) {
                    order.push(*id);
                }
            }
        }
        let rf_usize = usize::try_from(rf).unwrap_or(0);
        if rf_usize == 0 || rf_usize > order.len() {
            return Err(Refusal::new(
                code::INVALID_REPLICATION_FACTOR,
                format!(
                    "replication factor {rf} larger than {} live brokers",
                    order.len()
                ),
            ));
        }
        let n = order.len();
        let rack_of = |b: BrokerId| self.brokers[&b].rack.clone();
        Ok((0..partitions as usize)
            .map(|p| {
                // Leader rotates; followers are the next brokers in the
                // rack-interleaved order, skipping racks already used while
                // unused racks remain.
                let mut replicas = vec![order[p % n]];
                let mut step = 1;
                while replicas.len() < rf_usize {
                    let all_racks_used = by_rack
                        .keys()
                        .all(|r| replicas.iter().any(|b| rack_of(*b) == *r));
                    let candidate = order[(p + step) % n];
                    step += 1;
                    if replicas.contains(&candidate) {
                        continue;
                    }
                    if all_racks_used || !replicas.iter().any(|b| rack_of(*b) == rack_of(candidate))
                    {
                        replicas.push(candidate);
                    }
                }
                replicas
            })
            .collect())
    }

    /// Creates a topic from an explicit assignment (validated here).
    pub fn create_topic(
        &mut self,
        name: &str,
        assignment: Vec<Vec<BrokerId>>,
        configs: BTreeMap<String, String>,
        now: Instant,
    ) -> Result<Uuid, Refusal> {
        if self.topics.contains_key(name) {
            return Err(Refusal::new(
                code::TOPIC_ALREADY_EXISTS,
                format!("topic {name} already exists"),
            ));
        }
        if !valid_topic_name(name) {
            return Err(Refusal::new(
                code::INVALID_TOPIC,
                format!("invalid topic name {name:?}"),
            ));
        }
        self.check_room(assignment.len())?;
        for (p, replicas) in assignment.iter().enumerate() {
            validate_replicas(self, replicas).map_err(|m| {
                Refusal::new(
                    code::INVALID_REPLICA_ASSIGNMENT,
                    format!("partition {p}: {m}"),
                )
            })?;
        }
        self.next_topic_id += 1;
        let id = Uuid::from_u64_pair(0x6b61_666b_615f_6d62, self.next_topic_id);
        let partitions = assignment
            .into_iter()
            .enumerate()
            .map(|(i, replicas)| {
                let alive: Vec<BrokerId> = replicas
                    .iter()
                    .copied()
                    .filter(|b| self.is_alive(*b))
                    .collect();
                let logs = replicas
                    .iter()
                    .map(|b| {
                        let dir = self.pick_dir(*b, i);
                        (
                            *b,
                            Replica {
                                dir,
                                log: PartitionLog::new(),
                                future: None,
                                last_caught_up: now,
                                hw_checkpoint: None,
                            },
                        )
                    })
                    .collect();
                Partition {
                    index: i as i32,
                    leader: alive.first().copied().unwrap_or(-1),
                    isr: if alive.is_empty() {
                        replicas.clone()
                    } else {
                        alive
                    },
                    replicas,
                    leader_epoch: 0,
                    adding: vec![],
                    removing: vec![],
                    hw: 0,
                    logs,
                }
            })
            .collect();
        self.topics.insert(
            name.to_string(),
            Topic {
                name: name.to_string(),
                id,
                configs,
                partitions,
            },
        );
        crate::minibroker::persist::attach_topic(self, name);
        self.metadata_epoch += 1;
        Ok(id)
    }

    /// Kafka's auto-creation: `name` with the default partitions and
    /// replication factor, placed as CreateTopics without an assignment.
    pub fn auto_create(&mut self, name: &str, now: Instant) -> Result<Uuid, Refusal> {
        let d = self.topic_defaults.clone();
        let assignment = self.place(d.partitions, d.replication_factor)?;
        self.create_topic(name, assignment, BTreeMap::new(), now)
    }

    fn pick_dir(&self, broker: BrokerId, partition: usize) -> String {
        let dirs = &self.brokers[&broker].log_dirs;
        dirs[partition % dirs.len()].clone()
    }

    pub fn delete_topic(&mut self, name: &str) -> Result<Uuid, Refusal> {
        let t = self.topics.remove(name).ok_or_else(|| {
            Refusal::new(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("unknown topic {name}"),
            )
        })?;
        self.groups.topic_deleted(name);
        self.metadata_epoch += 1;
        Ok(t.id)
    }

    /// Gives every replica of a partition a copy of `log` (data written
    /// before the cluster started) and commits all of it.
    pub fn load_partition(&mut self, topic: &str, partition: i32, log: &PartitionLog) {
        let Some(p) = self.partition_mut(topic, partition) else {
            return;
        };
        for r in p.logs.values_mut() {
            r.log = log.clone();
        }
        p.hw = log.leo();
        let brokers: Vec<BrokerId> = p.logs.keys().copied().collect();
        for b in brokers {
            crate::minibroker::persist::attach_replica(self, topic, partition, b);
        }
        self.metadata_epoch += 1;
    }

    /// Makes `leader` the partition leader (-1 for none): bumps the leader
    /// epoch and truncates live followers that are ahead of the new leader,
    /// so every log stays a prefix-consistent copy.
    pub(super) fn set_leader(
        p: &mut Partition,
        leader: BrokerId,
        alive: &dyn Fn(BrokerId) -> bool,
    ) {
        p.leader = leader;
        p.leader_epoch += 1;
        if let Some(leo) = p.logs.get(&leader).map(|r| r.log.leo()) {
            for (b, r) in p.logs.iter_mut() {
                if *b != leader && alive(*b) {
                    r.log.truncate_to(leo);
                }
            }
        }
    }

    /// A broker went down: fence it, drop it from every ISR (unless it is
    /// the last member), fail leadership over to a live ISR member, and
    /// move the controller role if it held it.
    pub fn broker_stopped(&mut self, id: BrokerId) {
        let Some(b) = self.brokers.get_mut(&id) else {
            return;
        };
        b.alive = false;
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        for t in self.topics.values_mut() {
            for p in t.partitions.iter_mut() {
                let Some(r) = p.logs.get_mut(&id) else {
                    continue;
                };
                r.hw_checkpoint = Some(p.hw);
                if p.isr.contains(&id) && p.isr.len() > 1 {
                    p.isr.retain(|b| *b != id);
                }
                if p.leader == id {
                    let next = p
                        .replicas
                        .iter()
                        .copied()
                        .find(|b| p.isr.contains(b) && is_alive(*b));
                    Self::set_leader(p, next.unwrap_or(-1), &is_alive);
                }
            }
        }
        if self.controller == id {
            self.controller = self.alive_brokers().first().copied().unwrap_or(-1);
            self.controller_epoch += 1;
        }
        self.recompute_hw();
        self.metadata_epoch += 1;
    }

    /// A broker came back: truncate its logs to the last committed offset it
    /// knew, and let it lead partitions that had no leader but it in the ISR.
    pub fn broker_started(&mut self, id: BrokerId, port: u16, now: Instant) {
        let Some(b) = self.brokers.get_mut(&id) else {
            return;
        };
        b.alive = true;
        b.port = port;
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        for t in self.topics.values_mut() {
            for p in t.partitions.iter_mut() {
                let Some(r) = p.logs.get_mut(&id) else {
                    continue;
                };
                if let Some(hw) = r.hw_checkpoint.take() {
                    r.log.truncate_to(hw);
                }
                r.last_caught_up = now;
                if p.leader == -1 && p.isr.contains(&id) {
                    Self::set_leader(p, id, &is_alive);
                }
            }
        }
        if self.controller == -1 {
            self.controller = id;
            self.controller_epoch += 1;
        }
        self.metadata_epoch += 1;
    }

    /// A new, empty broker joins, as a Kafka broker does when it first
    /// registers: alive, no replicas, no configs. Placement counts it from
    /// now on; existing partitions reach it only by reassignment. Refused
    /// when the id is taken or not positive, or the cluster is full.
    pub fn add_broker(&mut self, broker: Broker) -> Result<(), String> {
        let id = broker.id;
        if id <= 0 {
            return Err(format!("broker id {id}: ids are positive"));
        }
        if self.brokers.contains_key(&id) {
            return Err(format!("broker {id} already exists"));
        }
        if self.brokers.len() >= MAX_BROKERS {
            return Err(format!(
                "the mini-broker runs at most {MAX_BROKERS} brokers"
            ));
        }
        self.brokers.insert(id, broker);
        if self.controller == -1 {
            self.controller = id;
            self.controller_epoch += 1;
        }
        self.metadata_epoch += 1;
        Ok(())
    }

    /// Leader election: type 0 preferred, 1 unclean. Refusals carry
    /// Kafka 4.3.1's messages (its `Errors` defaults).
    pub fn elect(&mut self, topic: &str, partition: i32, election_type: i8) -> Result<(), Refusal> {
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        let p = self.partition_mut(topic, partition).ok_or_else(|| {
            Refusal::new(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("unknown partition {topic}-{partition}"),
            )
        })?;
        match election_type {
            0 => {
                let preferred = p.replicas[0];
                if p.leader == preferred {
                    return Err(Refusal::new(code::ELECTION_NOT_NEEDED, ELECTION_NOT_NEEDED));
                }
                if !is_alive(preferred) || !p.isr.contains(&preferred) {
                    return Err(Refusal::new(
                        code::PREFERRED_LEADER_NOT_AVAILABLE,
                        "The preferred leader was not available.",
                    ));
                }
                Self::set_leader(p, preferred, &is_alive);
            }
            1 => {
                if p.leader >= 0 && is_alive(p.leader) {
                    return Err(Refusal::new(code::ELECTION_NOT_NEEDED, ELECTION_NOT_NEEDED));
                }
                let next = p
                    .replicas
                    .iter()
                    .copied()
                    .find(|b| is_alive(*b) && p.isr.contains(b))
                    .or_else(|| p.replicas.iter().copied().find(|b| is_alive(*b)));
                let Some(next) = next else {
                    return Err(Refusal::new(
                        code::ELIGIBLE_LEADERS_NOT_AVAILABLE,
                        "Eligible topic partition leaders are not available.",
                    ));
                };
                if !p.isr.contains(&next) {
                    // Unclean: the new leader's log defines the partition from now on.
                    p.isr = vec![next];
                    let leo = p.logs[&next].log.leo();
                    p.hw = p.hw.min(leo);
                }
                Self::set_leader(p, next, &is_alive);
            }
            _ => return Err(Refusal::new(code::INVALID_REQUEST, "unknown election type")),
        }
        self.metadata_epoch += 1;
        Ok(())
    }
}

/// Kafka's words for ELECTION_NOT_NEEDED, for a preferred election where the
/// preferred leader leads and an unclean one where a leader is live.
const ELECTION_NOT_NEEDED: &str = "Leader election not needed for topic partition.";
