//! What every flow of the authorization server shares: the [`Site`] (this
//! deployment and this request, as the shell read it), how a storage fault
//! becomes a 503 ([`store_fault`], [`grant_fault`]), the replies of the client
//! endpoints (RFC 6749 §5.2 with CORS: [`oauth_reply`], [`with_cors`]), our
//! own error page ([`local_error`]), a flow that stops early ([`Denied`]), and
//! the browser's cookies: the sign-in binding and the remembered approvals
//! (RFC 8252 §8.6).

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::http::{Fault, HttpError, Reply};
use crate::oauth::cimd::ClientDocuments;
use crate::oauth::crypto::{self, Entropy, Keyring};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grant::{AuthorizationRequest, GrantError};
pub(crate) use crate::oauth::kv::store_fault;
pub use crate::oauth::kv::RETRY_AFTER_SECS;
use crate::oauth::metadata;
pub use crate::oauth::metadata::with_cors;
use crate::web::{self, cookies};

/// How long a browser remembers what it approved.
pub const APPROVAL_TTL_SECS: u64 = 30 * 86_400;
/// At most this many approvals are remembered per browser.
pub const MAX_APPROVALS: usize = 20;

/// What a flow knows about this deployment and this request.
pub struct Site<'a> {
    pub config: &'a Config,
    /// Our issuer and public origin, byte-identical everywhere.
    pub issuer: &'a str,
    /// The host the request reached (without port).
    pub host: &'a str,
    /// Whether the request came over https (cookies are then `__Host-`, `Secure`).
    pub secure: bool,
    /// The request's `Cookie` header.
    pub cookie_header: Option<&'a str>,
    pub now: u64,
    pub rng: &'a dyn Entropy,
    /// Fetching, caching and checking Client ID Metadata Documents.
    pub documents: &'a dyn ClientDocuments,
    /// This isolate's copies: a flow that changes a grant forgets its access tokens here.
    pub isolate: &'a crate::isolate::Isolate,
}

impl Site<'_> {
    pub(crate) fn ring(&self) -> &Keyring {
        &self.config.keyring
    }
    pub(crate) fn resource(&self) -> String {
        metadata::mcp_resource(self.issuer)
    }
    pub(crate) fn callback_url(&self) -> String {
        format!("{}/callback", self.issuer)
    }
    pub(crate) fn cookie(&self, base: &str) -> Option<&str> {
        cookies::get(self.cookie_header, &cookies::name(base, self.secure))
    }
    pub(crate) fn set_cookie(&self, base: &str, value: &str, max_age: u64) -> String {
        cookies::set(
            &cookies::name(base, self.secure),
            value,
            max_age,
            self.secure,
        )
    }
    pub(crate) fn clear_cookie(&self, base: &str) -> String {
        cookies::clear(&cookies::name(base, self.secure), self.secure)
    }
    /// The value of the cookie that binds a sign-in to the browser that
    /// started it: a random value that never appears in a URL, and a MAC (with
    /// `SECRET_KEY`) over it and the sign-in's `state`. Whoever sees the
    /// callback URL learns the state, but can make no cookie that matches it.
    pub(crate) fn binding_cookie(&self, state: &str) -> Result<String, HttpError> {
        let nonce = self.random()?;
        let tag = self
            .ring()
            .mac("browser-binding", &format!("{nonce}\n{state}"));
        Ok(format!("{nonce}.{tag}"))
    }

    /// Whether the cookie `base` binds `state` to this browser
    /// ([`Site::binding_cookie`]).
    pub(crate) fn binding_holds(&self, base: &str, state: &str) -> bool {
        self.cookie(base)
            .and_then(|c| c.split_once('.'))
            .is_some_and(|(nonce, tag)| {
                self.ring()
                    .mac_holds("browser-binding", &format!("{nonce}\n{state}"), tag)
            })
    }
    pub(crate) fn random(&self) -> Result<String, HttpError> {
        crypto::random_secret(self.rng).map_err(|e| HttpError::internal(Fault::Entropy, e))
    }
    pub(crate) fn random_id(&self) -> Result<String, HttpError> {
        crypto::random_id(self.rng).map_err(|e| HttpError::internal(Fault::Entropy, e))
    }
    /// Sign-in pages set cookies that must be `Secure`: plain http is served to
    /// loopback development only, never to a public host.
    pub(crate) fn refuse_plain_http(&self) -> Option<Reply> {
        (!self.secure && !crate::urls::is_loopback_host(self.host)).then(|| {
            web::message_page(
                400,
                "HTTPS required",
                "Sign-in on this server works over https only. Open the same address with https://.",
            )
        })
    }
}

/// The cookie that binds the sign-in of grant `grant_id` to its browser
/// ([`Site::binding_cookie`]): set when the browser leaves for the identity
/// provider, checked at `/callback`.
pub(crate) fn state_cookie(grant_id: &str) -> String {
    format!("state-{grant_id}")
}

