//! Certificate and key stores as Kafka's clients name them: PEM (a file,
//! or inline text), PKCS12 (read with the `p12-keystore` crate), and JKS,
//! refused with the `keytool` command that converts it.
//!
//! Pure: bytes in, certificates and keys out. Every message names where
//! the store came from (its path or its key) and never a password.
//!
//! Not for: reading files (`config.rs` gets the bytes through its
//! `Sources`) or building a TLS configuration (`tls.rs`).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What a store holds, by its declared type or, with none declared, by
/// its first bytes (Kafka's default is JKS; a PEM file is plain text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Pem,
    Pkcs12,
    Jks,
}

/// The kind of a store: `declared` (`ssl.*store.type`) wins over the
/// bytes.
pub fn kind(declared: Option<&str>, bytes: &[u8]) -> Result<StoreKind, String> {
    match declared.map(|d| d.trim().to_ascii_uppercase()).as_deref() {
        Some("PEM") => Ok(StoreKind::Pem),
        Some("PKCS12") => Ok(StoreKind::Pkcs12),
        Some("JKS") => Ok(StoreKind::Jks),
        Some(other) => Err(format!("{other:?} is not PEM, PKCS12 or JKS")),
        None if bytes.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) => Ok(StoreKind::Jks),
        // A DER SEQUENCE: PKCS12's PFX.
        None if bytes.first() == Some(&0x30) => Ok(StoreKind::Pkcs12),
        None => Ok(StoreKind::Pem),
    }
}

/// Why a JKS store is refused, with the commands that convert it (`what`:
/// "truststore" or "keystore").
pub fn jks_refusal(from: &str, what: &str) -> String {
    format!(
        "{from} is a JKS store, which kafka-migrate does not read; convert it: \
         `keytool -importkeystore -srckeystore {from} -srcstoretype JKS -destkeystore {what}.p12 -deststoretype PKCS12` \
         and set ssl.{what}.type=PKCS12, ssl.{what}.location={what}.p12"
    )
}

/// The certificates of PEM text (`-----BEGIN CERTIFICATE-----` blocks).
pub fn pem_certs(bytes: &[u8], from: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{from}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{from}: no certificate (-----BEGIN CERTIFICATE-----) in it"
        ));
    }
    Ok(certs)
}

/// The private key of PEM text: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) in
/// the clear, or PKCS#8 encrypted with `key_password` (`ssl.key.password`,
/// as Kafka's PEM keystores take it).
pub fn pem_key(
    bytes: &[u8],
    key_password: Option<&str>,
    from: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(bytes);
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    if let Some(start) = text.find(BEGIN) {
        let Some(password) = key_password.filter(|p| !p.is_empty()) else {
            return Err(format!(
                "{from}: the private key is encrypted; give its password in ssl.key.password"
            ));
        };
        let end = text[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| format!("{from}: the encrypted private key has no {END} line"))?;
        let (label, der) = pkcs8::der::pem::decode_vec(text[start..end].as_bytes())
            .map_err(|e| format!("{from}: the encrypted private key is not valid PEM: {e}"))?;
        debug_assert_eq!(label, "ENCRYPTED PRIVATE KEY");
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| format!("{from}: the encrypted private key cannot be read: {e}"))?;
        let plain = info.decrypt(password.as_bytes()).map_err(|_| {
            format!(
                "{from}: cannot decrypt the private key: wrong ssl.key.password, or an encryption other than PKCS#8 PBES2"
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{from}: the private key is encrypted the legacy OpenSSL way, which kafka-migrate does not read; convert it: \
             `openssl pkcs8 -topk8 -in KEY -out key.pem` (PKCS#8, as Kafka's PEM keystores take it)"
        ));
    }
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("{from}: no private key (-----BEGIN PRIVATE KEY-----) in it")
        }
        other => format!("{from}: the private key cannot be read: {other}"),
    })
}

