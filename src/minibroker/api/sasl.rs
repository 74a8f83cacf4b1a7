//! SaslHandshake (17) and SaslAuthenticate (36): PLAIN, the mechanism
//! Kafka's `PlainLoginModule` speaks (RFC 4616: authzid NUL user NUL
//! password), and SCRAM-SHA-256/512 (`ScramLoginModule`: two
//! SaslAuthenticate round trips, see `kafka::scram`). Whether a connection may send anything else is the
//! server's business (`server::serve_connection` closes it, as Kafka does,
//! when another request comes before authentication).

use bytes::Bytes;
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::kafka::scram::{self, ScramError, ScramServer};
use crate::minibroker::config::SaslMechanism;
use crate::minibroker::shared::BrokerCtx;

const ILLEGAL_SASL_STATE: i16 = 34;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

pub async fn handshake(
    ctx: &BrokerCtx,
    req: SaslHandshakeRequest,
    _version: i16,
) -> SaslHandshakeResponse {
    let offered = ctx
        .shared
        .sasl
        .as_ref()
        .map(|u| u.mechanisms())
        .unwrap_or_default();
    let mechanisms = offered
        .iter()
        .map(|m| StrBytes::from_static_str(m.name()))
        .collect();
    let mut session = ctx.session.lock();
    // KIP-368: with a session lifetime, an authenticated client may
    // authenticate again on the same connection.
    let reauth = session.authenticated && ctx.shared.sasl_session_lifetime.is_some();
    if ctx.shared.sasl.is_none()
        || (!reauth && (session.authenticated || session.handshaken))
        || session.reauthenticating
    {
        return SaslHandshakeResponse::default()
            .with_error_code(ILLEGAL_SASL_STATE)
            .with_mechanisms(mechanisms);
    }
    let Some(chosen) = offered
        .into_iter()
        .find(|m| m.name() == req.mechanism.as_str())
    else {
        // Kafka closes the connection after this answer.
        session.failed = true;
        return SaslHandshakeResponse::default()
            .with_error_code(UNSUPPORTED_SASL_MECHANISM)
            .with_mechanisms(mechanisms);
    };
    session.handshaken = true;
    session.reauthenticating = reauth;
    session.scram = None;
    session.mechanism = Some(chosen);
    SaslHandshakeResponse::default().with_mechanisms(mechanisms)
}

pub async fn authenticate(
    ctx: &BrokerCtx,
    req: SaslAuthenticateRequest,
    _version: i16,
) -> SaslAuthenticateResponse {
    let mut session = ctx.session.lock();
    let Some(users) = ctx.shared.sasl.as_ref() else {
        session.failed = true;
        return SaslAuthenticateResponse::default().with_error_code(ILLEGAL_SASL_STATE);
    };
    let mechanism = match session.mechanism {
        Some(m) if session.handshaken && (!session.authenticated || session.reauthenticating) => m,
        _ => {
            session.failed = true;
            return SaslAuthenticateResponse::default()
                .with_error_code(ILLEGAL_SASL_STATE)
                .with_error_message(Some(StrBytes::from_static_str(
                    "SaslAuthenticate without a SaslHandshake first",
                )));
        }
    };
    let hash = match mechanism {
        SaslMechanism::Plain => {
            let ok = plain_credentials(&req.auth_bytes)
                .is_some_and(|(user, pass)| users.check(&user, &pass));
            if ok {
                let lifetime = authenticated(ctx, &mut session);
                return SaslAuthenticateResponse::default()
                    .with_auth_bytes(Bytes::new())
                    .with_session_lifetime_ms(lifetime);
            }
            // Kafka's words, which name neither the user nor the password;
            // the connection is closed after the answer.
            session.failed = true;
            return SaslAuthenticateResponse::default()
                .with_error_code(SASL_AUTHENTICATION_FAILED)
                .with_error_message(Some(StrBytes::from_static_str(
                    "Authentication failed: Invalid username or password",
                )));
        }
        SaslMechanism::Scram(h) => h,
    };
    let step = match session.scram.take() {
        None => {
            let mut server = ScramServer::new(hash);
            server
                .first(&req.auth_bytes, &scram::random_nonce(), |user| {
                    users.scram(hash, user)
                })
                .map(|out| (out, Some(server)))
        }
        Some(mut server) => server.last(&req.auth_bytes).map(|out| (out, None)),
    };
    match step {
        Ok((out, next)) => {
            let lifetime = if next.is_none() {
                authenticated(ctx, &mut session)
            } else {
                0
            };
            session.scram = next;
            SaslAuthenticateResponse::default()
                .with_auth_bytes(Bytes::from(out))
                .with_session_lifetime_ms(lifetime)
        }
        Err(e) => {
            session.failed = true;
            // Kafka says the same for an unknown user and a wrong password.
            let message = match e {
                ScramError::UnknownUser | ScramError::InvalidProof => format!(
                    "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
                    hash.mechanism()
                ),
                other => format!("Authentication failed: {other}"),
            };
            SaslAuthenticateResponse::default()
                .with_error_code(SASL_AUTHENTICATION_FAILED)
                .with_error_message(Some(StrBytes::from(message)))
        }
    }
}

/// Marks the session authenticated (again, for a re-authentication) and
/// starts its lifetime; returns the lifetime in ms for the answer (0: none).
fn authenticated(ctx: &BrokerCtx, session: &mut crate::minibroker::shared::Session) -> i64 {
    if session.reauthenticating {
        ctx.shared
            .reauthentications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    session.authenticated = true;
    session.reauthenticating = false;
    match ctx.shared.sasl_session_lifetime {
        Some(d) => {
            session.expires = Some(std::time::Instant::now() + d);
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        }
        None => 0,
    }
}

/// `[authzid] NUL user NUL password`.
fn plain_credentials(bytes: &[u8]) -> Option<(String, String)> {
    let mut parts = bytes.split(|&b| b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((user, pass))
}
