//! TLS for the mini-broker's listeners (`mini-broker --tls`): a CA and
//! one broker certificate made at start with rcgen (fresh keys every run,
//! nothing committed or reused), and the rustls server configuration every
//! listener serves with.
//!
//! With `--mtls` the listeners require a client certificate signed by
//! that CA (rustls' WebPKI client verifier), and one is made at start for
//! the clients to use.
//!
//! Not for: writing the CA or the client's key anywhere (the CLI does,
//! through fsutil).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// How the certificates are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Require a client certificate signed by the CA (mutual TLS).
    pub client_auth: bool,
    /// A broker certificate that expired long ago (for testing what
    /// clients say of it).
    pub expired_server: bool,
}

/// A client certificate and its key in PEM; `Debug` shows neither.
#[derive(Clone)]
pub struct ClientPem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ClientPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPem(<redacted>)")
    }
}

/// The CA, kept to sign client certificates.
struct Issuer {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// What a TLS cluster serves with, and what its clients need to trust it.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The CA certificate in PEM, for the clients' truststore.
    pub ca_pem: String,
    /// The names the broker certificate holds.
    pub names: Vec<String>,
    pub server: Arc<ServerConfig>,
    /// With client authentication: a client certificate the listeners
    /// accept, made at start.
    pub client: Option<ClientPem>,
    issuer: Arc<Issuer>,
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
    generate_with(names, TlsOptions::default())
}

/// A long-expired validity period: from 2000 to 2001.
fn expire(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
}

impl TlsMaterial {
    /// A new client certificate signed by this CA (`expired`: valid only
    /// in 2000).
    pub fn issue_client(&self, expired: bool) -> anyhow::Result<ClientPem> {
        issue_client(&self.issuer, expired)
    }
}

fn issue_client(issuer: &Issuer, expired: bool) -> anyhow::Result<ClientPem> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kafka-migrate mini-broker client");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    if expired {
        expire(&mut params);
    }
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key)?;
    Ok(ClientPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// As [`generate`], with `options`.
pub fn generate_with(names: &[String], options: TlsOptions) -> anyhow::Result<TlsMaterial> {
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
    if options.expired_server {
        expire(&mut leaf);
    }
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = if options.client_auth {
        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let server = builder.with_single_cert(chain, private)?;
    let issuer = Issuer {
        cert: ca_cert,
        key: ca_key,
    };
    let client = if options.client_auth {
        Some(issue_client(&issuer, false)?)
    } else {
        None
    };
    Ok(TlsMaterial {
        ca_pem: issuer.cert.pem(),
        names: names.to_vec(),
        server: Arc::new(server),
        client,
        issuer: Arc::new(issuer),
    })
}
