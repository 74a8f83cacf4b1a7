//! The client's settings, and the Kafka client properties file that
//! `--command-config` names (the file Kafka's own tools take).
//!
//! Parsing is pure: text in, settings or one error out. Reading files
//! (the truststore, `${file:...}` values) and the environment goes
//! through the [`Sources`] the CLI hands in, and printing warnings belongs
//! to the CLI. A value is never put in a message when its key looks like a
//! secret (`password`, `secret`, `jaas`), and secrets are held in
//! [`Secret`], whose `Debug` shows nothing of them.
//!
//! Security, as Kafka's clients take it: `security.protocol` PLAINTEXT or
//! SSL (server certificates verified against a PEM truststore, or the
//! system's roots when none is given; hostname verification unless
//! `ssl.endpoint.identification.algorithm` is empty); SASL_PLAINTEXT and
//! SASL_SSL with `sasl.mechanism` PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512,
//! credentials from `sasl.jaas.config` or `sasl.username`/`sasl.password`.
//! Truststores and keystores PEM or PKCS12 (`stores.rs`); a client
//! certificate and key from the keystore for brokers that require one
//! (mutual TLS). JKS stores are refused with the command that converts
//! them.

use std::collections::BTreeMap;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::stores::{self, StoreKind};

use super::bootstrap::Bootstrap;

/// What the client does on the wire, whatever the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// `client.id` in every request header.
    pub client_id: String,
    /// How long one request may wait for its answer (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// How long one call may take, retries included (`default.api.timeout.ms`,
    /// or the command's `--timeout`).
    pub api_timeout: Duration,
    /// Retries after the first attempt (`retries`); the API timeout bounds
    /// them too.
    pub retries: u32,
    /// The first wait before a retry (`retry.backoff.ms`), doubled per
    /// retry up to `retry_backoff_max` (`retry.backoff.max.ms`).
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// TLS on every connection (`security.protocol=SSL`), else plaintext.
    pub tls: Option<TlsSettings>,
    /// SASL authentication on every connection (`SASL_*`), else none.
    pub sasl: Option<SaslSettings>,
}

/// How the client checks the brokers' certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub roots: TrustRoots,
    /// Whether the certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, Kafka's default).
    pub verify_hostname: bool,
    /// The client's certificate, for brokers that require one
    /// (`ssl.client.auth=required`); None: the client shows none.
    pub identity: Option<ClientIdentity>,
}

/// A client certificate chain and its private key (`ssl.keystore.*`).
/// `Debug` names where it came from, never the key.
#[derive(PartialEq, Eq)]
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The keystore's path, or the keys it was given inline by.
    pub from: String,
}

impl ClientIdentity {
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        from: String,
    ) -> ClientIdentity {
        ClientIdentity { chain, key, from }
    }
    /// The private key, for the TLS handshake only.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            from: self.from.clone(),
        }
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The certificate authorities a broker's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustRoots {
    /// The operating system's store, as Java's default truststore is used
    /// when Kafka's client names none.
    System,
    /// PEM certificates, and where they came from (for messages).
    Pem {
        certs: Vec<CertificateDer<'static>>,
        from: String,
    },
}

/// A value that must never be shown: `Debug` and `Display` redact it, and
/// only [`Secret::expose`] gives it, to the code that sends it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// `sasl.mechanism`s the client will speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL credentials, from `sasl.jaas.config` or `sasl.username` and
/// `sasl.password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// Where the parser reads what the properties point to: environment
/// variables and files. The CLI gives the real ones; tests give maps.
pub trait Sources {
    fn env(&self, name: &str) -> Option<String>;
    /// The bytes of the file at `path`, or why not (one line).
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// Sources that have nothing: every `${...}` and file is an error.
pub struct NoSources;

impl Sources for NoSources {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: files are not read here"))
    }
}

/// The client id unless the properties name another.
pub const DEFAULT_CLIENT_ID: &str = "kafka-migrate";
/// The API timeout unless `--timeout` or the properties say otherwise.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(30);

impl ClientSettings {
    /// Kafka's defaults with `timeout` for both a request and a call.
    pub fn with_timeout(timeout: Duration) -> ClientSettings {
        ClientSettings {
            client_id: DEFAULT_CLIENT_ID.to_string(),
            request_timeout: timeout,
            api_timeout: timeout,
            // Kafka's admin client retries without a count limit, within
            // default.api.timeout.ms.
            retries: u32::MAX,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            tls: None,
            sasl: None,
        }
    }

    /// The settings from a command's `--timeout` (if given) and its
    /// properties file: the flag wins over `default.api.timeout.ms`; a
    /// request waits `request.timeout.ms` if set, else the API timeout.
    pub fn resolve(timeout_flag: Option<Duration>, props: &CommandConfig) -> ClientSettings {
        let api_timeout = timeout_flag
            .or(props.api_timeout)
            .unwrap_or(DEFAULT_API_TIMEOUT);
        let mut s = ClientSettings::with_timeout(api_timeout);
        if let Some(t) = props.request_timeout {
            s.request_timeout = t;
        }
        if let Some(id) = &props.client_id {
            s.client_id = id.clone();
        }
        if let Some(r) = props.retries {
            s.retries = r;
        }
        if let Some(b) = props.retry_backoff {
            s.retry_backoff = b;
        }
        if let Some(b) = props.retry_backoff_max {
            s.retry_backoff_max = b;
        }
        s.retry_backoff_max = s.retry_backoff_max.max(s.retry_backoff);
        s.tls = props.tls.clone();
        s.sasl = props.sasl.clone();
        s
    }
}

