//! The APIs the mini-broker implements: one file per API (or per close
//! family), a table of supported versions that ApiVersions advertises, and
//! the dispatcher from a raw frame to an encoded response.
//!
//! Invariant: ApiVersions advertises exactly the keys in [`SUPPORTED`], and
//! every key there has a handler below (the `apis!` macro makes both from
//! one list).

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;

use super::codec::{self, DecodeError};
use super::shared::BrokerCtx;

mod api_versions;
mod configs;
mod epochs;
mod fetch;
mod groups;
mod log_dirs;
mod metadata;
mod produce;
mod producer_id;
mod quorum;
mod reassign;
mod sasl;
mod topics;

macro_rules! apis {
    ($( $variant:ident: $req:ty => $min:literal ..= $max:literal, $handler:path; )*) => {
        /// A decoded request of a supported API.
        #[derive(Debug)]
        pub enum ApiRequest { $( $variant($req), )* }

        /// Supported (api key, min version, max version), as advertised.
        pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[ $( (ApiKey::$variant, $min, $max), )* ];

        fn decode_known(api_key: ApiKey, version: i16, body: &mut Bytes) -> Option<anyhow::Result<ApiRequest>> {
            match api_key {
                $( ApiKey::$variant => Some(codec::decode_body::<$req>(body, version).map(ApiRequest::$variant)), )*
                _ => None,
            }
        }

        async fn run(ctx: &BrokerCtx, req: ApiRequest, version: i16, correlation_id: i32) -> anyhow::Result<BytesMut> {
            match req {
                $( ApiRequest::$variant(r) => {
                    let resp = $handler(ctx, r, version).await;
                    codec::encode_response(correlation_id, version, &resp).map_err(|e| {
                        // A response that does not encode is a mini-broker bug: say so.
                        $crate::minibroker::log(format_args!("mini-broker: cannot encode {:?} v{version} response: {e:#}", ApiKey::$variant));
                        e
                    })
                } )*
            }
        }
    };
}

apis! {
    Produce: ProduceRequest => 3..=12, produce::handle;
    Fetch: FetchRequest => 4..=17, fetch::handle;
    ListOffsets: ListOffsetsRequest => 1..=10, fetch::list_offsets;
    Metadata: MetadataRequest => 0..=13, metadata::handle;
    OffsetCommit: OffsetCommitRequest => 2..=9, groups::offset_commit;
    OffsetFetch: OffsetFetchRequest => 1..=9, groups::offset_fetch;
    FindCoordinator: FindCoordinatorRequest => 0..=6, groups::find_coordinator;
    JoinGroup: JoinGroupRequest => 0..=9, groups::join;
    Heartbeat: HeartbeatRequest => 0..=4, groups::heartbeat;
    LeaveGroup: LeaveGroupRequest => 0..=5, groups::leave;
    SyncGroup: SyncGroupRequest => 0..=5, groups::sync;
    DescribeGroups: DescribeGroupsRequest => 0..=6, groups::describe;
    ListGroups: ListGroupsRequest => 0..=5, groups::list;
    ApiVersions: ApiVersionsRequest => 0..=4, api_versions::handle;
    CreateTopics: CreateTopicsRequest => 2..=7, topics::create;
    InitProducerId: InitProducerIdRequest => 0..=5, producer_id::handle;
    DeleteTopics: DeleteTopicsRequest => 1..=6, topics::delete;
    OffsetForLeaderEpoch: OffsetForLeaderEpochRequest => 2..=4, epochs::handle;
    DescribeConfigs: DescribeConfigsRequest => 1..=4, configs::describe;
    AlterConfigs: AlterConfigsRequest => 0..=2, configs::alter;
    AlterReplicaLogDirs: AlterReplicaLogDirsRequest => 1..=2, log_dirs::alter;
    DescribeLogDirs: DescribeLogDirsRequest => 1..=4, log_dirs::describe;
    ElectLeaders: ElectLeadersRequest => 0..=2, reassign::elect;
    DeleteGroups: DeleteGroupsRequest => 0..=2, groups::delete;
    OffsetDelete: OffsetDeleteRequest => 0..=0, groups::offset_delete;
    IncrementalAlterConfigs: IncrementalAlterConfigsRequest => 0..=1, configs::incremental;
    AlterPartitionReassignments: AlterPartitionReassignmentsRequest => 0..=0, reassign::alter;
    ListPartitionReassignments: ListPartitionReassignmentsRequest => 0..=0, reassign::list;
    DescribeQuorum: DescribeQuorumRequest => 0..=2, quorum::handle;
    DescribeCluster: DescribeClusterRequest => 0..=1, metadata::describe_cluster;
    SaslHandshake: SaslHandshakeRequest => 1..=1, sasl::handshake;
    SaslAuthenticate: SaslAuthenticateRequest => 0..=2, sasl::authenticate;
    ConsumerGroupHeartbeat: ConsumerGroupHeartbeatRequest => 0..=1, groups::consumer_group_heartbeat;
}

/// Looks up the supported version range of an API.
pub fn supported(api_key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == api_key)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// Decodes a whole request frame (without the size prefix). This is the
/// fuzz target's entry point: it must return, never panic, on any input.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, ApiRequest), DecodeError> {
    let (api_key, header, mut body) = codec::decode_header(frame)?;
    let version = header.request_api_version;
    match supported(api_key) {
        Some((lo, hi)) if (lo..=hi).contains(&version) => {}
        _ => {
            return Err(DecodeError::UnsupportedVersion {
                api_key,
                version,
                header,
            });
        }
    }
    match decode_known(api_key, version, &mut body) {
        Some(Ok(req)) => Ok((header, req)),
        Some(Err(e)) => Err(DecodeError::BadBody {
            api_key,
            version,
            message: e.to_string(),
            header,
        }),
        None => Err(DecodeError::UnsupportedVersion {
            api_key,
            version,
            header,
        }),
    }
}

/// Handles one frame: `Ok(Some(bytes))` is the response to write,
/// `Ok(None)` means no response (acks=0), `Err` closes the connection.
pub async fn handle_frame(ctx: &BrokerCtx, frame: Bytes) -> anyhow::Result<Option<BytesMut>> {
    match decode_request(frame) {
        Ok((header, req)) => {
            // JoinGroup names a member after its client, which only the header carries.
            if let ApiRequest::JoinGroup(_) = &req {
                ctx.session.lock().client_id = header
                    .client_id
                    .as_ref()
                    .map_or_else(String::new, |c| c.to_string());
            }
            if let ApiRequest::Produce(p) = &req
                && p.acks == 0
            {
                let _ = run(ctx, req, header.request_api_version, header.correlation_id).await?;
                return Ok(None);
            }
            run(ctx, req, header.request_api_version, header.correlation_id)
                .await
                .map(Some)
        }
        // Kafka answers an ApiVersions request it cannot parse or whose
        // version it does not know with a v0 response carrying
        // UNSUPPORTED_VERSION and its version table, so the client can retry.
        Err(
            DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                header,
                ..
            }
            | DecodeError::BadBody {
                api_key: ApiKey::ApiVersions,
                header,
                ..
            },
        ) => {
            let resp = api_versions::table().with_error_code(super::code::UNSUPPORTED_VERSION);
            codec::encode_response(header.correlation_id, 0, &resp).map(Some)
        }
        Err(e) => Err(e.into()),
    }
}