/// Opens a PKCS12 store; a wrong password and a damaged file read alike
/// to the crate, so the message names both.
fn open_pkcs12(
    bytes: &[u8],
    password: Option<&str>,
    from: &str,
    password_key: &str,
) -> Result<p12_keystore::Pkcs12Archive, String> {
    p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password.unwrap_or(""))
        .map_err(|e| pkcs12_refusal(e, password, from, password_key))
}

fn pkcs12_refusal(
    e: p12_keystore::error::Error,
    password: Option<&str>,
    from: &str,
    password_key: &str,
) -> String {
    let why = match e {
        p12_keystore::error::Error::MacError(_) => "wrong password".to_string(),
        p12_keystore::error::Error::UnsupportedEncryptionScheme
        | p12_keystore::error::Error::UnsupportedMacAlgorithm => e.to_string(),
        other => format!("wrong password, or not a PKCS12 file ({other})"),
    };
    let hint = if password.is_none() {
        format!("; no {password_key} was given")
    } else {
        format!(" ({password_key})")
    };
    format!("{from}: cannot open the PKCS12 store: {why}{hint}")
}

/// Every certificate of a PKCS12 truststore (Java's keytool marks them
/// trusted, openssl does not: both are taken).
pub fn pkcs12_certs(
    bytes: &[u8],
    password: Option<&str>,
    from: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let archive = open_pkcs12(bytes, password, from, "ssl.truststore.password")?;
    let certs: Vec<CertificateDer<'static>> = archive
        .certs
        .iter()
        .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(format!("{from}: the PKCS12 store holds no certificate"));
    }
    Ok(certs)
}