/// What a `--command-config` file says that this client honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandConfig {
    pub bootstrap: Option<Bootstrap>,
    pub client_id: Option<String>,
    pub request_timeout: Option<Duration>,
    pub api_timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_backoff: Option<Duration>,
    pub retry_backoff_max: Option<Duration>,
    pub protocol: SecurityProtocol,
    /// Set when `protocol` is SSL or SASL_SSL.
    pub tls: Option<TlsSettings>,
    /// Set when `protocol` is SASL_PLAINTEXT or SASL_SSL.
    pub sasl: Option<SaslSettings>,
    /// Keys this client does not use, sorted, for one warning.
    pub unknown: Vec<String>,
    /// `ssl.*` or `sasl.*` keys the protocol does not use (as Kafka, they
    /// are ignored; a forgotten `security.protocol=SSL` is worth a word).
    pub unused_security: Vec<String>,
}

/// Why a properties file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A setting that is wrong whatever the release.
    #[error("{key}: {why}")]
    Security { key: String, why: String },
    #[error("line {line}: {key}: {why}")]
    Invalid {
        line: usize,
        key: String,
        why: String,
    },
}

/// Whether a key's value must never be shown.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "jaas"].iter().any(|s| k.contains(s))
}

/// Reads a Kafka client properties file; `sources` gives what its values
/// point to (`${env:NAME}`, `${file:PATH:key}`, the truststore file).
pub fn parse_command_config(
    text: &str,
    sources: &dyn Sources,
) -> Result<CommandConfig, ConfigError> {
    let mut props = parse_properties(text);
    resolve_providers(&mut props, sources)?;
    let mut out = CommandConfig::default();
    if let Some((line, value)) = props.get("security.protocol") {
        out.protocol = match value.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => {
                return Err(ConfigError::Invalid {
                    line: *line,
                    key: "security.protocol".into(),
                    why: format!(
                        "{value:?} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
                    ),
                });
            }
        };
    }
    let get = |k: &str| props.get(k).map(|(_, v)| v.as_str());
    if out.protocol.uses_tls() {
        out.tls = Some(tls_settings(&get, sources)?);
    }
    if out.protocol.uses_sasl() {
        let sasl = sasl_settings(&get)?;
        out.sasl = Some(sasl);
    }
    for (key, (line, value)) in &props {
        let invalid = |why: String| ConfigError::Invalid {
            line: *line,
            key: key.clone(),
            why,
        };
        let millis = |positive: bool| -> Result<Duration, ConfigError> {
            let shown = if is_secret_key(key) {
                String::from("the value")
            } else {
                format!("{value:?}")
            };
            match value.trim().parse::<u64>() {
                Ok(0) if positive => Err(invalid(format!("{shown} must be more than 0"))),
                Ok(n) => Ok(Duration::from_millis(n)),
                Err(_) => Err(invalid(format!("{shown} is not a number of milliseconds"))),
            }
        };
        match key.as_str() {
            "security.protocol" => {}
            k if k == "config.providers" || k.starts_with("config.providers.") => {}
            k if SSL_KEYS.contains(&k) || SASL_KEYS.contains(&k) => {
                let used = if SSL_KEYS.contains(&k) {
                    out.protocol.uses_tls()
                } else {
                    out.protocol.uses_sasl()
                };
                if !used {
                    out.unused_security.push(key.clone());
                }
            }
            "bootstrap.servers" => {
                out.bootstrap = Some(value.parse::<Bootstrap>().map_err(invalid)?);
            }
            "client.id" => out.client_id = Some(value.clone()),
            "request.timeout.ms" => out.request_timeout = Some(millis(true)?),
            "default.api.timeout.ms" => out.api_timeout = Some(millis(true)?),
            "retry.backoff.ms" => out.retry_backoff = Some(millis(false)?),
            "retry.backoff.max.ms" => out.retry_backoff_max = Some(millis(false)?),
            "retries" => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("{value:?} is not a whole number of retries")))?;
                if n < 0 {
                    return Err(invalid(format!("{value:?} must be 0 or more")));
                }
                out.retries = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            _ => out.unknown.push(key.clone()),
        }
    }
    Ok(out)
}

/// The TLS keys this client reads (the others are unknown: warned about).
const SSL_KEYS: &[&str] = &[
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.endpoint.identification.algorithm",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
];

/// The SASL keys this client reads.
const SASL_KEYS: &[&str] = &[
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.username",
    "sasl.password",
];

