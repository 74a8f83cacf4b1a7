//! TLS for the wire client: the rustls client configuration built from
//! [`TlsSettings`] (ring provider, the truststore's roots, hostname
//! verification as configured), the handshake, and its failures in an
//! operator's words (which CA, which name, which kind of listener).
//!
//! Not for: reading files (the truststore arrives as certificates in the
//! settings) or choosing between TLS and plaintext (that is
//! `security.protocol`, in `config.rs`).

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::config::{TlsSettings, TrustRoots};
use super::error::KafkaError;

/// The client configuration for `settings`, or why there is none (a
/// truststore certificate rustls cannot use, no system roots).
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    match &settings.roots {
        TrustRoots::Pem { certs, from } => {
            for (i, cert) in certs.iter().enumerate() {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("{from}: certificate {}: {e}", i + 1))?;
            }
        }
        TrustRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("no truststore given (ssl.truststore.location or ssl.truststore.certificates) and no CA certificate found in the system's store".into());
            }
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let with_roots = if settings.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
    };
    let config = match &settings.identity {
        None => with_roots.with_no_client_auth(),
        Some(id) => with_roots
            .with_client_auth_cert(id.chain.clone(), id.key())
            .map_err(|e| format!("{}: the client certificate and key: {e}", id.from))?,
    };
    Ok(Arc::new(config))
}

/// The crypto provider: ring, which builds without cmake or NASM.
#[allow(deprecated)] // deprecated for lacking post-quantum key exchange; aws-lc-rs needs cmake
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The chain is verified against the roots as usual; only the name check
/// is skipped (`ssl.endpoint.identification.algorithm=` empty, as Kafka).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last, after the chain, its dates and
        // revocation: a name error means everything else held.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The host part of `host:port` (an IPv6 address without its brackets).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The TLS handshake on a connected socket; the caller bounds its time.
pub async fn handshake(
    addr: &str,
    tcp: TcpStream,
    settings: &TlsSettings,
) -> Result<TlsStream<TcpStream>, KafkaError> {
    let fail = |detail: String| KafkaError::Tls {
        addr: addr.to_string(),
        detail,
    };
    let config = client_config(settings).map_err(fail)?;
    let host = host_of(addr);
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        fail(format!(
            "{host:?} is not a host name or IP address TLS can verify"
        ))
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| fail(explain(&e, host, settings)))
}

/// A TLS alert on an established connection in an operator's words, or
/// None for any other error. Under TLS 1.3 the client's handshake ends
/// before the broker has checked the client's certificate, so a refused
/// client certificate arrives as an alert on the first read.
pub fn alert_after_handshake(e: &std::io::Error, settings: &TlsSettings) -> Option<String> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(refused_alert(*alert, settings)),
        _ => None,
    }
}

/// What the broker's alert says about our side of the handshake.
fn refused_alert(alert: rustls::AlertDescription, settings: &TlsSettings) -> String {
    use rustls::AlertDescription as A;
    let client_cert = matches!(
        alert,
        A::CertificateRequired
            | A::BadCertificate
            | A::UnknownCA
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::AccessDenied
            | A::DecryptError
    );
    match &settings.identity {
        None if client_cert => format!(
            "the broker requires a client certificate (mutual TLS; it answered {alert:?}): give one in --command-config with ssl.keystore.location (PEM or PKCS12), or ssl.keystore.certificate.chain and ssl.keystore.key"
        ),
        Some(id) if client_cert => {
            let why = match alert {
                A::CertificateExpired => "it has expired".to_string(),
                A::UnknownCA | A::DecryptError => {
                    "it is not signed by a CA the broker trusts".to_string()
                }
                other => format!("{other:?}"),
            };
            format!(
                "the broker refused the client certificate from {}: {why}",
                id.from
            )
        }
        _ => format!("the broker refused the handshake ({alert:?})"),
    }
}

/// A failed handshake in an operator's words.
fn explain(e: &std::io::Error, host: &str, settings: &TlsSettings) -> String {
    use std::io::ErrorKind;
    let trust = match &settings.roots {
        TrustRoots::Pem { from, .. } => format!("the truststore ({from})"),
        TrustRoots::System => "the system's CA store".to_string(),
    };
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidCertificate(c) => match c {
                // A CA of the same name but another key fails on the
                // signature: to the operator, the same wrong CA.
                CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                    "the broker's certificate is not signed by a CA in {trust}"
                ),
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the broker's certificate is not valid for {host}: connect by a name it holds, or set ssl.endpoint.identification.algorithm= (empty) to skip hostname verification"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the broker's certificate has expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the broker's certificate is not valid yet (check the clocks)".to_string()
                }
                other => format!("the broker's certificate is refused: {other:?}"),
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                "it answered something that is not TLS: is it a PLAINTEXT listener? (security.protocol in --command-config)".to_string()
            }
            rustls::Error::AlertReceived(alert) => refused_alert(*alert, settings),
            other => other.to_string(),
        };
    }
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            "it closed the connection during the TLS handshake: is it a PLAINTEXT listener? (security.protocol in --command-config)".to_string()
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(e: rustls::Error) -> String {
        let settings = TlsSettings {
            roots: TrustRoots::Pem {
                certs: vec![],
                from: "/etc/kafka/ca.pem".into(),
            },
            verify_hostname: true,
            identity: None,
        };
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        explain(&io, "kafka-1", &settings)
    }

    #[test]
    fn handshake_failures_say_the_cause_in_an_operators_words() {
        use rustls::Error::{AlertReceived, InvalidCertificate, InvalidMessage};
        for (e, want) in [
            (
                InvalidCertificate(CertificateError::UnknownIssuer),
                "not signed by a CA in the truststore (/etc/kafka/ca.pem)",
            ),
            (
                InvalidCertificate(CertificateError::BadSignature),
                "not signed by a CA in the truststore",
            ),
            (
                InvalidCertificate(CertificateError::NotValidForName),
                "not valid for kafka-1: connect by a name it holds, or set ssl.endpoint.identification.algorithm= (empty)",
            ),
            (
                InvalidCertificate(CertificateError::Expired),
                "the broker's certificate has expired",
            ),
            (
                InvalidCertificate(CertificateError::NotValidYet),
                "not valid yet (check the clocks)",
            ),
            (
                InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                "is it a PLAINTEXT listener?",
            ),
            (
                AlertReceived(rustls::AlertDescription::HandshakeFailure),
                "the broker refused the handshake (HandshakeFailure)",
            ),
        ] {
            let said = explained(e);
            assert!(said.contains(want), "{said}");
        }
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        let settings = TlsSettings {
            roots: TrustRoots::System,
            verify_hostname: true,
            identity: None,
        };
        assert!(
            explain(&eof, "h", &settings)
                .contains("closed the connection during the TLS handshake")
        );
    }

    #[test]
    fn the_host_is_what_the_certificate_must_name() {
        // The name rustls verifies is the address's host, not the port.
        assert_eq!(host_of("127.0.0.1:9093"), "127.0.0.1");
        assert_eq!(host_of("kafka-1.example:9093"), "kafka-1.example");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }
}
