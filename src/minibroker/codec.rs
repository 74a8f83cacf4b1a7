//! Framing and header handling. The request and response bodies are
//! encoded and decoded by the `kafka-protocol` crate only; this module
//! reads and writes the 4-byte size prefix (the one place that does) and
//! picks header versions.
//!
//! Not for: sockets and connections (see `server`, which hands its streams
//! to [`read_frame`]), or knowing which APIs exist (see `api`).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest request frame accepted; bigger ones close the connection.
pub const MAX_FRAME: usize = 100 * 1024 * 1024;

/// Why a frame could not be turned into a request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame too short for a request header ({0} bytes)")]
    TooShort(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("malformed request header: {0}")]
    BadHeader(String),
    #[error("unsupported version {version} of {api_key:?}")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        header: RequestHeader,
    },
    #[error("malformed {api_key:?} v{version} body from client {:?}: {message}", header.client_id)]
    BadBody {
        api_key: ApiKey,
        version: i16,
        message: String,
        header: RequestHeader,
    },
}

/// Reads one size-prefixed request frame; `None` at a clean end of stream.
pub async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<Option<Bytes>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(len);
    let len = usize::try_from(len).map_err(|_| anyhow::anyhow!("negative frame size {len}"))?;
    anyhow::ensure!(
        len <= MAX_FRAME,
        "frame of {len} bytes exceeds the {MAX_FRAME} limit"
    );
    let mut buf = BytesMut::zeroed(len);
    stream.read_exact(&mut buf).await?;
    Ok(Some(buf.freeze()))
}

/// Splits a frame (without its size prefix) into api key, header and body.
pub fn decode_header(mut frame: Bytes) -> Result<(ApiKey, RequestHeader, Bytes), DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::TooShort(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api_key = ApiKey::try_from(key).map_err(|_| DecodeError::UnknownApiKey(key))?;
    let header_version = api_key.request_header_version(version);
    let header = guarded(|| RequestHeader::decode(&mut frame, header_version))
        .map_err(|e| DecodeError::BadHeader(e.to_string()))?;
    Ok((api_key, header, frame))
}

/// Runs a kafka-protocol decode, turning a panic on hostile input into an
/// error: the server must answer garbage with an error, never a crash.
pub fn guarded<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("decoder panicked on malformed input")),
    }
}

/// Decodes a request body of type `R` at `version`. Trailing bytes are
/// tolerated, as Kafka does: newer librdkafka sends a few more than the
/// schema this crate knows for some flexible versions.
pub fn decode_body<R: Decodable>(body: &mut Bytes, version: i16) -> anyhow::Result<R> {
    guarded(|| R::decode(body, version))
}

/// Encodes a size-prefixed response frame with the header version the
/// response type prescribes (ApiVersions: always v0; flexible: v1).
pub fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
) -> anyhow::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, R::header_version(version))?;
    response.encode(&mut buf, version)?;
    let len = i32::try_from(buf.len() - 4)?;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}