/// `${provider:[path:]key}` in every value, as Kafka's config providers
/// do: `env` (EnvVarConfigProvider) and `file` (FileConfigProvider, the
/// key looked up in the properties file at path) unless
/// `config.providers` names others with their classes.
fn resolve_providers(
    props: &mut BTreeMap<String, (usize, String)>,
    sources: &dyn Sources,
) -> Result<(), ConfigError> {
    let mut kinds: BTreeMap<String, String> = [("env", "env"), ("file", "file")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    if let Some((_, names)) = props.get("config.providers") {
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let class = props
                .get(&format!("config.providers.{name}.class"))
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let kind = if class.ends_with("EnvVarConfigProvider") {
                "env"
            } else if class.ends_with("FileConfigProvider") {
                "file"
            } else {
                "unsupported"
            };
            kinds.insert(name.to_string(), kind.to_string());
        }
    }
    let pattern = regex::Regex::new(r"\$\{([^}:]*?):(?:([^}]*?):)?([^}]*?)\}").expect("valid");
    for (key, (line, value)) in props.iter_mut() {
        if key.starts_with("config.providers") || !value.contains("${") {
            continue;
        }
        let mut failure = None;
        let resolved = pattern.replace_all(value, |c: &regex::Captures<'_>| {
            let (provider, path, name) = (&c[1], c.get(2).map(|m| m.as_str()), &c[3]);
            let got = match kinds.get(provider).map(String::as_str) {
                Some("env") => sources
                    .env(name)
                    .ok_or_else(|| format!("${{{provider}:{name}}}: environment variable {name} is not set")),
                Some("file") => match path {
                    None => Err(format!(
                        "${{{provider}:{name}}}: a file reference is ${{{provider}:PATH:KEY}}"
                    )),
                    Some(path) => sources.read(path).and_then(|bytes| {
                        parse_properties(&String::from_utf8_lossy(&bytes))
                            .remove(name)
                            .map(|(_, v)| v)
                            .ok_or_else(|| format!("{path} has no key {name}"))
                    }),
                },
                Some(_) => Err(format!(
                    "config provider {provider}: only EnvVarConfigProvider and FileConfigProvider are supported"
                )),
                None => Err(format!(
                    "no config provider named {provider} (env and file are known; others go in config.providers)"
                )),
            };
            got.unwrap_or_else(|why| {
                failure.get_or_insert(why);
                String::new()
            })
        });
        if let Some(why) = failure {
            return Err(ConfigError::Invalid {
                line: *line,
                key: key.clone(),
                why,
            });
        }
        *value = resolved.into_owned();
    }
    Ok(())
}

/// The TLS settings of `security.protocol=SSL` (or SASL_SSL).
fn tls_settings<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    sources: &dyn Sources,
) -> Result<TlsSettings, ConfigError> {
    let security = |key: &str, why: String| ConfigError::Security {
        key: key.into(),
        why,
    };
    let verify_hostname = match get("ssl.endpoint.identification.algorithm").map(str::trim) {
        None => true,
        Some(a) if a.eq_ignore_ascii_case("https") => true,
        Some("") => false,
        Some(other) => {
            return Err(security(
                "ssl.endpoint.identification.algorithm",
                format!("{other:?} is not https or empty (no hostname verification)"),
            ));
        }
    };
    Ok(TlsSettings {
        roots: trust_roots(get, sources)?,
        verify_hostname,
        identity: client_identity(get, sources)?,
    })
}

/// `ssl.truststore.*`: PEM (a file or inline) or PKCS12; none given, the
/// system's store.
fn trust_roots<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    sources: &dyn Sources,
) -> Result<TrustRoots, ConfigError> {
    let security = |key: &str, why: String| ConfigError::Security {
        key: key.into(),
        why,
    };
    let declared = get("ssl.truststore.type");
    let location = get("ssl.truststore.location").filter(|l| !l.trim().is_empty());
    let inline = get("ssl.truststore.certificates").filter(|c| !c.trim().is_empty());
    let (bytes, from) = match (location, inline) {
        (Some(_), Some(_)) => {
            return Err(security(
                "ssl.truststore.certificates",
                "give either it or ssl.truststore.location, not both".into(),
            ));
        }
        (Some(path), None) => (
            sources
                .read(path)
                .map_err(|e| security("ssl.truststore.location", e))?,
            path.to_string(),
        ),
        (None, Some(pem)) => {
            if declared.is_some_and(|t| !t.trim().eq_ignore_ascii_case("PEM")) {
                return Err(security(
                    "ssl.truststore.certificates",
                    "inline certificates need ssl.truststore.type=PEM".into(),
                ));
            }
            (
                pem.as_bytes().to_vec(),
                "ssl.truststore.certificates".into(),
            )
        }
        (None, None) => return Ok(TrustRoots::System),
    };
    let kind =
        stores::kind(declared, &bytes).map_err(|why| security("ssl.truststore.type", why))?;
    let certs = match kind {
        StoreKind::Pem => stores::pem_certs(&bytes, &from),
        StoreKind::Pkcs12 => stores::pkcs12_certs(
            &bytes,
            get("ssl.truststore.password").filter(|p| !p.is_empty()),
            &from,
        ),
        StoreKind::Jks => {
            return Err(security(
                "ssl.truststore.type",
                stores::jks_refusal(&from, "truststore"),
            ));
        }
    }
    .map_err(|why| security("ssl.truststore", why))?;
    Ok(TrustRoots::Pem { certs, from })
}

