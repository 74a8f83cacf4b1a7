//! One connection to one broker: length-prefixed frames, correlation ids,
//! and the API versions negotiated on connect (ApiVersions is the first
//! request; its response header is always v0).

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::config::{ClientSettings, SaslMechanism, SaslSettings, TlsSettings};
use super::error::{KafkaError, refused};
use super::scram::{ScramClient, ScramError, ScramHash};
use crate::model::live::ErrorCode;

/// Frames above this are refused. A Metadata response for a million
/// partitions is about 60 MB; a length past this is another protocol's
/// bytes read as a length (`HTTP` reads as 1213486160).
const MAX_FRAME: usize = 256 << 20;

/// A frame's buffer grows as its bytes arrive, from at most this much, so
/// a length that lies costs no memory.
const FIRST_ALLOCATION: usize = 64 << 10;

/// A socket, in plaintext or TLS (`security.protocol`).
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub struct Connection {
    addr: String,
    stream: Stream,
    correlation: i32,
    timeout: Duration,
    client_id: StrBytes,
    /// api key -> (min, max) the broker supports.
    versions: HashMap<i16, (i16, i16)>,
    /// What the TLS handshake used, to explain an alert read later.
    tls: Option<TlsSettings>,
    /// The credentials, kept to re-authenticate (KIP-368).
    sasl: Option<SaslSettings>,
    /// The session lifetime the broker gave with the last SaslAuthenticate
    /// (0: none), and when to re-authenticate: at 85% of it, as Kafka's
    /// clients do (they pick 85-95%).
    session_lifetime_ms: i64,
    reauth_at: Option<Instant>,
}

