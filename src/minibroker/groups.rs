//! The classic group coordinator (Kafka's `ClassicGroup` and the offset
//! manager behind JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit and OffsetFetch) as a state machine: no I/O, no clock of
//! its own (every call takes `now`), no waiting. The handlers in
//! `api/groups.rs` wait for the answers a rebalance produces by polling
//! [`Groups::poll_join`] and [`Groups::poll_sync`] when woken.
//!
//! A group is coordinated by the leader of partition
//! `abs(hash(group id)) % partitions` of [`OFFSETS_TOPIC`], as in Kafka.
//! Committed offsets live here, beside the controller state, rather than
//! in that partition's log: they survive the coordinator's failover and
//! the partition's moves because no broker owns them, and `--data-dir`
//! saves them in a file of their own (`persist_groups.rs`).
//!
//! Timings as the harness's real cluster runs them: no initial rebalance
//! delay (`group.initial.rebalance.delay.ms=0`), session timeouts from 6 s
//! to 30 min (Kafka's `group.min/max.session.timeout.ms`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::code;

/// Kafka's internal offsets topic, created on the first FindCoordinator.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// `offsets.topic.num.partitions`' default.
pub const OFFSETS_TOPIC_PARTITIONS: i32 = 50;
/// `offsets.topic.replication.factor`'s default (fewer on smaller clusters).
pub const OFFSETS_TOPIC_REPLICATION_FACTOR: i16 = 3;
/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
pub const MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(6);
pub const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `offset.metadata.max.bytes`.
pub const MAX_METADATA: usize = 4096;
/// `offsets.retention.minutes`' default: 7 days.
pub const OFFSETS_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// `offsets.retention.check.interval.ms`' default: 10 minutes.
pub const OFFSETS_RETENTION_CHECK: Duration = Duration::from_secs(600);

/// The partition of [`OFFSETS_TOPIC`] whose leader coordinates `group`:
/// Kafka's `Utils.abs(groupId.hashCode) % partitions`, with Java's
/// `String.hashCode` over UTF-16 code units. `Utils.abs` is `Math.abs`
/// with `Integer.MIN_VALUE` taken to 0 (not a mask of the sign bit, which
/// places a negative hash elsewhere).
pub fn offsets_partition(group: &str, partitions: i32) -> i32 {
    let h = group
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// A group's phase, named as DescribeGroups and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Empty => "Empty",
            Phase::PreparingRebalance => "PreparingRebalance",
            Phase::CompletingRebalance => "CompletingRebalance",
            Phase::Stable => "Stable",
        }
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_seen: Instant,
    /// When it first joined: the longest-standing member leads.
    joined_seq: u64,
    /// Sent a JoinGroup for the rebalance under way.
    awaiting_join: bool,
    join_answer: Option<JoinAnswer>,
    awaiting_sync: bool,
    sync_answer: Option<SyncAnswer>,
}

impl Member {
    /// The metadata it gave for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Kafka does not expire a member while its JoinGroup or SyncGroup is
    /// held: it cannot heartbeat then.
    fn expired(&self, now: Instant) -> bool {
        !self.awaiting_join && !self.awaiting_sync && now >= self.last_seen + self.session_timeout
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub phase: Phase,
    pub generation: i32,
    pub protocol_type: Option<String>,
    /// The protocol chosen at the last completed join.
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Static members (KIP-345): the member id holding each group
    /// instance id now.
    statics: BTreeMap<String, String>,
    /// Ids handed out with MEMBER_ID_REQUIRED, until they join or their
    /// session timeout passes.
    pending: BTreeMap<String, Instant>,
    rebalance_deadline: Option<Instant>,
    pub offsets: BTreeMap<(String, i32), Committed>,
    /// When each offset was last committed (from the first look after a
    /// restart for offsets loaded from the data dir).
    committed_at: BTreeMap<(String, i32), Instant>,
    /// When the group last became Empty (from the first look at an empty
    /// group): its offsets expire a retention period later.
    empty_since: Option<Instant>,
    /// Something a held JoinGroup or SyncGroup waits for happened (an
    /// answer given, a member gone, a rebalance begun), since
    /// [`Groups::take_woken`] last looked.
    woke: bool,
}

impl Group {
    fn new() -> Self {
        Group {
            phase: Phase::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            statics: BTreeMap::new(),
            pending: BTreeMap::new(),
            rebalance_deadline: None,
            offsets: BTreeMap::new(),
            committed_at: BTreeMap::new(),
            empty_since: None,
            woke: false,
        }
    }