/// `ssl.keystore.*`: the client's certificate and key for mutual TLS, as
/// Kafka takes them: a PEM file holding both (`ssl.keystore.location`,
/// `ssl.keystore.type=PEM`), the two inline (`ssl.keystore.certificate.chain`
/// and `ssl.keystore.key`), or a PKCS12 store with `ssl.keystore.password`;
/// an encrypted PEM key takes `ssl.key.password`.
fn client_identity<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    sources: &dyn Sources,
) -> Result<Option<ClientIdentity>, ConfigError> {
    let security = |key: &str, why: String| ConfigError::Security {
        key: key.into(),
        why,
    };
    let given = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let declared = given("ssl.keystore.type");
    let key_password = get("ssl.key.password").filter(|p| !p.is_empty());
    let location = given("ssl.keystore.location");
    let inline = (
        given("ssl.keystore.certificate.chain"),
        given("ssl.keystore.key"),
    );
    if location.is_some() && (inline.0.is_some() || inline.1.is_some()) {
        return Err(security(
            "ssl.keystore.location",
            "give either it or ssl.keystore.certificate.chain with ssl.keystore.key, not both"
                .into(),
        ));
    }
    let Some(path) = location else {
        return match inline {
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => Err(security(
                "ssl.keystore.certificate.chain",
                "needs ssl.keystore.key beside it (and the other way round)".into(),
            )),
            (Some(chain), Some(key)) => {
                if declared.is_some_and(|t| !t.trim().eq_ignore_ascii_case("PEM")) {
                    return Err(security(
                        "ssl.keystore.key",
                        "inline certificates and keys need ssl.keystore.type=PEM".into(),
                    ));
                }
                let certs = stores::pem_certs(chain.as_bytes(), "ssl.keystore.certificate.chain")
                    .map_err(|why| security("ssl.keystore.certificate.chain", why))?;
                let key = stores::pem_key(key.as_bytes(), key_password, "ssl.keystore.key")
                    .map_err(|why| security("ssl.keystore.key", why))?;
                Ok(Some(ClientIdentity::new(
                    certs,
                    key,
                    "ssl.keystore.certificate.chain and ssl.keystore.key".into(),
                )))
            }
        };
    };
    let bytes = sources
        .read(path)
        .map_err(|e| security("ssl.keystore.location", e))?;
    let kind = stores::kind(declared, &bytes).map_err(|why| security("ssl.keystore.type", why))?;
    let (chain, key) = match kind {
        StoreKind::Pem => {
            let certs = stores::pem_certs(&bytes, path)
                .map_err(|why| security("ssl.keystore.location", why))?;
            let key = stores::pem_key(&bytes, key_password, path)
                .map_err(|why| security("ssl.keystore.location", why))?;
            (certs, key)
        }
        StoreKind::Pkcs12 => stores::pkcs12_identity(
            &bytes,
            get("ssl.keystore.password").filter(|p| !p.is_empty()),
            path,
        )
        .map_err(|why| security("ssl.keystore.location", why))?,
        StoreKind::Jks => {
            return Err(security(
                "ssl.keystore.type",
                stores::jks_refusal(path, "keystore"),
            ));
        }
    };
    Ok(Some(ClientIdentity::new(chain, key, path.to_string())))
}

/// The SASL mechanism and credentials.
fn sasl_settings<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<SaslSettings, ConfigError> {
    let security = |key: &str, why: String| ConfigError::Security {
        key: key.into(),
        why,
    };
    const SUPPORTED: &str = "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512";
    // Kafka's default mechanism is GSSAPI.
    let mechanism = match get("sasl.mechanism")
        .map(|m| m.trim().to_ascii_uppercase())
        .as_deref()
        .unwrap_or("GSSAPI")
    {
        "PLAIN" => SaslMechanism::Plain,
        "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
        "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
        "GSSAPI" => {
            return Err(security(
                "sasl.mechanism",
                format!(
                    "GSSAPI (Kerberos, Kafka's default) is not supported: set sasl.mechanism to {SUPPORTED}"
                ),
            ));
        }
        "OAUTHBEARER" => {
            return Err(security(
                "sasl.mechanism",
                format!("OAUTHBEARER is not supported: set sasl.mechanism to {SUPPORTED}"),
            ));
        }
        other => {
            return Err(security(
                "sasl.mechanism",
                format!("{other:?} is not supported: set sasl.mechanism to {SUPPORTED}"),
            ));
        }
    };
    if let Some(jaas) = get("sasl.jaas.config").filter(|j| !j.trim().is_empty()) {
        let module = parse_jaas(jaas).map_err(|why| security("sasl.jaas.config", why))?;
        let wanted = match mechanism {
            SaslMechanism::Plain => "PlainLoginModule",
            _ => "ScramLoginModule",
        };
        if !module.class.ends_with(wanted) {
            return Err(security(
                "sasl.jaas.config",
                format!(
                    "sasl.mechanism={} needs org.apache.kafka.common.security.{}.{wanted}, not {}",
                    mechanism.name(),
                    if wanted == "PlainLoginModule" {
                        "plain"
                    } else {
                        "scram"
                    },
                    module.class
                ),
            ));
        }
        let mut options = module.options;
        let username = options
            .remove("username")
            .ok_or_else(|| security("sasl.jaas.config", "no username=\"...\"".into()))?;
        let password = options
            .remove("password")
            .ok_or_else(|| security("sasl.jaas.config", "no password=\"...\"".into()))?;
        return Ok(SaslSettings {
            mechanism,
            username,
            password: Secret(password),
        });
    }
    match (get("sasl.username"), get("sasl.password")) {
        (Some(u), Some(p)) => Ok(SaslSettings {
            mechanism,
            username: u.to_string(),
            password: Secret(p.to_string()),
        }),
        _ => Err(security(
            "sasl.jaas.config",
            format!(
                "{} needs credentials: sasl.jaas.config, or sasl.username and sasl.password",
                mechanism.name()
            ),
        )),
    }
}

/// One login module of a `sasl.jaas.config`.
#[derive(Debug, PartialEq, Eq)]
struct JaasModule {
    class: String,
    /// Option values are never shown: they hold the password.
    options: BTreeMap<String, String>,
}

