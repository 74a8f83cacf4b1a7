//! A minimal Kafka client over the `kafka-protocol` codecs: one connection,
//! one request at a time. For the mini-broker's own tests and benchmarks
//! (the project's real wire client lives elsewhere).

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct MiniClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl MiniClient {
    #[allow(clippy::disallowed_methods)] // the test client's socket
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream =
            tokio::time::timeout(std::time::Duration::from_secs(10), TcpStream::connect(addr))
                .await??;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            correlation_id: 0,
        })
    }

    /// Sends a request of type `R` at `version` and decodes its response;
    /// gives up after 30 s.
    pub async fn send<R: Request>(&mut self, req: &R, version: i16) -> anyhow::Result<R::Response> {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            self.send_inner(req, version),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no response to api key {} v{version} within 30 s", R::KEY))?
    }

    async fn send_inner<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> anyhow::Result<R::Response> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("mini-client")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version))?;
        req.encode(&mut buf, version)?;
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.send_raw(&buf).await?;
        let mut frame = self.read_frame().await?;
        let rh = ResponseHeader::decode(
            &mut frame,
            <R::Response as HeaderVersion>::header_version(version),
        )?;
        anyhow::ensure!(
            rh.correlation_id == self.correlation_id,
            "correlation id mismatch"
        );
        R::Response::decode(&mut frame, version)
    }

    /// Writes raw bytes (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads one size-prefixed frame.
    pub async fn read_frame(&mut self) -> anyhow::Result<Bytes> {
        let len = self.stream.read_i32().await?;
        // A length past what the mini-broker ever sends is garbage, not a
        // reason to allocate up to 2 GiB.
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= super::codec::MAX_FRAME)
            .ok_or_else(|| anyhow::anyhow!("response frame length {len} is not a Kafka frame"))?;
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).await?;
        Ok(Bytes::from(buf))
    }
}
