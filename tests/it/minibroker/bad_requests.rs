//! Hostile input: garbage, truncated frames, unknown api keys and versions
//! get an error response or a closed connection, and the broker keeps
//! serving everyone else.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_migrate::minibroker::api::decode_request;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// Sends raw bytes and reports what came back: Some(frame) or None (closed).
async fn raw_exchange(c: &ClusterHandle, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(c.broker_addr(1).unwrap()).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let _ = s.shutdown().await; // half-close: a server waiting for more sees EOF
    let mut len = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut len)).await {
        Ok(Ok(_)) => {
            let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
            s.read_exact(&mut buf).await.unwrap();
            Some(buf)
        }
        Ok(Err(_)) => None,
        Err(_) => panic!("server neither answered nor closed within 5 s"),
    }
}

fn frame(api_key: i16, version: i16, header_version: i16, body: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api_key)
        .with_request_api_version(version)
        .with_correlation_id(77)
        .encode(&mut b, header_version)
        .unwrap();
    b.put_slice(body);
    let len = (b.len() - 4) as i32;
    b[0..4].copy_from_slice(&len.to_be_bytes());
    b.to_vec()
}

async fn still_serving(c: &ClusterHandle) {
    let resp = client(c, 1)
        .await
        .send_version(&ApiVersionsRequest::default(), 3)
        .await
        .unwrap();
    assert_eq!(resp.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_and_unknown_requests_never_crash_the_broker() {
    let c = start(1, 0, &["g:1:1"]).await;
    // Garbage of every short length, a negative and a huge size prefix.
    for bytes in [
        &b"\xff\xff\xff\xff"[..],
        b"\x7f\xff\xff\xffxx",
        b"\x00\x00\x00\x03abc",
        b"\x00\x00\x00\x10hello world 1234",
    ] {
        assert_eq!(
            raw_exchange(&c, bytes).await,
            None,
            "{bytes:?} closes the connection"
        );
    }
    // Truncated: the size promises more than arrives.
    assert_eq!(
        raw_exchange(&c, b"\x00\x00\x01\x00\x00\x12\x00\x03").await,
        None
    );
    // Unknown api key; known key with an unsupported version.
    assert_eq!(raw_exchange(&c, &frame(999, 0, 1, &[])).await, None);
    assert_eq!(raw_exchange(&c, &frame(3, 99, 2, &[0])).await, None);
    // A body that does not parse as a Metadata v12 body.
    assert_eq!(
        raw_exchange(&c, &frame(3, 12, 2, &[0xff, 0xff, 0xff])).await,
        None
    );
    still_serving(&c).await;

    // ApiVersions of an unknown version: a v0 response with UNSUPPORTED_VERSION and the table.
    let resp = raw_exchange(&c, &frame(18, 42, 2, &[0, 0, 0]))
        .await
        .expect("an answer");
    let mut bytes = bytes::Bytes::from(resp);
    let header = ResponseHeader::decode(&mut bytes, 0).unwrap();
    assert_eq!(header.correlation_id, 77);
    let body = ApiVersionsResponse::decode(&mut bytes, 0).unwrap();
    assert_eq!(body.error_code, 35);
    assert!(
        body.api_keys.iter().any(|k| k.api_key == 45),
        "table lists AlterPartitionReassignments"
    );

    // Corrupt record batches in a valid Produce request: CORRUPT_MESSAGE.
    let mut cl = client(&c, 1).await;
    let good = batch(0, 3, 10);
    assert_eq!(
        produce(&mut cl, "g", 0, good.slice(0..good.len() - 5), 1)
            .await
            .0,
        2
    );
    assert_eq!(
        produce(&mut cl, "g", 0, bytes::Bytes::from_static(b"short"), 1)
            .await
            .0,
        2
    );
    assert_eq!(
        produce(&mut cl, "g", 0, good, 1).await,
        (0, 0),
        "the same connection still works"
    );
    still_serving(&c).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_random_frames_get_an_answer_or_a_close() {
    let c = start(1, 0, &["r:1:1"]).await;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let keys: Vec<i16> = kafka_migrate::minibroker::api::SUPPORTED
        .iter()
        .map(|(k, _, _)| *k as i16)
        .collect();
    for i in 0..300 {
        let key = keys[next() as usize % keys.len()];
        let version = (next() % 14) as i16;
        let body: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
        let f = frame(key, version, if i % 2 == 0 { 1 } else { 2 }, &body);
        // The decoder must return on anything; over the wire, answer or close.
        let _ = decode_request(bytes::Bytes::from(f[4..].to_vec()));
        let _ = raw_exchange(&c, &f).await;
    }
    still_serving(&c).await;
    c.shutdown().await;
}