/// Kafka's `sasl.jaas.config`: `Class flag key=value ... ;`, exactly one
/// module, values as words or `"quoted"` with backslash escapes (`\"`,
/// `\\`, `\n`, `\t`, `\r`), as Java's StreamTokenizer reads them. Messages
/// name positions and keys, never values.
fn parse_jaas(text: &str) -> Result<JaasModule, String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Word(String),
        Quoted(String),
        Eq,
        Semi,
    }
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                toks.push(Tok::Eq);
            }
            ';' => {
                chars.next();
                toks.push(Tok::Semi);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => v.push('\n'),
                            Some('t') => v.push('\t'),
                            Some('r') => v.push('\r'),
                            Some(o) => v.push(o),
                            None => break,
                        },
                        o => v.push(o),
                    }
                }
                if !closed {
                    return Err("a quoted value is not closed (missing \")".into());
                }
                toks.push(Tok::Quoted(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                toks.push(Tok::Word(w));
            }
        }
    }
    let mut it = toks.into_iter();
    let class = match it.next() {
        Some(Tok::Word(w)) => w,
        _ => return Err("expected a login module class first".into()),
    };
    match it.next() {
        Some(Tok::Word(f))
            if ["required", "requisite", "sufficient", "optional"]
                .contains(&f.to_ascii_lowercase().as_str()) => {}
        _ => {
            return Err(format!(
                "{class}: expected a control flag (required) after the class"
            ));
        }
    }
    let mut options = BTreeMap::new();
    loop {
        match it.next() {
            Some(Tok::Semi) => break,
            Some(Tok::Word(key)) => {
                if it.next() != Some(Tok::Eq) {
                    return Err(format!("{class}: option {key}: expected ="));
                }
                match it.next() {
                    Some(Tok::Word(v) | Tok::Quoted(v)) => {
                        options.insert(key, v);
                    }
                    _ => return Err(format!("{class}: option {key}: expected a value")),
                }
            }
            None => return Err(format!("{class}: the module does not end with ;")),
            Some(_) => return Err(format!("{class}: expected an option name or ;")),
        }
    }
    if it.next().is_some() {
        return Err("more than one login module: Kafka's clients take exactly one".into());
    }
    Ok(JaasModule { class, options })
}

/// Java's `.properties` syntax (`java.util.Properties.load`): `#` and `!`
/// comment lines, `key=value`, `key: value` or `key value`, a line ending
/// in an odd number of backslashes continued on the next (its leading
/// blanks dropped), and escapes (`\t`, `\n`, `\r`, `\f`, `\uXXXX`, and a
/// backslash before any other character standing for that character).
/// The last of repeated keys wins; each key keeps the line it started on.
pub fn parse_properties(text: &str) -> BTreeMap<String, (usize, String)> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, first)) = lines.next() {
        let first = first.trim_start_matches([' ', '\t', '\x0c']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut line = first;
        loop {
            let trailing = line.len() - line.trim_end_matches('\\').len();
            if trailing % 2 == 1 {
                logical.push_str(&line[..line.len() - 1]);
                match lines.next() {
                    Some((_, next)) => line = next.trim_start_matches([' ', '\t', '\x0c']),
                    None => break,
                }
            } else {
                logical.push_str(line);
                break;
            }
        }
        let (key, value) = split_key_value(&logical);
        out.insert(unescape(key), (i + 1, unescape(value)));
    }
    out
}

