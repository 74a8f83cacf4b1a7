//! The suite against the embedded mini-broker: 4 brokers in 2 racks, like
//! the real cluster. Each test gets its own cluster on ephemeral loopback
//! ports, running on its own runtime so the scenario (which also runs
//! blocking clients such as kcat) can never starve it.

use std::sync::Arc;
use std::time::Duration;

use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle};
use kafka_migrate::model::BrokerId;

use super::{Backend, BoxFuture, scenarios, tools};

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
        let c = self.handle();
        let job = self
            .rt
            .spawn(async move { c.stop_broker(id).await.unwrap() });
        Box::pin(async move { job.await.unwrap() })
    }
    fn start_broker(&self, id: BrokerId) -> BoxFuture<'_> {
        let c = self.handle();
        let job = self
            .rt
            .spawn(async move { c.start_broker(id).await.unwrap() });
        Box::pin(async move { job.await.unwrap() })
    }
}

macro_rules! mini {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let b = Mini::start();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(scenarios::$name(&b));
            b.shutdown();
        }
    )*};
}

mini!(
    kcat_metadata_and_round_trip,
    throttled_reassignment,
    cancel_and_override,
    throttle_configs_read_back,
    preferred_leader_election,
    bad_requests,
    rdkafka_round_trip,
    leader_stopped_during_production,
);

macro_rules! mini_tools {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            if !tools::enabled() {
                return;
            }
            let b = Mini::start();
            tools::$name(&b);
            b.shutdown();
        }
    )*};
}

mini_tools!(
    kafka_topics,
    kafka_configs,
    kafka_log_dirs,
    kafka_reassign_partitions
);
