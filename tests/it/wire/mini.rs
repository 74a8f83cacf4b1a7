//! The suite against the embedded mini-broker: 4 brokers in 2 racks, like
//! the real cluster. Each test gets its own cluster on ephemeral loopback
//! ports, running on its own runtime so the scenario (which also runs
//! blocking clients such as kcat) can never starve it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle};
use kafka_migrate::model::BrokerId;

use super::{Backend, BoxFuture};

struct Mini {
    rt: tokio::runtime::Runtime,
    cluster: Option<Arc<ClusterHandle>>,
}

impl Mini {
    fn start() -> Mini {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = rt
            .block_on(Cluster::start(ClusterConfig {
                brokers: 4,
                racks: 2,
                log_dirs_per_broker: 2,
                replica_lag_max: Duration::from_millis(5000),
                // As tests/kafka/cluster.sh configures the real cluster.
                auto_create_topics: false,
                ..ClusterConfig::default()
            }))
            .expect("mini-broker starts");
        Mini {
            rt,
            cluster: Some(Arc::new(cluster)),
        }
    }

    fn handle(&self) -> Arc<ClusterHandle> {
        self.cluster.clone().expect("running")
    }

    /// Runs `op` on the cluster's runtime rather than the scenario's, which
    /// may be blocked in a synchronous client while the broker must go on.
    fn on_cluster_runtime<F, Fut>(&self, op: F) -> BoxFuture<'_>
    where
        F: FnOnce(Arc<ClusterHandle>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let job = self.rt.spawn(op(self.handle()));
        Box::pin(async move { job.await.unwrap() })
    }

    /// Stops every task of the cluster and checks nothing is left holding it.
    fn shutdown(mut self) {
        let cluster = Arc::try_unwrap(self.cluster.take().unwrap())
            .unwrap_or_else(|_| panic!("the cluster is still referenced"));
        self.rt.block_on(cluster.shutdown());
    }
}

impl Backend for Mini {
    fn name(&self) -> &'static str {
        "mini-broker"
    }
    fn bootstrap(&self) -> String {
        self.handle().bootstrap()
    }
    fn brokers(&self) -> Vec<BrokerId> {
        self.handle().broker_ids()
    }
    fn stop_broker(&self, id: BrokerId) -> BoxFuture<'_> {
        self.on_cluster_runtime(move |c| async move { c.stop_broker(id).await.unwrap() })
    }
    fn start_broker(&self, id: BrokerId) -> BoxFuture<'_> {
        self.on_cluster_runtime(move |c| async move { c.start_broker(id).await.unwrap() })
    }
    fn pause_broker(&self, id: BrokerId, paused: bool) -> BoxFuture<'_> {
        let c = self.handle();
        Box::pin(async move { c.pause_replication(id, paused).unwrap() })
    }
    fn quota_burst(&self, rate: u64) -> u64 {
        // The token bucket holds at most BURST of credit, and a fetch goes
        // whenever the balance is not negative, paid afterwards.
        (rate as f64 * kafka_migrate::minibroker::throttle::BURST.as_secs_f64()) as u64
            + kafka_migrate::minibroker::state::REPLICA_FETCH_MAX_BYTES as u64
    }
}

/// A fresh cluster per test, shut down cleanly afterwards.
fn with_mini(scenario: impl FnOnce(&dyn Backend)) {
    let b = Mini::start();
    scenario(&b);
    b.shutdown();
}

super::suite!(with_mini,
    scenarios: [],
    tools: [ignore = "needs Java 17 and Maven (Kafka's tools); .ci/run runs it"],
    python: [ignore = "needs kafka-python; .ci/run installs it"]
);