/// The raw key and value of a logical line: the key ends at the first
/// unescaped `=`, `:` or blank; blanks and one `=` or `:` separate.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(u) if hex.len() == 4 => {
                        out.push(u);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    // Java throws on a malformed \u; keeping the text is
                    // kinder, and the key is then unknown or invalid anyway.
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_command_config_plain(text: &str) -> Result<CommandConfig, ConfigError> {
        parse_command_config(text, &NoSources)
    }

    fn props(text: &str) -> Vec<(String, usize, String)> {
        parse_properties(text)
            .into_iter()
            .map(|(k, (l, v))| (k, l, v))
            .collect()
    }

    #[test]
    fn reads_java_properties_syntax() {
        let text = "# comment\n  ! another\n\na=1\nb : 2\nc   3\nd=\n  e = x = y  \n\
                    long = one, \\\n      two, \\\n  three\n\
                    tab\\tkey=v\\u0041\\\\z\nesc\\=aped=q\nf=last\nf=later\nwin=a\\\r\n  b\r\n";
        assert_eq!(
            props(text),
            vec![
                ("a".into(), 4, "1".into()),
                ("b".into(), 5, "2".into()),
                ("c".into(), 6, "3".into()),
                ("d".into(), 7, "".into()),
                ("e".into(), 8, "x = y  ".into()),
                ("esc=aped".into(), 13, "q".into()),
                ("f".into(), 15, "later".into()),
                ("long".into(), 9, "one, two, three".into()),
                ("tab\tkey".into(), 12, "vA\\z".into()),
                ("win".into(), 16, "ab".into()),
            ]
        );
        // An even number of trailing backslashes is an escaped backslash,
        // not a continuation.
        assert_eq!(
            props("a=x\\\\\nb=y"),
            vec![("a".into(), 1, "x\\".into()), ("b".into(), 2, "y".into())]
        );
        // A continuation on the last line ends the value.
        assert_eq!(props("a=x\\"), vec![("a".into(), 1, "x".into())]);
    }

    #[test]
    fn honours_the_client_keys() {
        let c = parse_command_config_plain(
            "bootstrap.servers=k1:9092,k2:9092\nclient.id=ops\nrequest.timeout.ms=5000\n\
             default.api.timeout.ms=60000\nretries=3\nretry.backoff.ms=50\nretry.backoff.max.ms=400\n\
             security.protocol=plaintext\nacks=all\nlinger.ms=5\n",
        )
        .unwrap();
        assert_eq!(c.bootstrap.unwrap().to_string(), "k1:9092,k2:9092");
        assert_eq!(c.client_id.as_deref(), Some("ops"));
        assert_eq!(c.request_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.api_timeout, Some(Duration::from_secs(60)));
        assert_eq!(c.retries, Some(3));
        assert_eq!(c.retry_backoff, Some(Duration::from_millis(50)));
        assert_eq!(c.retry_backoff_max, Some(Duration::from_millis(400)));
        assert_eq!(c.unknown, vec!["acks".to_string(), "linger.ms".to_string()]);
        assert_eq!(
            parse_command_config_plain("").unwrap(),
            CommandConfig::default()
        );
    }

    #[test]
    fn settings_come_from_the_flag_then_the_file_then_defaults() {
        let none = CommandConfig::default();
        let d = ClientSettings::resolve(None, &none);
        assert_eq!(d.api_timeout, DEFAULT_API_TIMEOUT);
        assert_eq!(d.request_timeout, DEFAULT_API_TIMEOUT);
        assert_eq!(d.client_id, "kafka-migrate");
        assert_eq!(d.retry_backoff, Duration::from_millis(100));
        assert_eq!(d.retry_backoff_max, Duration::from_secs(1));
        assert_eq!(d.retries, u32::MAX);
        let file = parse_command_config_plain(
            "default.api.timeout.ms=9000\nrequest.timeout.ms=2000\nretries=0\nretry.backoff.ms=3000",
        )
        .unwrap();
        let s = ClientSettings::resolve(None, &file);
        assert_eq!(s.api_timeout, Duration::from_secs(9));
        assert_eq!(s.request_timeout, Duration::from_secs(2));
        assert_eq!(s.retries, 0);
        // The ceiling never sits below the first wait.
        assert_eq!(s.retry_backoff_max, Duration::from_secs(3));
        let flag = ClientSettings::resolve(Some(Duration::from_secs(4)), &file);
        assert_eq!(flag.api_timeout, Duration::from_secs(4));
        assert_eq!(flag.request_timeout, Duration::from_secs(2));
    }

    /// Environment variables and files for the parser, from maps.
    #[derive(Default)]
    struct MapSources {
        env: BTreeMap<String, String>,
        files: BTreeMap<String, Vec<u8>>,
    }

    impl Sources for MapSources {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| format!("cannot read {path}: No such file"))
        }
    }

    fn ca_pem() -> String {
        crate::minibroker::tls::generate(&["localhost".into()])
            .unwrap()
            .ca_pem
    }

    fn sources_with_ca() -> (MapSources, String) {
        let pem = ca_pem();
        let mut src = MapSources::default();
        src.files
            .insert("/etc/ca.pem".into(), pem.clone().into_bytes());
        (src, pem)
    }

    fn tls_of(text: &str, src: &MapSources) -> Result<TlsSettings, ConfigError> {
        parse_command_config(text, src).map(|c| c.tls.expect("SSL gives TLS settings"))
    }

    #[test]
    fn ssl_reads_a_pem_truststore_from_a_file_or_inline() {
        let (src, pem) = sources_with_ca();
        let by_file = tls_of(
            "security.protocol=ssl\nssl.truststore.type=PEM\nssl.truststore.location=/etc/ca.pem\nssl.truststore.password=hunter2",
            &src,
        )
        .unwrap();
        assert!(by_file.verify_hostname);
        let TrustRoots::Pem { certs, from } = &by_file.roots else {
            panic!("{by_file:?}")
        };
        assert_eq!((certs.len(), from.as_str()), (1, "/etc/ca.pem"));
        // No type declared: the file's first bytes say PEM.
        assert_eq!(
            tls_of(
                "security.protocol=SSL\nssl.truststore.location=/etc/ca.pem",
                &src
            )
            .unwrap(),
            by_file
        );
        // Inline, as Kafka's properties continue lines.
        let inline = format!(
            "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.certificates={}",
            pem.trim_end().replace('\n', "\\n\\\n")
        );
        let t = tls_of(&inline, &src).unwrap();
        let TrustRoots::Pem {
            certs: inline_certs,
            ..
        } = &t.roots
        else {
            panic!("{t:?}")
        };
        assert_eq!(inline_certs, certs);
        // No truststore: the system's roots, as Java's default truststore.
        let sys = tls_of("security.protocol=SSL", &src).unwrap();
        assert_eq!(sys.roots, TrustRoots::System);
        // SSL settings flow into the client's.
        let c = parse_command_config("security.protocol=SSL", &src).unwrap();
        assert_eq!(ClientSettings::resolve(None, &c).tls, Some(sys));
        assert_eq!(
            ClientSettings::resolve(None, &CommandConfig::default()).tls,
            None
        );
    }

    #[test]
    fn hostname_verification_is_on_unless_the_algorithm_is_empty() {
        let (src, _) = sources_with_ca();
        let base = "security.protocol=SSL\nssl.truststore.location=/etc/ca.pem\n";
        for (line, verify) in [
            ("", true),
            ("ssl.endpoint.identification.algorithm=https", true),
            ("ssl.endpoint.identification.algorithm=HTTPS", true),
            ("ssl.endpoint.identification.algorithm=", false),
            ("ssl.endpoint.identification.algorithm=  ", false),
        ] {
            let t = tls_of(&format!("{base}{line}"), &src).unwrap();
            assert_eq!(t.verify_hostname, verify, "{line}");
        }
        let e = tls_of(
            &format!("{base}ssl.endpoint.identification.algorithm=ldap"),
            &src,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"ldap\" is not https or empty"), "{e}");
    }

    #[test]
    fn stores_this_release_cannot_read_are_refused_with_the_way_out() {
        let (mut src, _) = sources_with_ca();
        src.files.insert(
            "/s/trust.jks".into(),
            vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2],
        );
        src.files
            .insert("/s/trust.p12".into(), vec![0x30, 0x82, 0x0a, 0x1b]);
        src.files
            .insert("/s/empty.pem".into(), b"# nothing\n".to_vec());
        for (text, want) in [
            (
                "ssl.truststore.location=/s/trust.jks",
                "/s/trust.jks is a JKS store, which kafka-migrate does not read; convert it: `keytool -importkeystore -srckeystore /s/trust.jks -srcstoretype JKS -destkeystore truststore.p12 -deststoretype PKCS12`",
            ),
            // Declared JKS, whatever the bytes (Kafka's default type).
            (
                "ssl.truststore.type=JKS\nssl.truststore.location=/etc/ca.pem",
                "keytool -importkeystore -srckeystore /etc/ca.pem",
            ),
            (
                "ssl.truststore.location=/s/trust.p12",
                "ssl.truststore: /s/trust.p12: cannot open the PKCS12 store: wrong password, or not a PKCS12 file",
            ),
            (
                "ssl.truststore.type=BKS\nssl.truststore.location=/etc/ca.pem",
                "\"BKS\" is not PEM, PKCS12 or JKS",
            ),
            (
                "ssl.truststore.location=/s/empty.pem",
                "/s/empty.pem: no certificate",
            ),
            (
                "ssl.truststore.location=/s/none.pem",
                "ssl.truststore.location: cannot read /s/none.pem",
            ),
            (
                "ssl.truststore.location=/etc/ca.pem\nssl.truststore.certificates=x",
                "give either it or ssl.truststore.location",
            ),
            (
                "ssl.truststore.type=PKCS12\nssl.truststore.certificates=x",
                "inline certificates need ssl.truststore.type=PEM",
            ),
            (
                "ssl.keystore.certificate.chain=x\nssl.keystore.key=y",
                "ssl.keystore.certificate.chain: ssl.keystore.certificate.chain: no certificate",
            ),
            ("ssl.keystore.key=y", "needs ssl.keystore.key beside it"),
            (
                "ssl.keystore.location=/s/trust.jks",
                "ssl.keystore.type: /s/trust.jks is a JKS store, which kafka-migrate does not read; convert it: `keytool -importkeystore -srckeystore /s/trust.jks -srcstoretype JKS -destkeystore keystore.p12 -deststoretype PKCS12` and set ssl.keystore.type=PKCS12",
            ),
        ] {
            let e = tls_of(&format!("security.protocol=SSL\n{text}"), &src)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text}:\n{e}");
        }
    }

    #[test]
    fn values_come_from_the_environment_and_files_as_kafkas_providers_give_them() {
        let mut src = MapSources::default();
        src.env.insert("KM_ID".into(), "from-env".into());
        src.files.insert(
            "/run/secrets.properties".into(),
            b"timeout = 7000\nid: from-file\n".to_vec(),
        );
        let c = parse_command_config(
            "client.id=${env:KM_ID}-${file:/run/secrets.properties:id}\n\
             request.timeout.ms=${file:/run/secrets.properties:timeout}",
            &src,
        )
        .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("from-env-from-file"));
        assert_eq!(c.request_timeout, Some(Duration::from_secs(7)));
        // Providers declared under other names, by their classes.
        let c = parse_command_config(
            "config.providers=vault,sys\n\
             config.providers.vault.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\
             config.providers.sys.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
             client.id=${sys:KM_ID}/${vault:/run/secrets.properties:id}",
            &src,
        )
        .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("from-env/from-file"));
        assert!(c.unknown.is_empty(), "{:?}", c.unknown);
        for (text, want) in [
            (
                "client.id=${env:NOPE}",
                "line 1: client.id: ${env:NOPE}: environment variable NOPE is not set",
            ),
            (
                "client.id=${file:/run/secrets.properties:nokey}",
                "/run/secrets.properties has no key nokey",
            ),
            ("client.id=${file:/none:id}", "cannot read /none"),
            (
                "client.id=${file:id}",
                "a file reference is ${file:PATH:KEY}",
            ),
            ("client.id=${vault:/x:y}", "no config provider named vault"),
            (
                "config.providers=v\nconfig.providers.v.class=com.example.Vault\nclient.id=${v:/x:y}",
                "only EnvVarConfigProvider and FileConfigProvider",
            ),
        ] {
            let e = parse_command_config(text, &src).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    fn sasl_of(text: &str) -> Result<SaslSettings, ConfigError> {
        let props = parse_properties(text);
        let get = |k: &str| props.get(k).map(|(_, v)| v.as_str());
        sasl_settings(&get)
    }

    #[test]
    fn jaas_config_is_read_with_kafkas_quotes_and_escapes() {
        let s = sasl_of(
            "sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
             username=\"ad min\" password=\"p\\\\\"w;=\\\\\\\\d\";",
        )
        .unwrap();
        assert_eq!(s.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(s.username, "ad min");
        assert_eq!(s.password.expose(), "p\"w;=\\d");
        // Unquoted words, other flags, blanks anywhere.
        let m = parse_jaas("a.b.PlainLoginModule  optional username=alice\tpassword = s3cr3t ;")
            .unwrap();
        assert_eq!(m.class, "a.b.PlainLoginModule");
        assert_eq!(m.options.get("username").map(String::as_str), Some("alice"));
        assert_eq!(
            m.options.get("password").map(String::as_str),
            Some("s3cr3t")
        );
        // sasl.username and sasl.password when there is no JAAS config.
        let s = sasl_of("sasl.mechanism=PLAIN\nsasl.username=bob\nsasl.password=hunter2").unwrap();
        assert_eq!(
            (s.username.as_str(), s.password.expose()),
            ("bob", "hunter2")
        );
        assert_eq!(
            sasl_of("sasl.mechanism=scram-sha-256\nsasl.username=b\nsasl.password=p")
                .unwrap()
                .mechanism,
            SaslMechanism::ScramSha256
        );
    }

    #[test]
    fn jaas_and_mechanism_mistakes_are_named_without_the_password() {
        let plain = "org.apache.kafka.common.security.plain.PlainLoginModule";
        for (text, want) in [
            (
                "sasl.jaas.config=x required username=\"u\" password=\"hunter2\";",
                "GSSAPI (Kerberos, Kafka's default) is not supported: set sasl.mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ),
            (
                "sasl.mechanism=OAUTHBEARER",
                "OAUTHBEARER is not supported: set sasl.mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ),
            ("sasl.mechanism=GSSAPI", "GSSAPI"),
            ("sasl.mechanism=PLAIN", "PLAIN needs credentials"),
            (
                &format!(
                    "sasl.mechanism=PLAIN\nsasl.jaas.config={plain} required username=\"u\" password=\"hunter2\""
                ),
                "does not end with ;",
            ),
            (
                &format!(
                    "sasl.mechanism=PLAIN\nsasl.jaas.config={plain} required username=\"u\" password=\"hunter2;"
                ),
                "a quoted value is not closed",
            ),
            (
                &format!(
                    "sasl.mechanism=PLAIN\nsasl.jaas.config={plain} username=\"u\" password=\"hunter2\";"
                ),
                "expected a control flag",
            ),
            (
                &format!(
                    "sasl.mechanism=PLAIN\nsasl.jaas.config={plain} required password=\"hunter2\";"
                ),
                "no username",
            ),
            (
                &format!(
                    "sasl.mechanism=PLAIN\nsasl.jaas.config={plain} required username=u password=\"hunter2\"; {plain} required;"
                ),
                "more than one login module",
            ),
            (
                &format!(
                    "sasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config={plain} required username=u password=\"hunter2\";"
                ),
                "needs org.apache.kafka.common.security.scram.ScramLoginModule, not org.apache.kafka.common.security.plain.PlainLoginModule",
            ),
        ] {
            let e = sasl_of(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}:\n{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn scram_and_plain_are_taken() {
        let c = parse_command_config_plain(
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"hunter2\";",
        )
        .unwrap();
        let sasl = c.sasl.as_ref().expect("SCRAM credentials");
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(
            (sasl.username.as_str(), sasl.password.expose()),
            ("u", "hunter2")
        );
        // PLAIN is taken, over plaintext or TLS.
        let c = parse_command_config_plain(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\nsasl.password=hunter2",
        )
        .unwrap();
        let s = ClientSettings::resolve(None, &c);
        assert_eq!(s.sasl.as_ref().map(|s| s.username.as_str()), Some("u"));
        assert_eq!(s.tls, None);
        assert!(c.unused_security.is_empty(), "{:?}", c.unused_security);
        // A wrong mechanism is said first.
        let e = parse_command_config_plain(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("OAUTHBEARER is not supported"), "{e}");
        let e = parse_command_config_plain("security.protocol=TLS")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"TLS\" is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
            "{e}"
        );
    }

    #[test]
    fn security_keys_the_protocol_does_not_use_and_unknown_ones_are_listed_once() {
        let c = parse_command_config_plain(
            "ssl.truststore.location=/x\nsasl.mechanism=PLAIN\nssl.cipher.suites=A\nacks=1",
        )
        .unwrap();
        assert_eq!(c.protocol, SecurityProtocol::Plaintext);
        assert_eq!(
            c.unused_security,
            vec!["sasl.mechanism", "ssl.truststore.location"]
        );
        assert_eq!(c.unknown, vec!["acks", "ssl.cipher.suites"]);
        assert_eq!(c.tls, None);
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let s = sasl_of("sasl.mechanism=PLAIN\nsasl.username=bob\nsasl.password=hunter2").unwrap();
        let shown = format!("{s:?} {} {:?}", s.password, s.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("bob"), "{shown}");
        let (src, _) = sources_with_ca();
        let c = parse_command_config(
            "security.protocol=SSL\nssl.truststore.location=/etc/ca.pem\nssl.truststore.password=hunter2",
            &src,
        )
        .unwrap();
        let shown = format!("{c:?} {:?}", ClientSettings::resolve(None, &c));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn invalid_values_name_line_and_key() {
        for (text, want) in [
            (
                "\nrequest.timeout.ms=abc",
                "line 2: request.timeout.ms: \"abc\" is not a number of milliseconds",
            ),
            (
                "default.api.timeout.ms=0",
                "line 1: default.api.timeout.ms: \"0\" must be more than 0",
            ),
            ("retries=-1", "line 1: retries: \"-1\" must be 0 or more"),
            ("retries=many", "is not a whole number"),
            (
                "bootstrap.servers=nohost",
                "line 1: bootstrap.servers: no port",
            ),
        ] {
            let e = parse_command_config_plain(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(
            parse_command_config_plain("retries=99999999999")
                .unwrap()
                .retries
                == Some(u32::MAX)
        );
        assert!(is_secret_key("sasl.jaas.config"));
        assert!(is_secret_key("ssl.keystore.PASSWORD"));
        assert!(is_secret_key("my.client.secret"));
        assert!(!is_secret_key("client.id"));
    }
}