impl Connection {
    /// Connects as `kafka-migrate` and negotiates versions.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Connection, KafkaError> {
        Self::connect_as(addr, timeout, super::config::DEFAULT_CLIENT_ID).await
    }

    /// Connects in plaintext with `client_id` in every request header and
    /// negotiates versions; `timeout` bounds the connect and each request.
    pub async fn connect_as(
        addr: &str,
        timeout: Duration,
        client_id: &str,
    ) -> Result<Connection, KafkaError> {
        Self::connect_secured(addr, timeout, client_id, None).await
    }

    /// Connects as `settings` say: their client id, request timeout and
    /// TLS.
    pub async fn open(addr: &str, settings: &ClientSettings) -> Result<Connection, KafkaError> {
        let mut conn = Self::connect_secured(
            addr,
            settings.request_timeout,
            &settings.client_id,
            settings.tls.as_ref(),
        )
        .await?;
        if let Some(sasl) = &settings.sasl {
            conn.authenticate(sasl).await?;
            conn.sasl = Some(sasl.clone());
        }
        Ok(conn)
    }

    /// SASL after ApiVersions, as Kafka's clients do (KIP-152):
    /// SaslHandshake v1 names the mechanism, SaslAuthenticate carries the
    /// PLAIN credentials or the SCRAM exchange in Kafka frames.
    async fn authenticate(&mut self, sasl: &SaslSettings) -> Result<(), KafkaError> {
        self.reauth_at = None;
        self.session_lifetime_ms = 0;
        let started = Instant::now();
        self.authenticate_once(sasl).await?;
        if self.session_lifetime_ms > 0 {
            // Counted from before the exchange, so a slow one errs early.
            let lifetime = Duration::from_millis(self.session_lifetime_ms as u64);
            self.reauth_at = Some(started + lifetime.mul_f64(0.85));
        }
        Ok(())
    }

    /// Whether the broker's session lifetime asks for re-authentication
    /// before the next request.
    pub fn reauthentication_due(&self) -> bool {
        self.reauth_at.is_some_and(|t| Instant::now() >= t)
    }

    async fn authenticate_once(&mut self, sasl: &SaslSettings) -> Result<(), KafkaError> {
        let addr = self.addr.clone();
        let fail = |detail: String| KafkaError::Sasl {
            addr: addr.clone(),
            detail,
        };
        let mechanism = sasl.mechanism.name();
        let v = self.version_for::<SaslHandshakeRequest>().map_err(|_| {
            fail("the broker does not offer SaslHandshake v1: is it a SASL listener? (security.protocol in --command-config)".into())
        })?;
        let resp = self
            .exchange(
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism)),
                v,
            )
            .await?;
        match resp.error_code {
            ErrorCode::NONE => {}
            // ILLEGAL_SASL_STATE: a listener that does not authenticate.
            34 => {
                return Err(fail(
                    "the listener does not authenticate: is it a PLAINTEXT or SSL listener? (security.protocol in --command-config)".into(),
                ));
            }
            code => {
                let offered: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
                return Err(fail(format!(
                    "{mechanism} refused ({}): the broker offers {}",
                    ErrorCode::new(code, None),
                    if offered.is_empty() {
                        "none".to_string()
                    } else {
                        offered.join(", ")
                    }
                )));
            }
        }
        let hash = match sasl.mechanism {
            SaslMechanism::Plain => None,
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
        };
        let Some(hash) = hash else {
            // PLAIN (RFC 4616): no authorization id, NUL, user, NUL, password.
            let mut token =
                Vec::with_capacity(sasl.username.len() + sasl.password.expose().len() + 2);
            token.push(0);
            token.extend_from_slice(sasl.username.as_bytes());
            token.push(0);
            token.extend_from_slice(sasl.password.expose().as_bytes());
            self.sasl_step(sasl, token).await?;
            return Ok(());
        };
        let scram_failed =
            |e: ScramError| fail(format!("user {:?}, {mechanism}: {e}", sasl.username));
        let mut client = ScramClient::new(hash, &sasl.username, sasl.password.expose());
        let first = client.first().map_err(scram_failed)?;
        let server_first = self.sasl_step(sasl, first).await?;
        let last = client.respond(&server_first).map_err(scram_failed)?;
        let server_final = self.sasl_step(sasl, last).await?;
        client.finish(&server_final).map_err(scram_failed)
    }

    /// One SaslAuthenticate round trip: the broker's bytes, or its refusal
    /// naming the user (never the password).
    async fn sasl_step(
        &mut self,
        sasl: &SaslSettings,
        token: Vec<u8>,
    ) -> Result<Bytes, KafkaError> {
        let mechanism = sasl.mechanism.name();
        let v = self.version_for::<SaslAuthenticateRequest>()?;
        let resp = self
            .exchange(
                &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
                v,
            )
            .await?;
        if resp.session_lifetime_ms > 0 {
            self.session_lifetime_ms = resp.session_lifetime_ms;
        }
        if resp.error_code != ErrorCode::NONE {
            let said = resp
                .error_message
                .as_ref()
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default();
            return Err(KafkaError::Sasl {
                addr: self.addr.clone(),
                detail: format!(
                    "user {:?}, {mechanism}: {}{said}",
                    sasl.username,
                    ErrorCode::new(resp.error_code, None)
                ),
            });
        }
        Ok(resp.auth_bytes)
    }

    /// Connects, over TLS when `tls` is given, and negotiates versions;
    /// `timeout` bounds the connect with its handshake, and each request.
    #[allow(clippy::disallowed_methods)] // the client's one socket
    pub async fn connect_secured(
        addr: &str,
        timeout: Duration,
        client_id: &str,
        tls: Option<&TlsSettings>,
    ) -> Result<Connection, KafkaError> {
        let connect = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|source| KafkaError::Connect {
                    addr: addr.to_string(),
                    source,
                })?;
            let _ = tcp.set_nodelay(true);
            match tls {
                None => Ok(Stream::Plain(tcp)),
                Some(tls) => Ok(Stream::Tls(Box::new(
                    super::tls::handshake(addr, tcp, tls).await?,
                ))),
            }
        };
        let stream =
            tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| KafkaError::Timeout {
                    api: if tls.is_some() {
                        "connect (TCP and TLS handshake)"
                    } else {
                        "connect"
                    },
                    addr: addr.to_string(),
                    after: timeout,
                })??;
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            correlation: 0,
            timeout,
            client_id: StrBytes::from_string(client_id.to_string()),
            versions: HashMap::new(),
            tls: tls.cloned(),
            sasl: None,
            session_lifetime_ms: 0,
            reauth_at: None,
        };
        // v3 carries the client software name; every Kafka 2.4+ broker
        // answers it, and older ones answer v0 with UNSUPPORTED_VERSION.
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafka-migrate"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let resp = conn.send_version(&req, 3).await?;
        if resp.error_code != ErrorCode::NONE {
            return Err(refused(
                "ApiVersions",
                addr,
                ErrorCode::new(resp.error_code, None),
            ));
        }
        conn.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The highest version both sides speak for `R`.
    pub fn version_for<R: Request>(&self) -> Result<i16, KafkaError> {
        let client = R::VERSIONS;
        let (bmin, bmax) = self
            .versions
            .get(&R::KEY)
            .copied()
            .unwrap_or((i16::MAX, -1));
        let v = bmax.min(client.max);
        if v < bmin.max(client.min) {
            return Err(KafkaError::UnsupportedVersion {
                api: api_name(R::KEY),
                addr: self.addr.clone(),
                broker_min: bmin,
                broker_max: bmax,
                client_min: client.min,
                client_max: client.max,
            });
        }
        Ok(v)
    }

    /// Sends `req` at the negotiated version and returns the response.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<R::Response, KafkaError> {
        let v = self.version_for::<R>()?;
        self.send_version(req, v).await
    }

    /// Sends `req` at an explicit version, re-authenticating first when
    /// the broker's session lifetime is nearly over (KIP-368: a broker
    /// closes a connection whose session expired at its next request).
    pub async fn send_version<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, KafkaError> {
        if self.reauthentication_due()
            && let Some(sasl) = self.sasl.clone()
        {
            self.authenticate(&sasl).await?;
        }
        self.exchange(req, version).await
    }

    /// One request and its response, nothing else.
    async fn exchange<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, KafkaError> {
        let api = api_name(R::KEY);
        let buf = self.frame(req, version)?;
        let timeout = self.timeout;
        let exchange = async {
            self.write(api, &buf).await?;
            self.read_frame(api).await
        };
        let mut frame = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| KafkaError::Timeout {
                api,
                addr: self.addr.clone(),
                after: timeout,
            })??;
        let rh = ResponseHeader::decode(
            &mut frame,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .map_err(|e| self.codec(api, e))?;
        if rh.correlation_id != self.correlation {
            return Err(KafkaError::Codec {
                api,
                addr: self.addr.clone(),
                detail: format!(
                    "correlation id {} for request {}",
                    rh.correlation_id, self.correlation
                ),
            });
        }
        let resp = R::Response::decode(&mut frame, version).map_err(|e| self.codec(api, e))?;
        if frame.has_remaining() {
            return Err(KafkaError::Codec {
                api,
                addr: self.addr.clone(),
                detail: format!("{} bytes left after the response", frame.remaining()),
            });
        }
        Ok(resp)
    }

    /// Sends a request Kafka does not answer (a Produce with acks=0).
    pub async fn send_without_response<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<(), KafkaError> {
        let api = api_name(R::KEY);
        let buf = self.frame(req, version)?;
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.write(api, &buf))
            .await
            .map_err(|_| KafkaError::Timeout {
                api,
                addr: self.addr.clone(),
                after: timeout,
            })?
    }

    /// The request as a length-prefixed frame with the next correlation id.
    fn frame<R: Request>(&mut self, req: &R, version: i16) -> Result<BytesMut, KafkaError> {
        let api = api_name(R::KEY);
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(|e| self.codec(api, e))?;
        req.encode(&mut buf, version)
            .map_err(|e| self.codec(api, e))?;
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        Ok(buf)
    }

    fn codec(&self, api: &'static str, e: anyhow::Error) -> KafkaError {
        KafkaError::Codec {
            api,
            addr: self.addr.clone(),
            detail: e.to_string(),
        }
    }

    fn closed(&self, api: &'static str) -> KafkaError {
        KafkaError::Closed {
            api,
            addr: self.addr.clone(),
            // ApiVersions is request 1; a SASL client's next ones are the
            // SASL requests, so only a client without SASL sees this.
            early: self.correlation == 2 && !api.starts_with("Sasl"),
        }
    }

    fn io(&self, api: &'static str, source: std::io::Error) -> KafkaError {
        if let Some(detail) = self
            .tls
            .as_ref()
            .and_then(|t| super::tls::alert_after_handshake(&source, t))
        {
            return KafkaError::Tls {
                addr: self.addr.clone(),
                detail,
            };
        }
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            self.closed(api)
        } else {
            KafkaError::Io {
                api,
                addr: self.addr.clone(),
                source,
            }
        }
    }

    async fn write(&mut self, api: &'static str, buf: &[u8]) -> Result<(), KafkaError> {
        // TLS holds records until flushed; a plain socket's flush is free.
        let written = match self.stream.write_all(buf).await {
            Ok(()) => self.stream.flush().await,
            Err(e) => Err(e),
        };
        written.map_err(|e| self.io(api, e))
    }

    /// Reads one response frame (its length prefix checked, its buffer
    /// grown as bytes arrive).
    async fn read_frame(&mut self, api: &'static str) -> Result<Bytes, KafkaError> {
        let mut len = [0u8; 4];
        if let Err(e) = self.stream.read_exact(&mut len).await {
            return Err(self.io(api, e));
        }
        let n = i32::from_be_bytes(len);
        if n < 0 || n as usize > MAX_FRAME {
            // Whatever else arrived at once says what answered.
            let mut more = [0u8; 80];
            let got = tokio::time::timeout(Duration::from_millis(100), self.stream.read(&mut more))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            return Err(KafkaError::NotKafka {
                api,
                addr: self.addr.clone(),
                detail: what_answered(len, &more[..got]),
            });
        }
        let n = n as usize;
        let mut frame = Vec::with_capacity(n.min(FIRST_ALLOCATION));
        if let Err(e) = (&mut self.stream)
            .take(n as u64)
            .read_to_end(&mut frame)
            .await
        {
            return Err(self.io(api, e));
        }
        if frame.len() < n {
            return Err(self.closed(api));
        }
        Ok(Bytes::from(frame))
    }
}