    /// Starts a rebalance (or extends nothing if one is under way): every
    /// member must join again within the longest rebalance timeout.
    fn prepare_rebalance(&mut self, now: Instant) {
        if self.phase == Phase::CompletingRebalance {
            // Members waiting for the leader's assignment learn it will not come.
            for m in self.members.values_mut() {
                if m.awaiting_sync {
                    m.awaiting_sync = false;
                    m.sync_answer = Some(SyncAnswer::error(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        if self.phase != Phase::PreparingRebalance {
            self.woke = true;
            let timeout = self
                .members
                .values()
                .map(|m| m.rebalance_timeout)
                .max()
                .unwrap_or_default();
            self.rebalance_deadline = Some(now + timeout);
            self.phase = Phase::PreparingRebalance;
        }
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join)
    }

    /// The protocol every member supports that most members prefer (ties:
    /// the leader's order), as Kafka's `selectProtocol` votes.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let common: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|(p, _)| common.contains(&p)) {
                *votes.entry(n).or_default() += 1;
            }
        }
        let order: Vec<&String> = match self.leader.as_ref().and_then(|l| self.members.get(l)) {
            Some(l) => l.protocols.iter().map(|(n, _)| n).collect(),
            None => common.clone(),
        };
        let best = votes.values().copied().max()?;
        order
            .into_iter()
            .find(|n| votes.get(n) == Some(&best))
            .cloned()
    }

    /// Ends the join phase: members that did not join are dropped, the
    /// generation advances, and every member gets its JoinGroup answer.
    fn complete_join(&mut self, now: Instant) {
        self.woke = true;
        self.members.retain(|_, m| m.awaiting_join);
        self.pending.clear();
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.empty_since = Some(now);
            self.protocol = None;
            self.leader = None;
            return;
        }
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.joined_seq)
                .map(|m| m.id.clone());
        }
        self.protocol = self.select_protocol();
        self.phase = Phase::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let answer = self.join_answer(&id);
            let m = self.members.get_mut(&id).expect("listed");
            m.awaiting_join = false;
            m.assignment = Bytes::new();
            m.last_seen = now;
            m.join_answer = Some(answer);
        }
    }

    /// The JoinGroup answer of the current generation for `member`: the
    /// leader alone gets the members and their metadata.
    fn join_answer(&self, member: &str) -> JoinAnswer {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member {
            self.members
                .values()
                .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol)))
                .collect()
        } else {
            Vec::new()
        };
        JoinAnswer {
            error: code::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader,
            member_id: member.to_string(),
            members,
            skip_assignment: false,
        }
    }

    fn remove_member(&mut self, id: &str, now: Instant) {
        let Some(m) = self.members.remove(id) else {
            return;
        };
        if let Some(i) = m.instance_id
            && self.statics.get(&i).map(String::as_str) == Some(id)
        {
            self.statics.remove(&i);
        }
        self.woke = true;
        match self.phase {
            Phase::Stable | Phase::CompletingRebalance => self.prepare_rebalance(now),
            Phase::PreparingRebalance | Phase::Empty => {}
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        if self.phase == Phase::PreparingRebalance && self.all_joined() {
            self.complete_join(now);
        }
    }

    /// Kafka's member check for Heartbeat, SyncGroup, OffsetCommit and
    /// LeaveGroup: a request naming a group instance id must come from the
    /// member holding it now (else FENCED_INSTANCE_ID: an older instance
    /// of a restarted static member); without one, from a member.
    fn validate_member(&self, member: &str, instance: Option<&str>) -> i16 {
        match instance {
            Some(i) => match self.statics.get(i) {
                None => code::UNKNOWN_MEMBER_ID,
                Some(holder) if holder != member => code::FENCED_INSTANCE_ID,
                Some(_) => code::NONE,
            },
            None if self.members.contains_key(member) => code::NONE,
            None => code::UNKNOWN_MEMBER_ID,
        }
    }

    /// A static member joining again under a new id (KIP-345): it takes
    /// the place of the member that held its instance id, whose id is
    /// fenced from now on. In a Stable or CompletingRebalance group whose
    /// protocol would stay the same there is no rebalance: it gets the
    /// current generation back (and, through SyncGroup, the assignment of
    /// the member it replaces), as Kafka's
    /// `updateStaticMemberThenRebalanceOrCompleteJoin` answers.
    fn replace_static(
        &mut self,
        old: &str,
        new: String,
        r: JoinRequest,
        now: Instant,
    ) -> Outcome<JoinAnswer> {
        let mut m = self
            .members
            .remove(old)
            .expect("static members are members");
        m.id = new.clone();
        m.client_id = r.client_id;
        m.client_host = r.client_host;
        m.session_timeout = r.session_timeout;
        m.rebalance_timeout = r.rebalance_timeout;
        m.protocols = r.protocols;
        m.last_seen = now;
        m.join_answer = None;
        m.sync_answer = None;
        m.awaiting_sync = false;
        if self.leader.as_deref() == Some(old) {
            self.leader = Some(new.clone());
        }
        if let Some(i) = &m.instance_id {
            self.statics.insert(i.clone(), new.clone());
        }
        let rejoining = m.awaiting_join;
        self.members.insert(new.clone(), m);
        self.woke = true;
        let settled = matches!(self.phase, Phase::Stable | Phase::CompletingRebalance);
        if settled && !rejoining && self.select_protocol() == self.protocol {
            let mut answer = self.join_answer(&new);
            answer.skip_assignment = self.leader.as_deref() == Some(new.as_str());
            return Outcome::Answer(answer);
        }
        self.members.get_mut(&new).expect("inserted").awaiting_join = true;
        self.prepare_rebalance(now);
        if self.all_joined() {
            self.complete_join(now);
        }
        Outcome::Wait(new)
    }

    /// Expires silent members and pending ids, and ends a join phase whose
    /// members have all joined or whose deadline passed. True if anything
    /// changed.
    fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        changed |= self.pending.len() != before;
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            self.remove_member(&id, now);
            changed = true;
        }
        if self.phase == Phase::PreparingRebalance
            && (self.all_joined() || self.rebalance_deadline.is_some_and(|d| now >= d))
        {
            self.complete_join(now);
            changed = true;
        }
        changed
    }

    /// The topics the members subscribe to, from their metadata for the
    /// chosen protocol when the group speaks Kafka's consumer protocol, as
    /// Kafka computes them at the end of a join: none when the group is
    /// empty or a member's metadata does not decode.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        use bytes::Buf;
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        let (Some("consumer"), Some(protocol)) = (self.protocol_type.as_deref(), &self.protocol)
        else {
            return BTreeSet::new();
        };
        let mut topics = BTreeSet::new();
        for m in self.members.values() {
            let mut b = m.metadata(protocol);
            if b.remaining() < 2 {
                return BTreeSet::new();
            }
            let version = b.get_i16();
            match ConsumerProtocolSubscription::decode(&mut b, version.min(3)) {
                Ok(sub) => topics.extend(sub.topics.iter().map(|t| t.to_string())),
                Err(_) => return BTreeSet::new(),
            }
        }
        topics
    }

    /// Drops the committed offsets whose retention passed, as Kafka's
    /// offset expiration (KIP-211) decides: all of them a retention period
    /// after the group became Empty; for a group with no protocol (offsets
    /// committed by an admin or a standalone consumer), each a retention
    /// period after its last commit; for a Stable consumer group, those of
    /// topics no member subscribes to, likewise. True if any went.
    fn expire_offsets(&mut self, now: Instant, retention: Duration) -> bool {
        for k in self.offsets.keys() {
            self.committed_at.entry(k.clone()).or_insert(now);
        }
        if self.phase != Phase::Empty {
            self.empty_since = None;
        } else if self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
        let before = self.offsets.len();
        let stale = |at: &Instant| now >= *at + retention;
        match (self.phase, self.protocol_type.as_deref()) {
            (Phase::Empty, Some(_)) if self.empty_since.as_ref().is_some_and(stale) => {
                self.offsets.clear();
            }
            (Phase::Empty, Some(_)) => {}
            (_, None) => {
                let at = &self.committed_at;
                self.offsets.retain(|k, _| !stale(&at[k]));
            }
            // Only when the subscriptions decode (a Stable member subscribes
            // to something): else Kafka expires nothing.
            (Phase::Stable, Some("consumer")) if !self.subscribed_topics().is_empty() => {
                let subscribed = self.subscribed_topics();
                let at = &self.committed_at;
                self.offsets
                    .retain(|k, _| subscribed.contains(&k.0) || !stale(&at[k]));
            }
            _ => {}
        }
        let offsets = &self.offsets;
        self.committed_at.retain(|k, _| offsets.contains_key(k));
        self.offsets.len() != before
    }

    /// The next instant at which [`Group::tick`] may change something.
    fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .values()
            .filter(|m| !m.awaiting_join && !m.awaiting_sync)
            .map(|m| m.last_seen + m.session_timeout);
        members
            .chain(self.pending.values().copied())
            .chain(self.rebalance_deadline)
            .min()
    }
}

