//! TLS for the mini-broker's listeners (`mini-broker --tls`): a CA and
//! one broker certificate made at start with rcgen (fresh keys every run,
//! nothing committed or reused), and the rustls server configuration every
//! listener serves with.
//!
//! Not for: writing the CA anywhere (the CLI does, through fsutil) or
//! client authentication (mutual TLS comes later).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// What a TLS cluster serves with, and what its clients need to trust it.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The CA certificate in PEM, for the clients' truststore.
    pub ca_pem: String,
    /// The names the broker certificate holds.
    pub names: Vec<String>,
    pub server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The server configuration holds the private key.
        f.debug_struct("TlsMaterial")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// The crypto provider: ring, which builds without cmake or NASM.
#[allow(deprecated)] // deprecated for lacking post-quantum key exchange; aws-lc-rs needs cmake
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A new CA and a broker certificate for `names` (DNS names or IP
/// addresses) signed by it.
pub fn generate(names: &[String]) -> anyhow::Result<TlsMaterial> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kafka-migrate mini-broker CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(Vec::<String>::new())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "kafka-migrate mini-broker");
    leaf.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)?;
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        names: names.to_vec(),
        server: Arc::new(server),
    })
}
