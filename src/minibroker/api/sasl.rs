//! SaslHandshake (17) and SaslAuthenticate (36), PLAIN only: the
//! mechanism Kafka's `PlainLoginModule` speaks (RFC 4616: authzid NUL
//! user NUL password). Whether a connection may send anything else is the
//! server's business (`server::serve_connection` closes it, as Kafka does,
//! when another request comes before authentication).

use bytes::Bytes;
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::minibroker::server::BrokerCtx;

const ILLEGAL_SASL_STATE: i16 = 34;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

pub async fn handshake(
    ctx: &BrokerCtx,
    req: SaslHandshakeRequest,
    _version: i16,
) -> SaslHandshakeResponse {
    let mechanisms = vec![StrBytes::from_static_str("PLAIN")];
    let mut session = ctx.session.lock();
    if ctx.shared.sasl.is_none() || session.authenticated || session.handshaken {
        return SaslHandshakeResponse::default()
            .with_error_code(ILLEGAL_SASL_STATE)
            .with_mechanisms(if ctx.shared.sasl.is_some() {
                mechanisms
            } else {
                vec![]
            });
    }
    if req.mechanism.as_str() != "PLAIN" {
        // Kafka closes the connection after this answer.
        session.failed = true;
        return SaslHandshakeResponse::default()
            .with_error_code(UNSUPPORTED_SASL_MECHANISM)
            .with_mechanisms(mechanisms);
    }
    session.handshaken = true;
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
    if !session.handshaken || session.authenticated {
        session.failed = true;
        return SaslAuthenticateResponse::default()
            .with_error_code(ILLEGAL_SASL_STATE)
            .with_error_message(Some(StrBytes::from_static_str(
                "SaslAuthenticate without a SaslHandshake first",
            )));
    }
    let ok =
        plain_credentials(&req.auth_bytes).is_some_and(|(user, pass)| users.check(&user, &pass));
    if ok {
        session.authenticated = true;
        SaslAuthenticateResponse::default().with_auth_bytes(Bytes::new())
    } else {
        // Kafka's words, which name neither the user nor the password;
        // the connection is closed after the answer.
        session.failed = true;
        SaslAuthenticateResponse::default()
            .with_error_code(SASL_AUTHENTICATION_FAILED)
            .with_error_message(Some(StrBytes::from_static_str(
                "Authentication failed: Invalid username or password",
            )))
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