/// The one private key of a PKCS12 keystore and its certificate chain,
/// the key's own certificate first.
pub fn pkcs12_identity(
    bytes: &[u8],
    password: Option<&str>,
    from: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    // Relaxed keeps a key whose certificate is missing, so the refusal can
    // say so instead of "no private key"; the store is decrypted once.
    let store = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password.unwrap_or(""),
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| pkcs12_refusal(e, password, from, "ssl.keystore.password"))?;
    let chains: Vec<&p12_keystore::PrivateKeyChain> = store
        .entries()
        .filter_map(|(_, e)| match e {
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) => Some(chain),
            _ => None,
        })
        .collect();
    let chain = match chains.as_slice() {
        [] => return Err(format!("{from}: the PKCS12 store holds no private key")),
        [chain] if chain.certs().is_empty() => {
            return Err(format!(
                "{from}: the PKCS12 store holds a private key without its certificate"
            ));
        }
        [chain] => chain,
        _ => {
            return Err(format!(
                "{from}: the PKCS12 store holds {} private keys; kafka-migrate needs a keystore with one",
                chains.len()
            ));
        }
    };
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, in PEM.
    fn cert_and_key() -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert, key)
    }

    fn pkcs12(cert: &rcgen::Certificate, key: &rcgen::KeyPair, password: &str) -> Vec<u8> {
        let der = cert.der().to_vec();
        let chain = p12_keystore::PrivateKeyChain::new(
            b"id".to_vec(),
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(&der).unwrap()],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        store.writer(password).write().unwrap()
    }

    #[test]
    fn kinds_come_from_the_declared_type_then_the_bytes() {
        assert_eq!(kind(Some("pkcs12"), b"text"), Ok(StoreKind::Pkcs12));
        assert_eq!(kind(None, &[0xfe, 0xed, 0xfe, 0xed]), Ok(StoreKind::Jks));
        assert_eq!(kind(None, &[0x30, 0x82]), Ok(StoreKind::Pkcs12));
        assert_eq!(kind(None, b"-----BEGIN"), Ok(StoreKind::Pem));
        assert!(kind(Some("BKS"), b"").unwrap_err().contains("\"BKS\""));
    }

    #[test]
    fn a_pkcs12_keystore_gives_its_key_and_chain_with_the_right_password_only() {
        let (cert, key) = cert_and_key();
        let p12 = pkcs12(&cert, &key, "s3cret-pw");
        let (chain, got) = pkcs12_identity(&p12, Some("s3cret-pw"), "/k.p12").unwrap();
        assert_eq!(chain, vec![cert.der().clone()]);
        assert_eq!(got.secret_der(), key.serialize_der().as_slice());
        // The truststore view of the same file: its certificate.
        assert_eq!(
            pkcs12_certs(&p12, Some("s3cret-pw"), "/k.p12").unwrap(),
            vec![cert.der().clone()]
        );
        let wrong = pkcs12_identity(&p12, Some("nope-pw"), "/k.p12").unwrap_err();
        assert!(
            wrong.starts_with("/k.p12: cannot open the PKCS12 store: wrong password"),
            "{wrong}"
        );
        assert!(!wrong.contains("nope-pw") && !wrong.contains("s3cret-pw"));
        let none = pkcs12_identity(&p12, None, "/k.p12").unwrap_err();
        assert!(
            none.contains("no ssl.keystore.password was given"),
            "{none}"
        );
        let junk = pkcs12_certs(&[0x30, 1, 2], Some("x"), "/t.p12").unwrap_err();
        assert!(junk.contains("not a PKCS12 file"), "{junk}");
    }

    #[test]
    fn a_keystore_must_hold_exactly_one_key_with_its_certificate() {
        let (cert, key) = cert_and_key();
        let der = p12_keystore::Certificate::from_der(cert.der()).unwrap();
        let entry = |certs: Vec<p12_keystore::Certificate>, id: &[u8]| {
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                id.to_vec(),
                p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
                certs,
            ))
        };
        let write = |entries: Vec<(&str, p12_keystore::KeyStoreEntry)>| {
            let mut store = p12_keystore::KeyStore::new();
            for (alias, e) in entries {
                store.add_entry(alias, e);
            }
            store.writer("pw").write().unwrap()
        };
        let refusal = |bytes: Vec<u8>| pkcs12_identity(&bytes, Some("pw"), "/k.p12").unwrap_err();
        let trust_only = write(vec![(
            "ca",
            p12_keystore::KeyStoreEntry::Certificate(der.clone()),
        )]);
        assert_eq!(
            refusal(trust_only),
            "/k.p12: the PKCS12 store holds no private key"
        );
        let bare = write(vec![("k", entry(vec![], b"a"))]);
        assert_eq!(
            refusal(bare),
            "/k.p12: the PKCS12 store holds a private key without its certificate"
        );
        let two = write(vec![
            ("a", entry(vec![der.clone()], b"a")),
            ("b", entry(vec![der], b"b")),
        ]);
        assert!(refusal(two).contains("holds 2 private keys"));
    }

    #[test]
    fn pem_keys_in_the_clear_or_encrypted_with_the_key_password() {
        let (_, key) = cert_and_key();
        let clear = pem_key(key.serialize_pem().as_bytes(), None, "k.pem").unwrap();
        assert_eq!(clear.secret_der(), key.serialize_der().as_slice());

        // PKCS#8 PBES2 (what `openssl pkcs8 -topk8 -v2 aes-256-cbc` and
        // Kafka's docs produce).
        let der = key.serialize_der();
        let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
        let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            2048, &[7; 16], [9; 16],
        )
        .unwrap();
        let encrypted = info
            .encrypt_with_params(params, b"key-pa55")
            .unwrap()
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .unwrap();
        let got = pem_key(encrypted.as_bytes(), Some("key-pa55"), "k.pem").unwrap();
        assert_eq!(got.secret_der(), key.serialize_der().as_slice());
        let wrong = pem_key(encrypted.as_bytes(), Some("other"), "k.pem").unwrap_err();
        assert!(wrong.contains("wrong ssl.key.password"), "{wrong}");
        let missing = pem_key(encrypted.as_bytes(), None, "k.pem").unwrap_err();
        assert!(missing.contains("give its password in ssl.key.password"));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n";
        assert!(
            pem_key(legacy.as_bytes(), Some("x"), "k.pem")
                .unwrap_err()
                .contains("openssl pkcs8 -topk8")
        );
        assert!(
            pem_key(b"nothing", None, "k.pem")
                .unwrap_err()
                .contains("no private key")
        );
    }
}
