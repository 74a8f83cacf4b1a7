//! ApiVersions (18): the version table. Its response header is always v0,
//! which `codec::encode_response` gets from the response type.

use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

use super::SUPPORTED;
use crate::minibroker::shared::BrokerCtx;

/// The advertised table: exactly the implemented APIs.
pub fn table() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        SUPPORTED
            .iter()
            .map(|(k, lo, hi)| {
                ApiVersion::default()
                    .with_api_key(*k as i16)
                    .with_min_version(*lo)
                    .with_max_version(*hi)
            })
            .collect(),
    )
}

pub async fn handle(
    _ctx: &BrokerCtx,
    _req: ApiVersionsRequest,
    _version: i16,
) -> ApiVersionsResponse {
    table()
}