/// What answered instead of Kafka, from the first bytes of its answer
/// (`head` was read as a frame length and is not one).
fn what_answered(head: [u8; 4], more: &[u8]) -> String {
    let bytes: Vec<u8> = head.iter().chain(more).copied().collect();
    let first_line = || {
        let end = bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(bytes.len())
            .min(60);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    if bytes.starts_with(b"HTTP/") {
        format!("like an HTTP server ({:?})", first_line())
    } else if matches!(head[0], 0x15 | 0x16) && head[1] == 0x03 {
        // A TLS record: an alert (0x15) or a handshake (0x16), version 3.x.
        "with TLS: is it an SSL listener? set security.protocol=SSL in --command-config".into()
    } else if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("with text ({:?})", first_line())
    } else {
        let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!(
            "with bytes {} (a frame length of {} bytes, which no Kafka response has)",
            hex.join(" "),
            i32::from_be_bytes(head)
        )
    }
}

/// The protocol name of an API key, for messages.
pub fn api_name(key: i16) -> &'static str {
    match key {
        0 => "Produce",
        1 => "Fetch",
        2 => "ListOffsets",
        3 => "Metadata",
        22 => "InitProducerId",
        18 => "ApiVersions",
        19 => "CreateTopics",
        20 => "DeleteTopics",
        32 => "DescribeConfigs",
        33 => "AlterConfigs",
        34 => "AlterReplicaLogDirs",
        35 => "DescribeLogDirs",
        43 => "ElectLeaders",
        44 => "IncrementalAlterConfigs",
        45 => "AlterPartitionReassignments",
        46 => "ListPartitionReassignments",
        60 => "DescribeCluster",
        17 => "SaslHandshake",
        36 => "SaslAuthenticate",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use super::what_answered;

    #[test]
    fn names_what_answered_instead_of_kafka() {
        let http = what_answered(*b"HTTP", b"/1.1 400 Bad Request\r\nServer: x\r\n\r\n");
        assert_eq!(http, r#"like an HTTP server ("HTTP/1.1 400 Bad Request")"#);
        assert!(what_answered([0x15, 0x03, 0x03, 0x00], &[0x02, 0x02, 0x32]).contains("TLS"));
        assert_eq!(
            what_answered(*b"SSH-", b"2.0-OpenSSH_9.6\r\n"),
            r#"with text ("SSH-2.0-OpenSSH_9.6")"#
        );
        let binary = what_answered([0xff, 0, 0, 1], &[]);
        assert!(binary.contains("bytes ff 00 00 01"), "{binary}");
    }
}
