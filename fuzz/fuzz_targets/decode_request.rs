//! Fuzzes the mini-broker's request decoder: any frame body must decode or
//! be refused with an error, never panic, abort or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kafka_migrate::minibroker::api::decode_request(bytes::Bytes::copy_from_slice(data));
});
