//! DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).
//!
//! Routing as in Kafka: a BROKER resource must name the receiving broker,
//! otherwise INVALID_REQUEST (42); a TOPIC resource goes to any broker.
//! What is accepted and how it applies is the controller's, in
//! `minibroker::configs` (shared with the simulator); this file routes and
//! encodes.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};

use crate::minibroker::code;
use crate::minibroker::configs::{ConfigTarget, IncrementalOp};
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;
use crate::minibroker::state::{Refusal, State};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// Routing, then the controller's existence check.
fn resolve(
    ctx: &BrokerCtx,
    s: &State,
    resource_type: i8,
    name: &str,
) -> Result<ConfigTarget, Refusal> {
    let target = match resource_type {
        BROKER => match name.parse::<i32>() {
            Ok(id) if id == ctx.id => ConfigTarget::Broker(id),
            _ => {
                return Err(Refusal::new(
                    code::INVALID_REQUEST,
                    format!(
                        "broker config resource {name:?} sent to broker {}: it must name the receiving broker",
                        ctx.id
                    ),
                ));
            }
        },
        TOPIC => ConfigTarget::Topic(name.to_string()),
        t => {
            return Err(Refusal::new(
                code::INVALID_REQUEST,
                format!("unsupported resource type {t}"),
            ));
        }
    };
    s.check_config_target(&target)?;
    Ok(target)
}

pub async fn describe(
    ctx: &BrokerCtx,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    ctx.shared.inspect(|s| {
        let results = req
            .resources
            .iter()
            .map(|r| {
                let res = DescribeConfigsResult::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone());
                let entries = match resolve(ctx, s, r.resource_type, r.resource_name.as_str())
                    .and_then(|target| s.config_entries(&target))
                {
                    Ok(e) => e,
                    Err(e) => {
                        return res
                            .with_error_code(e.code)
                            .with_error_message(Some(sb(e.message)));
                    }
                };
                let wanted = r.configuration_keys.as_ref();
                let configs = entries
                    .into_iter()
                    .filter(|e| wanted.is_none_or(|w| w.iter().any(|x| x.as_str() == e.name)))
                    .map(|e| {
                        let mut c = DescribeConfigsResourceResult::default()
                            .with_name(sb(e.name))
                            .with_value(e.value.map(sb))
                            .with_read_only(e.read_only)
                            .with_is_sensitive(false)
                            .with_config_source(e.source);
                        if req.include_synonyms {
                            c.synonyms = e
                                .synonyms
                                .into_iter()
                                .map(|s| {
                                    DescribeConfigsSynonym::default()
                                        .with_name(sb(s.name))
                                        .with_value(s.value.map(sb))
                                        .with_source(s.source)
                                })
                                .collect();
                        }
                        if version >= 3 {
                            c.config_type = e.config_type;
                        }
                        c
                    })
                    .collect();
                res.with_configs(configs)
            })
            .collect();
        DescribeConfigsResponse::default().with_results(results)
    })
}

pub async fn alter(
    ctx: &BrokerCtx,
    req: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    ctx.shared.mutate(|s| {
        let responses = req
            .resources
            .iter()
            .map(|r| {
                let res = alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone());
                let configs: Vec<(String, Option<String>)> = r
                    .configs
                    .iter()
                    .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                    .collect();
                let outcome = resolve(ctx, s, r.resource_type, r.resource_name.as_str())
                    .and_then(|target| s.replace_configs(&target, &configs, req.validate_only));
                match outcome {
                    // Kafka's ApiError.NONE: no message (the codec's default is "").
                    Ok(()) => res.with_error_message(None),
                    Err(e) => res
                        .with_error_code(e.code)
                        .with_error_message(Some(sb(e.message))),
                }
            })
            .collect();
        s.metadata_epoch += 1;
        AlterConfigsResponse::default().with_responses(responses)
    })
}

pub async fn incremental(
    ctx: &BrokerCtx,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    ctx.shared.mutate(|s| {
        let responses = req
            .resources
            .iter()
            .map(|r| {
                let res =
                    incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name.clone());
                let ops: Vec<IncrementalOp> = r
                    .configs
                    .iter()
                    .map(|c| IncrementalOp {
                        key: c.name.to_string(),
                        op: c.config_operation,
                        value: c.value.as_ref().map(|v| v.to_string()),
                    })
                    .collect();
                let outcome =
                    resolve(ctx, s, r.resource_type, r.resource_name.as_str()).and_then(|target| {
                        s.alter_configs_incremental(&target, &ops, req.validate_only)
                    });
                match outcome {
                    // Kafka's ApiError.NONE: no message (the codec's default is "").
                    Ok(()) => res.with_error_message(None),
                    Err(e) => res
                        .with_error_code(e.code)
                        .with_error_message(Some(sb(e.message))),
                }
            })
            .collect();
        s.metadata_epoch += 1;
        IncrementalAlterConfigsResponse::default().with_responses(responses)
    })
}
