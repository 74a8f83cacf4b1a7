//! The client settings as librdkafka's properties, for the data plane
//! (`demo`'s producer and consumer, tests' rdkafka clients): the same
//! `--command-config` reaches both clients.
//!
//! Pure: settings in, key/value pairs out; the certificates go inline as
//! PEM (`ssl.ca.pem`, `ssl.certificate.pem`, `ssl.key.pem`) so no file is
//! written. Not for: creating a client (the caller owns librdkafka).

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::config::{ClientSettings, Secret, TrustRoots};

/// librdkafka properties; `Debug` shows the keys only, since values
/// include the password and the private key.
#[derive(Clone, Default)]
pub struct RdkafkaProperties(Vec<(&'static str, Secret)>);

impl RdkafkaProperties {
    /// Each key and value, for `ClientConfig::set`.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.expose()))
    }
}

impl std::fmt::Debug for RdkafkaProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    pkcs8::der::pem::encode_string(label, pkcs8::LineEnding::LF, der)
        .expect("PEM encoding of bytes in memory")
}

fn certs_pem(certs: &[CertificateDer<'_>]) -> String {
    certs.iter().map(|c| pem("CERTIFICATE", c)).collect()
}

fn key_pem(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem(label, key.secret_der())
}

/// librdkafka's names for `settings`' security: protocol, SASL mechanism
/// and credentials, the CA (or the system's store), the client
/// certificate and key, hostname verification.
pub fn properties(settings: &ClientSettings) -> RdkafkaProperties {
    let mut out: Vec<(&'static str, Secret)> = Vec::new();
    let mut set = |k: &'static str, v: String| out.push((k, Secret::new(v)));
    let protocol = match (&settings.tls, &settings.sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    set("security.protocol", protocol.into());
    if let Some(tls) = &settings.tls {
        match &tls.roots {
            TrustRoots::Pem { certs, .. } => set("ssl.ca.pem", certs_pem(certs)),
            TrustRoots::System => set("ssl.ca.location", "probe".into()),
        }
        set(
            "ssl.endpoint.identification.algorithm",
            if tls.verify_hostname { "https" } else { "none" }.into(),
        );
        if let Some(id) = &tls.identity {
            set("ssl.certificate.pem", certs_pem(&id.chain));
            set("ssl.key.pem", key_pem(&id.key()));
        }
    }
    if let Some(sasl) = &settings.sasl {
        set("sasl.mechanism", sasl.mechanism.name().into());
        set("sasl.username", sasl.username.clone());
        set("sasl.password", sasl.password.expose().to_string());
    }
    RdkafkaProperties(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::config::{SaslMechanism, SaslSettings, TlsSettings};

    #[test]
    fn settings_map_onto_librdkafkas_names_and_debug_hides_the_values() {
        let ca = crate::minibroker::tls::generate(&["localhost".into()]).unwrap();
        let certs: Vec<CertificateDer<'static>> =
            rustls_pki_types::pem::PemObject::pem_slice_iter(ca.ca_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let mut s = ClientSettings::with_timeout(std::time::Duration::from_secs(5));
        assert_eq!(
            properties(&s).pairs().collect::<Vec<_>>(),
            vec![("security.protocol", "plaintext")]
        );
        s.tls = Some(TlsSettings {
            roots: TrustRoots::Pem {
                certs,
                from: "ca.pem".into(),
            },
            verify_hostname: false,
            identity: None,
        });
        s.sasl = Some(SaslSettings {
            mechanism: SaslMechanism::ScramSha512,
            username: "admin".into(),
            password: Secret::new("pa55-word"),
        });
        let p = properties(&s);
        let got: std::collections::BTreeMap<_, _> = p.pairs().collect();
        assert_eq!(got["security.protocol"], "sasl_ssl");
        assert_eq!(got["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(got["sasl.username"], "admin");
        assert_eq!(got["sasl.password"], "pa55-word");
        assert_eq!(got["ssl.endpoint.identification.algorithm"], "none");
        // The CA round-trips through PEM byte for byte.
        assert_eq!(got["ssl.ca.pem"].trim(), ca.ca_pem.trim());
        let shown = format!("{p:?}");
        assert!(shown.contains("sasl.password") && !shown.contains("pa55-word"));
    }
}
