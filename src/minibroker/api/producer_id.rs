//! InitProducerId (22), for idempotent producers (the Java client's
//! default): hands out fresh producer ids at epoch 0, or bumps the epoch of
//! the id a producer names. Transactions are not supported (a
//! transactional id gets INVALID_REQUEST); Produce checks sequences.

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
    // KIP-360: a producer that names its id and epoch gets the epoch
    // bumped, so it can start its sequences again after an error.
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 {
        return InitProducerIdResponse::default()
            .with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch.saturating_add(1));
    }
    ctx.shared.mutate(|s| {
        s.next_producer_id += 1;
        // A metadata record in KRaft (a block of ids): saved with the rest.
        s.metadata_epoch += 1;
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(s.next_producer_id))
            .with_producer_epoch(0)
    })
}