pub(crate) fn grant_fault(e: GrantError) -> HttpError {
    match e {
        GrantError::Unavailable => HttpError::StorageUnavailable {
            retry_after: RETRY_AFTER_SECS,
        },
        other => HttpError::internal(Fault::Impossible, format!("grant object: {other:?}")),
    }
}

/// A sign-in page error, shown on our own page (never redirected).
pub(crate) fn local_error(status: u16, message: &str) -> Reply {
    web::message_page(status, "This sign-in cannot continue", message)
}

/// Why a flow stops before its end: an answer for the client (an error it
/// must hear, already a [`Reply`]), or a fault of ours. A step returns
/// `Result<T, Denied>` instead of a `Result` inside a `Result`.
pub enum Denied {
    /// Sent as it is.
    Reply(Reply),
    /// Storage or another fault: answered by the shell (503 or 500).
    Fault(HttpError),
}

impl From<HttpError> for Denied {
    fn from(e: HttpError) -> Denied {
        Denied::Fault(e)
    }
}

impl Denied {
    /// An RFC 6749 §5.2 error (see [`oauth_reply`]).
    pub fn oauth(error: &OAuthError, basic: bool) -> Denied {
        Denied::Reply(oauth_reply(error, basic))
    }

    /// What the endpoint answers.
    pub fn answer(self) -> Result<Reply, HttpError> {
        match self {
            Denied::Reply(reply) => Ok(reply),
            Denied::Fault(e) => Err(e),
        }
    }
}

/// An error of the client endpoints (`/token`, `/revoke`, `/introspect`):
/// RFC 6749 §5.2's JSON body; with `basic` (the client tried HTTP Basic), a
/// 401 carries the `WWW-Authenticate: Basic` challenge; `temporarily_unavailable`
/// carries `Retry-After`. Always with CORS.
pub(crate) fn oauth_reply(error: &OAuthError, basic: bool) -> Reply {
    let reply = if basic {
        error.to_json_reply_for_basic_auth()
    } else {
        error.to_json_reply()
    };
    let reply = if error.code == ErrorCode::TemporarilyUnavailable {
        reply.header("Retry-After", &RETRY_AFTER_SECS.to_string())
    } else {
        reply
    };
    with_cors(reply)
}

// ---------------------------------------------------------------------------
// Remembered consent (the `approved` cookie)

/// One remembered approval: what a browser allowed, and for which scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Approval {
    /// Hash of (client, redirect URI, resource).
    id: String,
    scope: Vec<String>,
}

fn approval_id(request: &AuthorizationRequest) -> String {
    crypto::hash_token(&format!(
        "{}\n{}\n{}",
        request.client_id, request.redirect_uri, request.resource
    ))[..32]
        .to_owned()
}

fn approvals(site: &Site<'_>) -> Vec<Approval> {
    site.cookie("approved")
        .and_then(|c| site.ring().verify("approvals", c))
        .and_then(|raw| crate::http::json_from_bytes(&raw))
        .unwrap_or_default()
}

/// Whether this browser's approval may later stand in for the consent page
/// (RFC 8252 §8.6; OAuth 2.1 "Client Impersonation"): only for a redirect to
/// an `https` URI on a registrable public host ([`crate::urls::is_registrable_public_https`]),
/// which only that site receives. With a loopback redirect (`http`, or
/// `https://127.0.0.1:PORT`, `https://localhost`), an IP literal or a
/// special-use name any program may be the one listening, and an app's
/// private-use scheme may be claimed by another app, so those get the consent
/// page every time, whether or not the client holds a secret.
pub(crate) fn consent_may_be_remembered(redirect_uri: &str) -> bool {
    crate::urls::Url::parse(redirect_uri)
        .is_ok_and(|u| crate::urls::is_registrable_public_https(&u))
}

/// Consent is remembered only for what was approved: the same client, redirect
/// URI and resource, and no scope beyond the approved ones.
pub(crate) fn already_approved(site: &Site<'_>, request: &AuthorizationRequest) -> bool {
    let id = approval_id(request);
    approvals(site)
        .iter()
        .any(|a| a.id == id && request.scope.iter().all(|s| a.scope.contains(s)))
}

pub(crate) fn remember_approval(
    site: &Site<'_>,
    request: &AuthorizationRequest,
) -> Result<String, HttpError> {
    let id = approval_id(request);
    let mut list = approvals(site);
    let mut scope = request.scope.clone();
    if let Some(at) = list.iter().position(|a| a.id == id) {
        for s in list.remove(at).scope {
            if !scope.contains(&s) {
                scope.push(s);
            }
        }
    }
    list.push(Approval { id, scope });
    let skip = list.len().saturating_sub(MAX_APPROVALS);
    let list: Vec<Approval> = list.into_iter().skip(skip).collect();
    let payload = serde_json::to_vec(&list).map_err(|e| HttpError::internal(Fault::Encoding, e))?;
    Ok(site.set_cookie(
        "approved",
        &site.ring().sign("approvals", &payload),
        APPROVAL_TTL_SECS,
    ))
}
