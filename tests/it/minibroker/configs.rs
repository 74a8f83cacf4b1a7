//! Config routing as in Kafka: a BROKER resource must name the receiving
//! broker (else INVALID_REQUEST 42); TOPIC resources go to any broker.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::*;

use super::reassign::set_configs;
use super::*;

async fn describe(
    c: &ClusterHandle,
    via: i32,
    resource_type: i8,
    name: &str,
) -> (i16, Vec<(String, Option<String>)>) {
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configuration_keys(None),
    ]);
    let resp = client(c, via).await.send_version(&req, 4).await.unwrap();
    let r = &resp.results[0];
    (
        r.error_code,
        r.configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_configs_must_be_sent_to_the_named_broker() {
    let c = start(3, 0, &["cfg:1:1"]).await;
    let key = "follower.replication.throttled.rate";
    assert_eq!(set_configs(&c, 1, 4, "2", &[(key, Some("1000"))]).await, 42);
    assert_eq!(describe(&c, 1, 4, "2").await.0, 42);
    assert_eq!(set_configs(&c, 2, 4, "2", &[(key, Some("1000"))]).await, 0);
    let (code, configs) = describe(&c, 2, 4, "2").await;
    assert_eq!(code, 0);
    assert!(
        configs.contains(&(key.to_string(), Some("1000".into()))),
        "{configs:?}"
    );
    assert_eq!(
        set_configs(&c, 2, 4, "2", &[(key, Some("fast"))]).await,
        40,
        "INVALID_CONFIG"
    );
    assert_eq!(set_configs(&c, 2, 4, "2", &[(key, None)]).await, 0);
    assert!(
        !describe(&c, 2, 4, "2")
            .await
            .1
            .contains(&(key.to_string(), Some("1000".into())))
    );

    // Topic configs: any broker; lists validated.
    let tkey = "leader.replication.throttled.replicas";
    assert_eq!(
        set_configs(&c, 3, 2, "cfg", &[(tkey, Some("0:1,0:2"))]).await,
        0
    );
    assert!(
        describe(&c, 1, 2, "cfg")
            .await
            .1
            .contains(&(tkey.to_string(), Some("0:1,0:2".into())))
    );
    assert_eq!(
        set_configs(&c, 3, 2, "cfg", &[(tkey, Some("zero"))]).await,
        40
    );
    assert_eq!(set_configs(&c, 3, 2, "nope", &[(tkey, Some("*"))]).await, 3);
    c.shutdown().await;
}
