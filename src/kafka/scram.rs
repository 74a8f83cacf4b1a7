//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks
//! them inside SaslAuthenticate: client-first, server-first, client-final,
//! server-final; no channel binding (gs2 header `n,,`) and no extensions.
//!
//! Both sides are pure state machines over bytes, so the RFC's test vector
//! can drive them with its own nonces: the client in [`super::conn`], the
//! server in the mini-broker. The primitives are ring's (the provider the
//! TLS side already uses); nonces and salts come from its system CSPRNG.
//! Messages name what was wrong with a message, never a password or key.

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

/// Kafka's minimum for both hashes; a server asking for fewer is refused.
pub const MIN_ITERATIONS: u32 = 4096;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }
    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            ScramHash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            ScramHash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
    fn hmac(self) -> hmac::Algorithm {
        match self {
            ScramHash::Sha256 => hmac::HMAC_SHA256,
            ScramHash::Sha512 => hmac::HMAC_SHA512,
        }
    }
    fn digest(self) -> &'static digest::Algorithm {
        match self {
            ScramHash::Sha256 => &digest::SHA256,
            ScramHash::Sha512 => &digest::SHA512,
        }
    }
    fn len(self) -> usize {
        self.digest().output_len()
    }
    fn salted_password(self, password: &str, salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
        let mut out = vec![0; self.len()];
        pbkdf2::derive(
            self.pbkdf2(),
            iterations,
            salt,
            password.as_bytes(),
            &mut out,
        );
        out
    }
    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac(), key), data)
            .as_ref()
            .to_vec()
    }
    fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), data).as_ref().to_vec()
    }
}

/// What went wrong in an exchange; one line, no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the server's nonce does not extend ours")]
    Nonce,
    #[error("the server asks for {0} iterations, fewer than the minimum {MIN_ITERATIONS}")]
    Iterations(u32),
    #[error("the server said: {0}")]
    ServerError(String),
    #[error(
        "the broker's server signature does not verify: it does not hold this user's credential (is it the cluster you meant?)"
    )]
    ServerSignature,
    #[error("unknown user")]
    UnknownUser,
    #[error("invalid credentials")]
    InvalidProof,
    #[error("message out of order")]
    State,
}

/// A fresh nonce: 24 bytes from the system CSPRNG, base64 (printable, no
/// comma).
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system CSPRNG");
    B64.encode(bytes)
}

/// RFC 5802's saslname: `=` and `,` escaped as Kafka's ScramFormatter does.
pub fn escape_username(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn unescape_username(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=3D") => out.push('='),
            Some("=2C") => out.push(','),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// `k=v,k=v,...` with single-letter keys, in order.
fn attributes<'a>(msg: &'a str, what: &'static str) -> Result<Vec<(char, &'a str)>, ScramError> {
    msg.split(',')
        .map(|part| {
            let mut chars = part.chars();
            match (chars.next(), chars.next()) {
                (Some(k), Some('=')) if k.is_ascii_alphabetic() => Ok((k, &part[2..])),
                _ => Err(ScramError::Malformed(what)),
            }
        })
        .collect()
}

fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, ScramError> {
    std::str::from_utf8(bytes).map_err(|_| ScramError::Malformed(what))
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// `c=` of client-final: base64 of the gs2 header without channel binding.
const CHANNEL_BINDING: &str = "biws";
const GS2_HEADER: &str = "n,,";

enum ClientState {
    Start,
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// The client side of one exchange.
pub struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    first_bare: String,
    state: ClientState,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramClient(<redacted>)")
    }
}

impl ScramClient {
    pub fn new(hash: ScramHash, username: &str, password: &str) -> ScramClient {
        Self::with_nonce(hash, username, password, random_nonce())
    }

    /// With a given nonce: tests replay RFC 7677's exchange with it.
    pub fn with_nonce(
        hash: ScramHash,
        username: &str,
        password: &str,
        nonce: String,
    ) -> ScramClient {
        let first_bare = format!("n={},r={nonce}", escape_username(username));
        ScramClient {
            hash,
            password: password.to_string(),
            nonce,
            first_bare,
            state: ClientState::Start,
        }
    }

    /// client-first-message.
    pub fn first(&mut self) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ClientState::Start) {
            return Err(ScramError::State);
        }
        self.state = ClientState::SentFirst;
        Ok(format!("{GS2_HEADER}{}", self.first_bare).into_bytes())
    }

    /// client-final-message, in answer to server-first.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ClientState::SentFirst) {
            return Err(ScramError::State);
        }
        const WHAT: &str = "server-first-message";
        let server_first = utf8(server_first, WHAT)?;
        let attrs = attributes(server_first, WHAT)?;
        if attrs.first().is_some_and(|(k, _)| *k == 'm') {
            return Err(ScramError::Malformed(
                "server-first-message (mandatory extension)",
            ));
        }
        let [('r', nonce), ('s', salt), ('i', iterations), ..] = attrs[..] else {
            return Err(ScramError::Malformed(WHAT));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| ScramError::Malformed("server-first-message salt"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("server-first-message iteration count"))?;
        let Some(iters) = NonZeroU32::new(iterations).filter(|n| n.get() >= MIN_ITERATIONS) else {
            return Err(ScramError::Iterations(iterations));
        };
        let h = self.hash;
        let salted = h.salted_password(&self.password, &salt, iters);
        let client_key = h.mac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        let without_proof = format!("c={CHANNEL_BINDING},r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_signature = h.mac(&stored_key, auth_message.as_bytes());
        let proof = xor(&client_key, &client_signature);
        let server_key = h.mac(&salted, b"Server Key");
        let server_signature = h.mac(&server_key, auth_message.as_bytes());
        self.state = ClientState::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks server-final: the server proves it knows the password too.
    pub fn finish(&mut self, server_final: &[u8]) -> Result<(), ScramError> {
        let ClientState::SentFinal { server_signature } = &self.state else {
            return Err(ScramError::State);
        };
        const WHAT: &str = "server-final-message";
        let attrs = attributes(utf8(server_final, WHAT)?, WHAT)?;
        match attrs.first() {
            Some(('e', said)) => Err(ScramError::ServerError(said.to_string())),
            Some(('v', v)) => {
                let v = B64
                    .decode(v)
                    .map_err(|_| ScramError::Malformed("server-final-message signature"))?;
                // Constant time out of habit: the expected signature is
                // no secret of this side's.
                if subtle::ConstantTimeEq::ct_eq(&v[..], &server_signature[..]).into() {
                    self.state = ClientState::Done;
                    Ok(())
                } else {
                    Err(ScramError::ServerSignature)
                }
            }
            _ => Err(ScramError::Malformed(WHAT)),
        }
    }
}

/// A user's SCRAM credential as a server keeps it: no password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredCredential({} iterations)", self.iterations)
    }
}