/// What JoinGroup answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinAnswer {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader: (member id, group instance id, metadata).
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// JoinGroup v9+: a static leader that rejoined without a rebalance
    /// keeps the current assignment and must not compute one.
    pub skip_assignment: bool,
}

impl JoinAnswer {
    pub fn error(error: i16, member_id: &str) -> Self {
        JoinAnswer {
            error,
            generation: -1,
            protocol_type: None,
            protocol: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

/// What SyncGroup answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAnswer {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

impl SyncAnswer {
    pub fn error(error: i16) -> Self {
        SyncAnswer {
            error,
            protocol_type: None,
            protocol: None,
            assignment: Bytes::new(),
        }
    }
}

/// A JoinGroup or SyncGroup: answered now, or held until the rebalance
/// gets there (then poll with the member id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Answer(T),
    Wait(String),
}

/// A JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group: String,
    /// Empty for a new member.
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets an id (MEMBER_ID_REQUIRED)
    /// and joins again with it.
    pub require_known_member_id: bool,
}

/// Every group this cluster coordinates, by id.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    groups: BTreeMap<String, Group>,
    /// Makes member ids unique and orders members by arrival.
    next_member: u64,
    /// Grows with every change to committed offsets: the persister writes
    /// when it passes `offsets_saved`, and a commit is answered once the
    /// version it made is saved (with a data dir).
    offsets_version: u64,
    offsets_saved: u64,
    /// A group was deleted since [`Groups::take_woken`] last looked.
    woke: bool,
    /// `offsets.retention.minutes` and `offsets.retention.check.interval.ms`;
    /// None: Kafka's defaults.
    retention: Option<(Duration, Duration)>,
    /// When the offset cleanup runs next (set at its first chance).
    next_cleanup: Option<Instant>,
}

