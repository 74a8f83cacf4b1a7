//! InitProducerId (22), for idempotent producers (the Java client's
//! default): hands out fresh producer ids. Transactions are not supported
//! (a transactional id gets INVALID_REQUEST), and the broker does not
//! deduplicate by sequence number.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::minibroker::code;
use crate::minibroker::shared::BrokerCtx;

pub async fn handle(
    ctx: &BrokerCtx,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        return InitProducerIdResponse::default().with_error_code(code::INVALID_REQUEST);
    }
    ctx.shared.mutate(|s| {
        s.next_producer_id += 1;
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(s.next_producer_id))
            .with_producer_epoch(0)
    })
}
