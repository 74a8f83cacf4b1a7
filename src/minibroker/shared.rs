//! The cluster handle every task shares: the controller state behind one
//! lock, and the wake-ups that go with changing it.
//!
//! Kept apart from `server` (as mini-redis keeps its `Db` apart from its
//! listener) so the request handlers in `api` depend on this module only,
//! never on the server that calls them.
//!
//! Not for: sockets, tasks or protocol (see `server`, `api`, `codec`).

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::config::{SaslMechanism, SaslUsers};
use super::state::{BrokerId, State};

/// State shared by every task of the cluster.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    /// Woken (notify_waiters) whenever logs, high watermarks or metadata
    /// change: long-polling fetches and `wait_until` callers look again.
    changed: Notify,
    /// Woken (notify_one) after every change, so the replication task runs
    /// a step early instead of waiting for its tick.
    replicate_now: Notify,
    /// SASL users when every listener requires authentication.
    pub sasl: Option<SaslUsers>,
    /// KIP-368: how long an authenticated session lasts before the client
    /// must re-authenticate (`connections.max.reauth.ms`); None: forever.
    pub sasl_session_lifetime: Option<std::time::Duration>,
    /// Re-authentications accepted, and connections closed for an expired
    /// session (what tests of KIP-368 look at).
    pub reauthentications: std::sync::atomic::AtomicU64,
    pub expired_sessions: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub fn new(state: State, sasl: Option<SaslUsers>) -> Self {
        Self {
            state: Mutex::new(state),
            changed: Notify::new(),
            replicate_now: Notify::new(),
            sasl,
            sasl_session_lifetime: None,
            reauthentications: Default::default(),
            expired_sessions: Default::default(),
        }
    }

    /// With KIP-368's session lifetime for authenticated connections.
    pub fn with_sasl_session_lifetime(mut self, lifetime: Option<std::time::Duration>) -> Self {
        self.sasl_session_lifetime = lifetime;
        self
    }

    /// Reads the state under its lock.
    pub fn inspect<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock())
    }

    /// Changes the state under its lock, then wakes everyone who waits on
    /// it: the one place that does, so no handler can forget to.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.mutate_if(|s| (f(s), true))
    }

    /// Changes the state under its lock like [`Shared::mutate`], but wakes
    /// waiters only when `f` says so (the `bool` it returns): for requests
    /// that mostly read, or refresh what nobody waits on (a heartbeat's
    /// time), and would otherwise wake every long-poll and the
    /// replication task for nothing. `f` must say true for any change a
    /// waiter may be waiting on.
    pub fn mutate_if<T>(&self, f: impl FnOnce(&mut State) -> (T, bool)) -> T {
        let (r, wake) = f(&mut self.state.lock());
        if wake {
            self.changed.notify_waiters();
            self.replicate_now.notify_one();
        }
        r
    }

    /// One replication step, run by the replication task (and by tests):
    /// wakes waiters only when something moved, since it runs every tick.
    pub fn replicate(&self, now: std::time::Instant, dt: std::time::Duration) {
        let mut s = self.state.lock();
        // Kafka's scheduled offset cleanup rides on this tick; the
        // persister notices what it dropped, and no request waits on it.
        s.groups.cleanup_due(now);
        let out = s.replicate(now, dt);
        if out.replicas_moved {
            // Before the lock is released: a crash right after must not
            // restart with the replicas a finished move dropped.
            super::persist::save_metadata_now(&s);
        }
        if out.copied_bytes > 0
            && let Some(storage) = &s.storage
        {
            // Followers count towards high watermarks once synced.
            storage.appended();
        }
        if out.changed() {
            self.changed.notify_waiters();
        }
    }

    /// Resolves when a change asks replication to run early.
    pub async fn replication_wanted(&self) {
        self.replicate_now.notified().await;
    }

    /// Calls `answer` on the state, now and after every change, until it
    /// gives a value or `deadline` passes; at the deadline it is called
    /// once more with `last` true and must answer then.
    pub async fn poll<T>(
        &self,
        deadline: tokio::time::Instant,
        mut answer: impl FnMut(&State, bool) -> Option<T>,
    ) -> T {
        loop {
            // Registered before looking, so a change between the look and
            // the wait is not missed.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = answer(&self.state.lock(), false) {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err()
                && let Some(v) = answer(&self.state.lock(), true)
            {
                return v;
            }
        }
    }

    /// Waits until `cond` holds or `deadline` passes; returns the last value.
    pub async fn wait_until(
        &self,
        deadline: tokio::time::Instant,
        mut cond: impl FnMut(&State) -> bool,
    ) -> bool {
        self.poll(deadline, |s, last| {
            let holds = cond(s);
            (holds || last).then_some(holds)
        })
        .await
    }
}

/// The per-connection context handlers see.
#[derive(Debug, Clone)]
pub struct BrokerCtx {
    pub id: BrokerId,
    pub shared: Arc<Shared>,
    /// This connection's SASL state.
    pub session: Arc<Mutex<Session>>,
    /// The client's address (a group member's host in DescribeGroups).
    pub peer: Option<std::net::SocketAddr>,
}

/// Where a connection stands in SASL authentication.
#[derive(Debug, Default)]
pub struct Session {
    pub handshaken: bool,
    /// The mechanism the handshake chose.
    pub mechanism: Option<SaslMechanism>,
    /// A SCRAM exchange under way.
    pub scram: Option<crate::kafka::scram::ScramServer>,
    pub authenticated: bool,
    /// A re-authentication (KIP-368) under way on an authenticated
    /// connection.
    pub reauthenticating: bool,
    /// When the authenticated session ends (with a session lifetime).
    pub expires: Option<std::time::Instant>,
    /// Authentication failed: the connection closes after the answer.
    pub failed: bool,
    /// The client id of the connection's last JoinGroup.
    pub client_id: String,
}