impl StoredCredential {
    /// With a fresh random salt.
    pub fn new(hash: ScramHash, password: &str, iterations: u32) -> StoredCredential {
        let mut salt = vec![0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .expect("the system CSPRNG");
        Self::with_salt(hash, password, salt, iterations)
    }

    pub fn with_salt(
        hash: ScramHash,
        password: &str,
        salt: Vec<u8>,
        iterations: u32,
    ) -> StoredCredential {
        let iters = NonZeroU32::new(iterations.max(1)).expect("at least one");
        let salted = hash.salted_password(password, &salt, iters);
        let client_key = hash.mac(&salted, b"Client Key");
        StoredCredential {
            stored_key: hash.hash(&client_key),
            server_key: hash.mac(&salted, b"Server Key"),
            salt,
            iterations: iters.get(),
        }
    }
}

enum ServerState {
    Start,
    SentFirst {
        credential: StoredCredential,
        nonce: String,
        auth_prefix: String,
    },
    Done,
}

/// The server side of one exchange.
pub struct ScramServer {
    hash: ScramHash,
    state: ServerState,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramServer({})", self.hash.mechanism())
    }
}

impl ScramServer {
    pub fn new(hash: ScramHash) -> ScramServer {
        ScramServer {
            hash,
            state: ServerState::Start,
        }
    }

    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// server-first-message, in answer to client-first; `lookup` gives the
    /// credential of a user.
    pub fn first(
        &mut self,
        client_first: &[u8],
        server_nonce: &str,
        lookup: impl FnOnce(&str) -> Option<StoredCredential>,
    ) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ServerState::Start) {
            return Err(ScramError::State);
        }
        const WHAT: &str = "client-first-message";
        let msg = utf8(client_first, WHAT)?;
        let bare = msg
            .strip_prefix(GS2_HEADER)
            .ok_or(ScramError::Malformed("client-first-message gs2 header"))?;
        let attrs = attributes(bare, WHAT)?;
        let [('n', name), ('r', client_nonce), ..] = attrs[..] else {
            return Err(ScramError::Malformed(WHAT));
        };
        if client_nonce.is_empty() {
            return Err(ScramError::Malformed(WHAT));
        }
        let user = unescape_username(name).ok_or(ScramError::Malformed("client-first username"))?;
        let credential = lookup(&user).ok_or(ScramError::UnknownUser)?;
        let nonce = format!("{client_nonce}{server_nonce}");
        let first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        self.state = ServerState::SentFirst {
            credential,
            nonce,
            auth_prefix: format!("{bare},{first}"),
        };
        Ok(first.into_bytes())
    }

    /// server-final-message, when client-final proves the password.
    pub fn last(&mut self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let ServerState::SentFirst {
            credential,
            nonce,
            auth_prefix,
        } = &self.state
        else {
            return Err(ScramError::State);
        };
        const WHAT: &str = "client-final-message";
        let msg = utf8(client_final, WHAT)?;
        let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(ScramError::Malformed(WHAT))?;
        let attrs = attributes(without_proof, WHAT)?;
        let [('c', binding), ('r', r), ..] = attrs[..] else {
            return Err(ScramError::Malformed(WHAT));
        };
        if binding != CHANNEL_BINDING {
            return Err(ScramError::Malformed("client-final channel binding"));
        }
        if r != nonce {
            return Err(ScramError::Nonce);
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("client-final proof"))?;
        let h = self.hash;
        if proof.len() != h.len() {
            return Err(ScramError::InvalidProof);
        }
        let auth_message = format!("{auth_prefix},{without_proof}");
        let client_signature = h.mac(&credential.stored_key, auth_message.as_bytes());
        let client_key = xor(&proof, &client_signature);
        let ok: bool =
            subtle::ConstantTimeEq::ct_eq(&h.hash(&client_key)[..], &credential.stored_key[..])
                .into();
        if !ok {
            return Err(ScramError::InvalidProof);
        }
        let server_signature = h.mac(&credential.server_key, auth_message.as_bytes());
        self.state = ServerState::Done;
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 §3.
    const C_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const S_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_credential() -> StoredCredential {
        StoredCredential::with_salt(ScramHash::Sha256, "pencil", B64.decode(SALT).unwrap(), 4096)
    }

    #[test]
    fn client_follows_rfc_7677() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", C_NONCE.into());
        assert_eq!(c.first().unwrap(), CLIENT_FIRST.as_bytes());
        let fin = c.respond(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(fin).unwrap(), CLIENT_FINAL);
        c.finish(SERVER_FINAL.as_bytes()).unwrap();
    }

    #[test]
    fn server_follows_rfc_7677() {
        let mut s = ScramServer::new(ScramHash::Sha256);
        let first = s
            .first(CLIENT_FIRST.as_bytes(), S_NONCE, |u| {
                (u == "user").then(rfc_credential)
            })
            .unwrap();
        assert_eq!(String::from_utf8(first).unwrap(), SERVER_FIRST);
        let last = s.last(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(last).unwrap(), SERVER_FINAL);
    }

    #[test]
    fn client_refuses_a_server_signature_that_does_not_verify() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", C_NONCE.into());
        c.first().unwrap();
        c.respond(SERVER_FIRST.as_bytes()).unwrap();
        // The RFC's signature with its first byte changed.
        let forged = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(
            c.finish(forged.as_bytes()),
            Err(ScramError::ServerSignature)
        );
        assert!(matches!(
            c.finish(b"e=invalid-proof"),
            Err(ScramError::ServerError(e)) if e == "invalid-proof"
        ));
    }

    #[test]
    fn client_refuses_a_nonce_it_did_not_start_and_few_iterations() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", C_NONCE.into());
        c.first().unwrap();
        assert_eq!(
            c.respond(b"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
            Err(ScramError::Nonce)
        );
        assert_eq!(
            c.respond(format!("r={C_NONCE}x,s={SALT},i=4095").as_bytes()),
            Err(ScramError::Iterations(4095))
        );
    }

    fn round_trip(
        hash: ScramHash,
        user: &str,
        password: &str,
        stored: &str,
    ) -> Result<(), ScramError> {
        let credential = StoredCredential::new(hash, stored, 4096);
        let mut c = ScramClient::new(hash, user, password);
        let mut s = ScramServer::new(hash);
        let first = s.first(&c.first()?, &random_nonce(), |u| {
            (u == user).then(|| credential.clone())
        })?;
        let last = s.last(&c.respond(&first)?)?;
        c.finish(&last)
    }

    #[test]
    fn sha512_round_trip_and_wrong_password() {
        round_trip(ScramHash::Sha512, "a=b,c", "s3cret", "s3cret").unwrap();
        assert_eq!(
            round_trip(ScramHash::Sha512, "a=b,c", "wrong", "s3cret"),
            Err(ScramError::InvalidProof)
        );
        assert_eq!(
            round_trip(ScramHash::Sha256, "alice", "s3cret", "other"),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn unknown_user_and_escaped_names() {
        let mut s = ScramServer::new(ScramHash::Sha512);
        assert_eq!(
            s.first(b"n,,n=nobody,r=abc", "xyz", |_| None),
            Err(ScramError::UnknownUser)
        );
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
        assert_eq!(unescape_username("a=3Db=2Cc").as_deref(), Some("a=b,c"));
        assert_eq!(unescape_username("a=4Db"), None);
    }
}
