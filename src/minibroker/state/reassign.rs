//! Partition reassignment (KIP-455) and moves between a broker's log dirs.

use std::collections::BTreeMap;
use std::time::Instant;

use super::*;
use crate::minibroker::code;

impl State {
    /// AlterReplicaLogDirs for one replica, as Kafka's ReplicaManager
    /// answers it: a dir the broker lacks is LOG_DIR_NOT_FOUND; a replica
    /// the broker does not hold yet gets the dir remembered (a move that
    /// adds it creates it there) and REPLICA_NOT_AVAILABLE; a replica in
    /// another dir starts (or redirects) a future log there, which the
    /// replication step fills and swaps in; a replica already there drops
    /// any future log (the move is cancelled).
    pub fn alter_replica_log_dir(
        &mut self,
        broker: BrokerId,
        topic: &str,
        partition: i32,
        dir: &str,
    ) -> Result<(), Refusal> {
        let known = self
            .brokers
            .get(&broker)
            .is_some_and(|b| b.log_dirs.iter().any(|d| d == dir));
        if !known {
            return Err(Refusal::new(
                code::LOG_DIR_NOT_FOUND,
                format!("Log dir {dir} does not exist on broker {broker}."),
            ));
        }
        let Some(p) = self.partition_mut(topic, partition) else {
            return Err(Refusal::new(code::UNKNOWN_TOPIC_OR_PARTITION, ""));
        };
        let Some(r) = p.logs.get_mut(&broker) else {
            self.preferred_dirs
                .insert((topic.to_string(), partition, broker), dir.to_string());
            return Err(Refusal::new(code::REPLICA_NOT_AVAILABLE, ""));
        };
        if r.dir == dir {
            r.future = None;
        } else if r.future.as_ref().is_none_or(|f| f.dir != dir) {
            r.future = Some(FutureLog {
                dir: dir.to_string(),
                log: PartitionLog::new(),
            });
            crate::minibroker::persist::attach_replica(self, topic, partition, broker);
        }
        self.metadata_epoch += 1;
        Ok(())
    }

    /// Starts, overrides or cancels (target `None`) a reassignment.
    pub fn reassign(
        &mut self,
        topic: &str,
        partition: i32,
        target: Option<Vec<BrokerId>>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let brokers_known: Vec<BrokerId> = self.brokers.keys().copied().collect();
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        let dirs: BTreeMap<BrokerId, String> = self
            .brokers
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    v.log_dirs[partition.max(0) as usize % v.log_dirs.len()].clone(),
                )
            })
            .collect();
        // Kafka's controller words these refusals; clients show them as is.
        let unknown = if self.topics.contains_key(topic) {
            format!("Unable to find partition {topic}:{partition}.")
        } else {
            format!("Unable to find a topic named {topic}.")
        };
        let preferred = &mut self.preferred_dirs;
        let p = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(usize::try_from(partition).ok()?))
            .ok_or_else(|| Refusal::new(code::UNKNOWN_TOPIC_OR_PARTITION, unknown))?;
        match target {
            None => {
                if !p.reassigning() {
                    return Err(Refusal::new(code::NO_REASSIGNMENT_IN_PROGRESS, ""));
                }
                let original = p.original();
                if !original.iter().any(|b| p.isr.contains(b) && is_alive(*b)) {
                    return Err(Refusal::new(
                        code::INVALID_REPLICA_ASSIGNMENT,
                        "cancelling would need an unclean leader election",
                    ));
                }
                let adding = std::mem::take(&mut p.adding);
                p.removing.clear();
                p.replicas = original.clone();
                p.isr.retain(|b| original.contains(b));
                for b in &adding {
                    p.logs.remove(b);
                }
                if !original.contains(&p.leader) {
                    let next = original
                        .iter()
                        .copied()
                        .find(|b| p.isr.contains(b) && is_alive(*b))
                        .unwrap_or(-1);
                    Self::set_leader(p, next, &is_alive);
                }
            }
            Some(trs) => {
                if let Err(m) = validate_replicas_known(&brokers_known, &trs) {
                    return Err(Refusal::new(code::INVALID_REPLICA_ASSIGNMENT, m));
                }
                // As Kafka 4.x's controller does it: the current replicas,
                // ordered original first then any still-adding ones, are
                // compared with the target. Overriding a running move thus
                // turns its abandoned adding replicas into removing ones
                // (kept until completion), and a later cancel keeps them.
                let mut current = p.original();
                current.extend(p.adding.iter().copied());
                let adding: Vec<BrokerId> = trs
                    .iter()
                    .copied()
                    .filter(|b| !current.contains(b))
                    .collect();
                let removing: Vec<BrokerId> = current
                    .iter()
                    .copied()
                    .filter(|b| !trs.contains(b))
                    .collect();
                let mut replicas = trs.clone();
                replicas.extend(removing.iter().copied());
                p.replicas = replicas;
                p.adding = adding.clone();
                p.removing = removing;
                for b in adding.iter().copied() {
                    let dir = preferred.remove(&(topic.to_string(), partition, b));
                    p.logs.entry(b).or_insert_with(|| Replica {
                        dir: dir.unwrap_or_else(|| dirs[&b].clone()),
                        log: PartitionLog::new(),
                        future: None,
                        last_caught_up: now,
                        hw_checkpoint: None,
                    });
                }
                if p.adding.is_empty() && p.removing.is_empty() {
                    // A pure reorder (or a target equal to the original) completes at once.
                    p.replicas = trs;
                } else if trs.iter().all(|b| p.isr.contains(b)) {
                    complete_reassignment(p, &is_alive);
                }
                for b in adding {
                    crate::minibroker::persist::attach_replica(self, topic, partition, b);
                }
            }
        }
        self.metadata_epoch += 1;
        Ok(())
    }
}

/// Drops the removing replicas (and their data) once every target replica
/// is in sync; the leader moves only if it is not a target.
pub(super) fn complete_reassignment(p: &mut Partition, is_alive: &dyn Fn(BrokerId) -> bool) {
    let target = p.target();
    for b in std::mem::take(&mut p.removing) {
        p.logs.remove(&b);
    }
    p.adding.clear();
    p.isr.retain(|b| target.contains(b));
    p.replicas = target.clone();
    if !target.contains(&p.leader) {
        let next = target
            .iter()
            .copied()
            .find(|b| p.isr.contains(b) && is_alive(*b))
            .unwrap_or(-1);
        State::set_leader(p, next, is_alive);
    }
}

pub(super) fn validate_replicas(state: &State, replicas: &[BrokerId]) -> Result<(), String> {
    let known: Vec<BrokerId> = state.brokers.keys().copied().collect();
    validate_replicas_known(&known, replicas)
}

pub(super) fn validate_replicas_known(
    known: &[BrokerId],
    replicas: &[BrokerId],
) -> Result<(), String> {
    // Kafka's checks and words, in its order: brokers are examined sorted.
    if replicas.is_empty() {
        return Err("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    for (i, b) in sorted.iter().enumerate() {
        if !known.contains(b) {
            return Err(format!(
                "The manual partition assignment includes broker {b}, but no such broker is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == *b {
            return Err(format!(
                "The manual partition assignment includes the broker {b} more than once."
            ));
        }
    }
    Ok(())
}