impl Groups {
    pub fn get(&self, group: &str) -> Option<&Group> {
        self.groups.get(group)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Group)> {
        self.groups.iter()
    }

    /// Runs every group's timers; true if anything changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for g in self.groups.values_mut() {
            changed |= g.tick(now);
        }
        changed
    }

    /// Sets `offsets.retention.minutes` and
    /// `offsets.retention.check.interval.ms` (as durations).
    pub fn set_retention(&mut self, retention: Duration, check_interval: Duration) {
        self.retention = Some((retention, check_interval));
    }

    /// Runs [`Groups::expire_offsets`] once per check interval, as Kafka's
    /// scheduled cleanup does; true if any offset went.
    pub fn cleanup_due(&mut self, now: Instant) -> bool {
        let (_, every) = self
            .retention
            .unwrap_or((OFFSETS_RETENTION, OFFSETS_RETENTION_CHECK));
        let next = *self.next_cleanup.get_or_insert(now + every);
        if now < next {
            return false;
        }
        self.next_cleanup = Some(now + every);
        self.expire_offsets(now)
    }

    /// Expires committed offsets whose retention passed, in every group,
    /// and forgets groups left empty with none, as Kafka's periodic
    /// offset cleanup does; true if any offset went (the persister then
    /// saves the rest).
    pub fn expire_offsets(&mut self, now: Instant) -> bool {
        let (retention, _) = self
            .retention
            .unwrap_or((OFFSETS_RETENTION, OFFSETS_RETENTION_CHECK));
        let mut expired = false;
        for g in self.groups.values_mut() {
            expired |= g.expire_offsets(now, retention);
        }
        self.groups.retain(|_, g| {
            !(g.phase == Phase::Empty && g.offsets.is_empty() && g.pending.is_empty())
        });
        if expired {
            self.offsets_version += 1;
        }
        expired
    }

    /// Runs `group`'s timers alone (a request about it is when its time
    /// is looked at); true if anything changed.
    pub fn tick_group(&mut self, group: &str, now: Instant) -> bool {
        self.groups.get_mut(group).is_some_and(|g| g.tick(now))
    }

    /// The next instant at which [`Groups::tick`] may change something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.groups.values().filter_map(Group::next_deadline).min()
    }

    /// The next instant at which `group`'s timers may change something.
    pub fn next_deadline_of(&self, group: &str) -> Option<Instant> {
        self.groups.get(group).and_then(Group::next_deadline)
    }

    /// True if, since the last call, anything happened that a held
    /// JoinGroup or SyncGroup may be waiting for: an answer given, a
    /// member or a group gone, a rebalance begun or ended. The handlers
    /// wake waiters only then; a heartbeat, a commit or a describe that
    /// changes none of this wakes nobody.
    pub fn take_woken(&mut self) -> bool {
        let mut woke = std::mem::take(&mut self.woke);
        for g in self.groups.values_mut() {
            woke |= std::mem::take(&mut g.woke);
        }
        woke
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        self.next_member += 1;
        // Kafka's form: the client id, a dash, a UUID.
        let n = self.next_member;
        format!(
            "{client_id}-{:08x}-0000-4000-8000-{:012x}",
            (n >> 48) as u32,
            n & 0xffff_ffff_ffff
        )
    }

    pub fn join(&mut self, r: JoinRequest, now: Instant) -> Outcome<JoinAnswer> {
        let fail = |e: i16| Outcome::Answer(JoinAnswer::error(e, &r.member_id));
        if r.group.is_empty() {
            return fail(code::INVALID_GROUP_ID);
        }
        if r.session_timeout < MIN_SESSION_TIMEOUT || r.session_timeout > MAX_SESSION_TIMEOUT {
            return fail(code::INVALID_SESSION_TIMEOUT);
        }
        if r.protocol_type.is_empty() || r.protocols.is_empty() {
            return fail(code::INCONSISTENT_GROUP_PROTOCOL);
        }
        if !r.member_id.is_empty() && !self.groups.contains_key(&r.group) {
            return fail(code::UNKNOWN_MEMBER_ID);
        }
        if let Some(g) = self.groups.get_mut(&r.group) {
            g.tick(now);
        }
        let seq = self.next_member + 1;
        let new_id = if r.member_id.is_empty() {
            Some(self.new_member_id(&r.client_id))
        } else {
            None
        };
        let g = self
            .groups
            .entry(r.group.clone())
            .or_insert_with(Group::new);
        // A protocol type and a protocol the members all share.
        let compatible = if g.members.is_empty() {
            true
        } else {
            g.protocol_type.as_deref() == Some(r.protocol_type.as_str())
                && r.protocols.iter().any(|(n, _)| {
                    g.members
                        .values()
                        .filter(|m| m.id != r.member_id)
                        .all(|m| m.protocols.iter().any(|(p, _)| p == n))
                })
        };
        if !compatible {
            return fail(code::INCONSISTENT_GROUP_PROTOCOL);
        }
        // A static member gets its id at once (no MEMBER_ID_REQUIRED), and
        // one that comes back takes its old place; a known member id must
        // be the one holding its instance id.
        if let Some(instance) = r.instance_id.clone() {
            let holder = g.statics.get(&instance).cloned();
            match (&new_id, holder) {
                (Some(id), Some(old)) => return g.replace_static(&old, id.clone(), r, now),
                (None, Some(old)) if old != r.member_id => {
                    return fail(code::FENCED_INSTANCE_ID);
                }
                (None, None) => return fail(code::UNKNOWN_MEMBER_ID),
                _ => {}
            }
        }
        let is_new = new_id.is_some();
        let member_id = match new_id {
            Some(id) if r.require_known_member_id && r.instance_id.is_none() => {
                g.pending.insert(id.clone(), now + r.session_timeout);
                return Outcome::Answer(JoinAnswer::error(code::MEMBER_ID_REQUIRED, &id));
            }
            Some(id) => id,
            None => r.member_id.clone(),
        };
        let known = g.members.contains_key(&member_id);
        if !known && !g.pending.contains_key(&member_id) && !is_new {
            return fail(code::UNKNOWN_MEMBER_ID);
        }
        if known {
            let m = g.members.get_mut(&member_id).expect("known");
            let same = m.protocols == r.protocols;
            m.last_seen = now;
            match g.phase {
                Phase::CompletingRebalance if same => {
                    return Outcome::Answer(g.join_answer(&member_id));
                }
                Phase::Stable if same && g.leader.as_deref() != Some(member_id.as_str()) => {
                    return Outcome::Answer(g.join_answer(&member_id));
                }
                _ => {}
            }
            m.protocols = r.protocols;
            m.session_timeout = r.session_timeout;
            m.rebalance_timeout = r.rebalance_timeout;
            m.awaiting_join = true;
            m.join_answer = None;
            m.awaiting_sync = false;
            m.sync_answer = None;
        } else {
            g.pending.remove(&member_id);
            g.protocol_type = Some(r.protocol_type.clone());
            if let Some(i) = &r.instance_id {
                g.statics.insert(i.clone(), member_id.clone());
            }
            g.members.insert(
                member_id.clone(),
                Member {
                    id: member_id.clone(),
                    instance_id: r.instance_id,
                    client_id: r.client_id,
                    client_host: r.client_host,
                    session_timeout: r.session_timeout,
                    rebalance_timeout: r.rebalance_timeout,
                    protocols: r.protocols,
                    assignment: Bytes::new(),
                    last_seen: now,
                    joined_seq: seq,
                    awaiting_join: true,
                    join_answer: None,
                    awaiting_sync: false,
                    sync_answer: None,
                },
            );
            self.next_member = self.next_member.max(seq);
        }
        let g = self.groups.get_mut(&r.group).expect("inserted");
        g.prepare_rebalance(now);
        if g.all_joined() {
            g.complete_join(now);
        }
        Outcome::Wait(member_id)
    }

    /// The answer to a held JoinGroup, once there is one.
    pub fn poll_join(&mut self, group: &str, member: &str, now: Instant) -> Option<JoinAnswer> {
        let Some(g) = self.groups.get_mut(group) else {
            return Some(JoinAnswer::error(code::UNKNOWN_MEMBER_ID, member));
        };
        g.tick(now);
        match g.members.get_mut(member) {
            None => Some(JoinAnswer::error(code::UNKNOWN_MEMBER_ID, member)),
            Some(m) => m.join_answer.take(),
        }
    }

    /// True when [`Groups::poll_join`] has an answer for `member`.
    pub fn join_ready(&self, group: &str, member: &str) -> bool {
        self.groups
            .get(group)
            .and_then(|g| g.members.get(member))
            .is_none_or(|m| m.join_answer.is_some())
    }

    /// True when [`Groups::poll_sync`] has an answer for `member`.
    pub fn sync_ready(&self, group: &str, member: &str) -> bool {
        self.groups
            .get(group)
            .and_then(|g| g.members.get(member))
            .is_none_or(|m| m.sync_answer.is_some())
    }

    /// Kafka's member check for a request of `member`, from a static
    /// member when `instance` is given: NONE, UNKNOWN_MEMBER_ID or
    /// FENCED_INSTANCE_ID.
    pub fn validate_member(&self, group: &str, member: &str, instance: Option<&str>) -> i16 {
        self.groups.get(group).map_or(code::UNKNOWN_MEMBER_ID, |g| {
            g.validate_member(member, instance)
        })
    }

    /// A member's SyncGroup; `assignments` are the leader's.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        group: &str,
        member: &str,
        generation: i32,
        protocol_type: Option<&str>,
        protocol: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Outcome<SyncAnswer> {
        let fail = |e| Outcome::Answer(SyncAnswer::error(e));
        let Some(g) = self.groups.get_mut(group) else {
            return fail(code::UNKNOWN_MEMBER_ID);
        };
        g.tick(now);
        if !g.members.contains_key(member) {
            return fail(code::UNKNOWN_MEMBER_ID);
        }
        if generation != g.generation {
            return fail(code::ILLEGAL_GENERATION);
        }
        if protocol_type.is_some_and(|t| Some(t) != g.protocol_type.as_deref())
            || protocol.is_some_and(|p| Some(p) != g.protocol.as_deref())
        {
            return fail(code::INCONSISTENT_GROUP_PROTOCOL);
        }
        let answer = |g: &Group, id: &str| SyncAnswer {
            error: code::NONE,
            protocol_type: g.protocol_type.clone(),
            protocol: g.protocol.clone(),
            assignment: g.members[id].assignment.clone(),
        };
        match g.phase {
            Phase::Empty => fail(code::UNKNOWN_MEMBER_ID),
            Phase::PreparingRebalance => fail(code::REBALANCE_IN_PROGRESS),
            Phase::Stable => {
                g.members.get_mut(member).expect("known").last_seen = now;
                Outcome::Answer(answer(g, member))
            }
            Phase::CompletingRebalance => {
                g.members.get_mut(member).expect("known").last_seen = now;
                if g.leader.as_deref() != Some(member) {
                    let m = g.members.get_mut(member).expect("known");
                    m.awaiting_sync = true;
                    m.sync_answer = None;
                    return Outcome::Wait(member.to_string());
                }
                let mut given: BTreeMap<String, Bytes> = assignments.into_iter().collect();
                let ids: Vec<String> = g.members.keys().cloned().collect();
                for id in ids {
                    let assignment = given.remove(&id).unwrap_or_default();
                    g.members.get_mut(&id).expect("listed").assignment = assignment;
                    let a = answer(g, &id);
                    let m = g.members.get_mut(&id).expect("listed");
                    if m.awaiting_sync {
                        m.awaiting_sync = false;
                        m.sync_answer = Some(a);
                    }
                }
                g.phase = Phase::Stable;
                g.woke = true;
                Outcome::Answer(answer(g, member))
            }
        }
    }

    /// The answer to a held SyncGroup, once there is one.
    pub fn poll_sync(&mut self, group: &str, member: &str, now: Instant) -> Option<SyncAnswer> {
        let Some(g) = self.groups.get_mut(group) else {
            return Some(SyncAnswer::error(code::UNKNOWN_MEMBER_ID));
        };
        g.tick(now);
        match g.members.get_mut(member) {
            None => Some(SyncAnswer::error(code::UNKNOWN_MEMBER_ID)),
            Some(m) => m.sync_answer.take(),
        }
    }

    /// Heartbeat, from a static member when `instance` is given.
    pub fn heartbeat(
        &mut self,
        group: &str,
        member: &str,
        instance: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let Some(g) = self.groups.get_mut(group) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        g.tick(now);
        if g.phase == Phase::Empty {
            return code::UNKNOWN_MEMBER_ID;
        }
        let e = g.validate_member(member, instance);
        if e != code::NONE {
            return e;
        }
        let Some(m) = g.members.get_mut(member) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        if generation != g.generation {
            return code::ILLEGAL_GENERATION;
        }
        m.last_seen = now;
        match g.phase {
            Phase::PreparingRebalance => code::REBALANCE_IN_PROGRESS,
            _ => code::NONE,
        }
    }

    /// LeaveGroup: one code per member, in order.
    pub fn leave(&mut self, group: &str, members: &[String], now: Instant) -> Vec<i16> {
        let members: Vec<(String, Option<String>)> =
            members.iter().map(|m| (m.clone(), None)).collect();
        self.leave_members(group, &members, now)
    }

    /// LeaveGroup v3+: (member id, group instance id) per member; a static
    /// member may be named by its instance id alone (an empty member id),
    /// as an admin removes one.
    pub fn leave_members(
        &mut self,
        group: &str,
        members: &[(String, Option<String>)],
        now: Instant,
    ) -> Vec<i16> {
        let Some(g) = self.groups.get_mut(group) else {
            return vec![code::UNKNOWN_MEMBER_ID; members.len()];
        };
        g.tick(now);
        members
            .iter()
            .map(|(id, instance)| {
                let id = match instance.as_deref() {
                    Some(i) if id.is_empty() => match g.statics.get(i) {
                        Some(holder) => holder.clone(),
                        None => return code::UNKNOWN_MEMBER_ID,
                    },
                    _ => id.clone(),
                };
                let e = g.validate_member(&id, instance.as_deref());
                if e == code::NONE {
                    g.remove_member(&id, now);
                }
                e
            })
            .collect()
    }

    /// Checks an OffsetCommit of `member` at `generation`: -1 with no
    /// member is an admin's commit, allowed only while the group is empty;
    /// from a static member when `instance` is given (OffsetCommit v7+).
    pub fn check_commit(
        &mut self,
        group: &str,
        member: &str,
        instance: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let Some(g) = self.groups.get_mut(group) else {
            return if generation < 0 {
                code::NONE
            } else {
                code::ILLEGAL_GENERATION
            };
        };
        g.tick(now);
        if generation < 0 && g.phase == Phase::Empty {
            return code::NONE;
        }
        let e = g.validate_member(member, instance);
        if e != code::NONE {
            return e;
        }
        let Some(m) = g.members.get_mut(member) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        if generation != g.generation {
            return code::ILLEGAL_GENERATION;
        }
        if g.phase == Phase::CompletingRebalance {
            return code::REBALANCE_IN_PROGRESS;
        }
        m.last_seen = now;
        code::NONE
    }

    /// Stores an offset (after [`Groups::check_commit`] passed); creates
    /// the group for an admin's commit. Its retention counts from the first
    /// look at it (for offsets loaded from the data dir).
    pub fn commit(&mut self, group: &str, topic: &str, partition: i32, c: Committed) {
        self.offsets_version += 1;
        let g = self
            .groups
            .entry(group.to_string())
            .or_insert_with(Group::new);
        let key = (topic.to_string(), partition);
        g.committed_at.remove(&key);
        g.offsets.insert(key, c);
    }

    /// [`Groups::commit`] at `now`, when its retention starts.
    pub fn commit_at(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        c: Committed,
        now: Instant,
    ) {
        self.commit(group, topic, partition, c);
        let g = self.groups.get_mut(group).expect("committed");
        g.committed_at.insert((topic.to_string(), partition), now);
    }

    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<&Committed> {
        self.groups
            .get(group)?
            .offsets
            .get(&(topic.to_string(), partition))
    }

    /// DeleteGroups for one group: only an empty group goes, with its offsets.
    pub fn delete(&mut self, group: &str, now: Instant) -> i16 {
        let Some(g) = self.groups.get_mut(group) else {
            return code::GROUP_ID_NOT_FOUND;
        };
        g.tick(now);
        if g.phase != Phase::Empty {
            return code::NON_EMPTY_GROUP;
        }
        self.groups.remove(group);
        self.offsets_version += 1;
        self.woke = true;
        code::NONE
    }

    /// OffsetDelete: per (topic, partition) asked, NONE (deleted, or there
    /// was nothing) or GROUP_SUBSCRIBED_TO_TOPIC; the whole request fails
    /// for a group that does not exist, or one with members that does not
    /// speak the consumer protocol.
    pub fn delete_offsets(
        &mut self,
        group: &str,
        partitions: &[(String, i32)],
        now: Instant,
    ) -> Result<Vec<i16>, i16> {
        let Some(g) = self.groups.get_mut(group) else {
            return Err(code::GROUP_ID_NOT_FOUND);
        };
        g.tick(now);
        if g.phase != Phase::Empty && g.protocol_type.as_deref() != Some("consumer") {
            return Err(code::NON_EMPTY_GROUP);
        }
        let subscribed = g.subscribed_topics();
        self.offsets_version += 1;
        Ok(partitions
            .iter()
            .map(|(t, p)| {
                if subscribed.contains(t) {
                    code::GROUP_SUBSCRIBED_TO_TOPIC
                } else {
                    g.offsets.remove(&(t.clone(), *p));
                    code::NONE
                }
            })
            .collect())
    }

    /// The version of the committed offsets (see `offsets_version`).
    pub fn offsets_version(&self) -> u64 {
        self.offsets_version
    }

    /// Whether the offsets as of `version` are on disk.
    pub fn offsets_saved(&self, version: u64) -> bool {
        self.offsets_saved >= version
    }

    /// The persister wrote the offsets as of `version`.
    pub fn mark_offsets_saved(&mut self, version: u64) {
        self.offsets_saved = self.offsets_saved.max(version);
    }

    /// Every committed offset, for saving.
    pub fn all_offsets(&self) -> impl Iterator<Item = (&str, &str, i32, &Committed)> {
        self.groups.iter().flat_map(|(g, group)| {
            group
                .offsets
                .iter()
                .map(move |((t, p), c)| (g.as_str(), t.as_str(), *p, c))
        })
    }

    /// Forgets offsets of a deleted topic, as Kafka's coordinator does.
    pub fn topic_deleted(&mut self, topic: &str) {
        self.offsets_version += 1;
        for g in self.groups.values_mut() {
            g.offsets.retain(|(t, _), _| t != topic);
        }
    }
}

#[cfg(test)]
mod tests;
