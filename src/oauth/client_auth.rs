//! Client authentication at `/token`, `/revoke` and `/introspect`, all of it,
//! behind one entry: [`authenticate`] (and [`client_request`], which reads
//! the endpoint's form first).
//!
//! - RFC 6749 §2.3.1: `none` (a public client names itself, PKCE does the
//!   rest), `client_secret_basic` (the `Authorization: Basic` header, both
//!   parts form-urlencoded before base64) and `client_secret_post` (the form),
//!   never two methods at once ([`client_credentials`]); a registered client
//!   is held to the method it registered ([`authenticate_client`]).
//! - RFC 7523 §2.2 and §3: `private_key_jwt`, for clients known by a Client ID
//!   Metadata Document only: the assertion's claims are checked before
//!   anything is fetched, then the document's key verifies its signature and
//!   its `jti` is spent once ([`authenticate_document_client`]).
//! - RFC 7662 §2.1: at `/introspect`, the operator's `Authorization: Bearer
//!   <ADMIN_TOKEN>` ([`is_admin`]), and public clients are refused before
//!   anything is looked up.
//!
//! Who a client is comes from the registrar (`oauth::registrar`). Failures a
//! caller could use to probe stay indistinguishable: an unknown client and a
//! wrong secret get the same `invalid_client`, and a client that tried HTTP
//! Basic gets the `WWW-Authenticate: Basic` challenge with a 401 (RFC 6749 §5.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::keys;
use crate::oauth::cimd::{self, DocumentAuth, DocumentClient, DocumentError, KeySource};
use crate::oauth::crypto;
use crate::oauth::error::OAuthError;
use crate::oauth::kv::Kv;
use crate::oauth::policy;
use crate::oauth::register::{Client, TokenEndpointAuthMethod};
use crate::oauth::registrar::{DocumentClients, RegisteredClients};
use crate::oauth::site::{oauth_reply, Denied, Site};
use crate::oauth::token::{self, TokenForm};
use crate::oauth::types::ClientSecret;

/// The endpoint a client authenticates at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// RFC 6749 §3.2.
    Token,
    /// RFC 7009.
    Revoke,
    /// RFC 7662: the operator may ask too, and public clients may not.
    Introspect,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Token => "/token",
            Endpoint::Revoke => "/revoke",
            Endpoint::Introspect => "/introspect",
        }
    }
}

/// Who proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatedClient {
    /// A client, by its id.
    Client(String),
    /// The operator, with `ADMIN_TOKEN` (at `/introspect` only).
    Operator,
}

/// Authenticates the caller of `endpoint` (RFC 6749 §2.3, §3.2.1; RFC 7523
/// §3; RFC 7662 §2.1) from its `Authorization` header and its form. `Err` is
/// the answer to send: the RFC 6749 §5.2 error, or a storage fault.
pub async fn authenticate(
    site: &Site<'_>,
    store: &dyn Kv,
    endpoint: Endpoint,
    authorization: Option<&str>,
    form: &TokenForm,
) -> Result<AuthenticatedClient, Denied> {
    let basic = authorization.is_some_and(|h| !h.trim().is_empty());
    if endpoint == Endpoint::Introspect {
        if is_admin(site, authorization) {
            return Ok(AuthenticatedClient::Operator);
        }
        // Only a client that can prove who it is (a secret or a signed
        // assertion) may ask. A public client sends its id alone: refused here,
        // before anything is looked up, and so before a metadata document URL
        // could be fetched on its behalf.
        let unproved = !basic
            && form.client_secret.as_deref().is_none_or(str::is_empty)
            && form.client_assertion.as_deref().is_none_or(str::is_empty);
        if unproved {
            return Err(Denied::oauth(
                &OAuthError::invalid_client(
                    "token introspection is for confidential clients; public clients cannot authenticate",
                ),
                basic,
            ));
        }
    }
    let endpoint_url = format!("{}{}", site.issuer, endpoint.path());
    let token_url = format!("{}/token", site.issuer);
    let audiences = [token_url.as_str(), site.issuer, endpoint_url.as_str()];
    let assertion = form.client_assertion.as_deref().filter(|a| !a.is_empty());
    let client_id = match assertion {
        // RFC 7523 §3: client_id is optional next to an assertion; its iss names the client.
        Some(jwt) => {
            if basic || form.client_secret.is_some() {
                let e = OAuthError::invalid_request(
                    "use one client authentication method, not several",
                );
                return Err(Denied::oauth(&e, basic));
            }
            let from_jwt = || {
                cimd::parse_assertion(jwt).ok().and_then(|a| {
                    a.claims
                        .get("iss")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                })
            };
            let Some(id) = form
                .client_id
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(from_jwt)
            else {
                let e = OAuthError::invalid_client(
                    "client authentication is required (client_id is missing)",
                );
                return Err(Denied::oauth(&e, false));
            };
            if !cimd::is_document_client_id(&id) {
                let e = OAuthError::invalid_client(
                    "private_key_jwt is accepted only from clients with a metadata document",
                );
                return Err(Denied::oauth(&e, false));
            }
            // What can be checked without a fetch is checked first: a malformed
            // or expired assertion, or one for another audience, never makes
            // this server fetch the client's document or keys.
            if let Err(m) = cimd::parse_assertion(jwt)
                .and_then(|a| cimd::check_claims(&a, &id, &audiences, site.now))
            {
                return Err(Denied::oauth(&OAuthError::invalid_client(m), false));
            }
            id
        }
        None => {
            let auth =
                client_credentials(authorization, form).map_err(|e| Denied::oauth(&e, basic))?;
            if !cimd::is_document_client_id(auth.client_id()) {
                let client = RegisteredClients(store).get(auth.client_id()).await?;
                authenticate_client(&auth, client.as_ref(), site.now)
                    .map_err(|e| Denied::oauth(&e, basic))?;
                return Ok(AuthenticatedClient::Client(auth.client_id().to_owned()));
            }
            auth.client_id().to_owned()
        }
    };
    // A Client ID Metadata Document client.
    let documents = DocumentClients {
        documents: site.documents,
        now: site.now,
    };
    let document = documents
        .get(&client_id)
        .await
        .map_err(|e| Denied::oauth(&document_error(e), basic))?;
    // Registered clients are refused by their missing record (blocking one
    // deletes it); a document client has no record, so the policy and the
    // block list are asked here (one KV read).
    if let Some(refusal) = policy::check(&site.config.admission, store, &client_id).await? {
        let e =
            OAuthError::unauthorized_client("this server's operator has not allowed this client");
        let line = policy::log_line(endpoint.path(), &client_id, &refusal);
        return Err(Denied::Reply(oauth_reply(&e, basic).logged(line)));
    }
    let presented = Presented {
        secret: basic || form.client_secret.is_some(),
        assertion_type: form.client_assertion_type.as_deref(),
        assertion,
    };
    authenticate_document_client(site, &document, &presented, &audiences)
        .await
        .map_err(|e| Denied::oauth(&e, basic))?;
    Ok(AuthenticatedClient::Client(client_id))
}

/// Reads the form of a client endpoint and authenticates its caller: what
/// `/token`, `/revoke` and `/introspect` all begin with.
pub async fn client_request(
    site: &Site<'_>,
    store: &dyn Kv,
    endpoint: Endpoint,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(TokenForm, AuthenticatedClient), Denied> {
    let form = token::parse_form(content_type, body).map_err(|e| Denied::oauth(&e, false))?;
    let client = authenticate(site, store, endpoint, authorization, &form).await?;
    Ok((form, client))
}

/// Whether `authorization` is `Bearer <ADMIN_TOKEN>` (compared in constant
/// time). Always false when no admin token is configured.
pub fn is_admin(site: &Site<'_>, authorization: Option<&str>) -> bool {
    let Some(expected) = site.config.admin_token.as_ref() else {
        return false;
    };
    let Some(presented) = authorization
        .map(str::trim)
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, rest)| rest.trim())
    else {
        return false;
    };
    crypto::ct_eq(presented, expected.expose())
}

// ---------------------------------------------------------------------------
// Registered clients: RFC 6749 §2.3.1

/// How the client identified itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: only its id (`token_endpoint_auth_method=none`).
    None { client_id: String },
    Basic {
        client_id: String,
        secret: ClientSecret,
    },
    Post {
        client_id: String,
        secret: ClientSecret,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientAuth({:?}, {})", self.method(), self.client_id())
    }
}

impl ClientAuth {
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::None { client_id }
            | ClientAuth::Basic { client_id, .. }
            | ClientAuth::Post { client_id, .. } => client_id,
        }
    }

    pub fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            ClientAuth::None { .. } => TokenEndpointAuthMethod::None,
            ClientAuth::Basic { .. } => TokenEndpointAuthMethod::ClientSecretBasic,
            ClientAuth::Post { .. } => TokenEndpointAuthMethod::ClientSecretPost,
        }
    }
}

/// Reads the client's credentials from the `Authorization` header or the form
/// (RFC 6749 §2.3.1). Using more than one method at once is an error.
pub fn client_credentials(
    authorization: Option<&str>,
    form: &TokenForm,
) -> Result<ClientAuth, OAuthError> {
    if let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) {
        // RFC 7235 §2.1: the scheme name is case-insensitive.
        let encoded = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, rest)| rest);
        let Some(encoded) = encoded else {
            return Err(OAuthError::invalid_client(
                "only HTTP Basic client authentication is accepted in the Authorization header",
            ));
        };
        if form.client_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not several",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let id = form_decode(id)?;
        let secret = form_decode(secret)?;
        if let Some(body_id) = &form.client_id {
            if body_id != &id {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
        }
        return Ok(ClientAuth::Basic {
            client_id: id,
            secret: ClientSecret::new(secret),
        });
    }
    let client_id = form
        .client_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_client("client authentication is required (client_id is missing)")
        })?;
    Ok(match form.client_secret.clone() {
        Some(secret) => ClientAuth::Post {
            client_id,
            secret: ClientSecret::new(secret),
        },
        None => ClientAuth::None { client_id },
    })
}

fn form_decode(raw: &str) -> Result<String, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={raw}"))
        .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
    Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
}

/// Authenticates the client against its registration (RFC 6749 §3.2.1). Unknown
/// and expired clients get `invalid_client` (401), which makes MCP clients
/// register again.
pub fn authenticate_client(
    auth: &ClientAuth,
    client: Option<&Client>,
    now: u64,
) -> Result<(), OAuthError> {
    let Some(client) = client.filter(|c| !c.is_expired(now)) else {
        return Err(OAuthError::invalid_client(
            "unknown or expired client; register again",
        ));
    };
    if client.token_endpoint_auth_method != auth.method() {
        return Err(OAuthError::invalid_client(format!(
            "this client registered token_endpoint_auth_method={}",
            client.token_endpoint_auth_method.as_str()
        )));
    }
    match auth {
        ClientAuth::None { .. } => Ok(()),
        ClientAuth::Basic { secret, .. } | ClientAuth::Post { secret, .. } => {
            if client.secret_matches(secret.secret()) {
                Ok(())
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Document clients: `none` or private_key_jwt (RFC 7523 §2.2, §3)

/// The credentials a document client presented.
pub struct Presented<'a> {
    /// A `client_secret` (form or Basic) was sent.
    pub secret: bool,
    pub assertion_type: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

/// Authenticates a document client (RFC 6749 §2.3, RFC 7523 §3). `audiences`
/// are the `aud` values accepted (the token endpoint's URL, the issuer, the
/// endpoint's URL).
pub async fn authenticate_document_client(
    site: &Site<'_>,
    client: &DocumentClient,
    presented: &Presented<'_>,
    audiences: &[&str],
) -> Result<(), OAuthError> {
    let (docs, now) = (site.documents, site.now);
    let client_id = client.client.client_id.as_str();
    if presented.secret {
        return Err(OAuthError::invalid_client(
            "this client is known by its metadata document and has no client secret",
        ));
    }
    let Some(jwt) = presented.assertion else {
        if presented.assertion_type.is_some() {
            return Err(OAuthError::invalid_request(
                "client_assertion_type was sent without client_assertion",
            ));
        }
        return if client.allows(DocumentAuth::None) {
            Ok(())
        } else {
            Err(OAuthError::invalid_client(
                "this client's metadata document requires private_key_jwt authentication",
            ))
        };
    };
    if presented.assertion_type != Some(cimd::JWT_BEARER) {
        return Err(OAuthError::invalid_client(format!(
            "client_assertion_type must be {}",
            cimd::JWT_BEARER
        )));
    }
    if !client.allows(DocumentAuth::PrivateKeyJwt) {
        return Err(OAuthError::invalid_client(
            "this client's metadata document does not list private_key_jwt",
        ));
    }
    let assertion = cimd::parse_assertion(jwt).map_err(OAuthError::invalid_client)?;
    let (jti, exp) = cimd::check_claims(&assertion, client_id, audiences, now)
        .map_err(OAuthError::invalid_client)?;
    let (alg, kid) = (assertion.alg, assertion.kid.as_deref());
    let key = match &client.keys {
        None => {
            return Err(OAuthError::invalid_client(
                "this client's metadata document has neither jwks nor jwks_uri",
            ))
        }
        Some(KeySource::Inline(set)) => {
            cimd::select_key(set, alg, kid).map_err(OAuthError::invalid_client)?
        }
        Some(KeySource::Uri(uri)) => {
            let set = cimd::jwks(docs, uri, now, false)
                .await
                .map_err(document_error)?;
            match cimd::select_key(&set, alg, kid) {
                Ok(k) => k,
                // The client may have rotated its keys since we cached the set:
                // fetch again, but at most once per JWKS_REFETCH_SECS, so an
                // unknown `kid` cannot make this server fetch on every request.
                Err(e) if docs.cache().borrow().jwks_fetched.get(uri, now).is_some() => {
                    return Err(OAuthError::invalid_client(e));
                }
                Err(_) => {
                    let set = cimd::jwks(docs, uri, now, true)
                        .await
                        .map_err(document_error)?;
                    cimd::select_key(&set, alg, kid).map_err(OAuthError::invalid_client)?
                }
            }
        }
    };
    let valid = docs
        .verify_signature(alg, &key, assertion.signed.as_bytes(), &assertion.signature)
        .await
        .map_err(|_| OAuthError::invalid_client("the client's key could not be used"))?;
    if !valid {
        return Err(OAuthError::invalid_client(
            "the client_assertion's signature does not verify",
        ));
    }
    // Only a verified assertion spends its jti, so a forgery cannot burn one.
    match docs
        .first_use(&keys::assertion_replay(client_id, &jti), exp)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(OAuthError::invalid_client(
            "this client_assertion was already used (jti replay)",
        )),
        Err(_) => Err(OAuthError::temporarily_unavailable(
            "the assertion could not be checked for replay; try again",
        )),
    }
}

/// How a document failure is answered at the client endpoints.
pub fn document_error(e: DocumentError) -> OAuthError {
    match e {
        DocumentError::Unavailable(m) => OAuthError::temporarily_unavailable(m),
        DocumentError::Invalid(m) => OAuthError::invalid_client(m),
    }
}

/// The `client_id` a /token, /revoke or /introspect request names, for the
/// rate limiter's per-client counter (`crate::ratelimit`), from HTTP Basic
/// credentials or the form, read exactly as the endpoint will read it. `None`
/// when the request names none (it is then refused by the endpoint anyway, and
/// counted per IP only).
pub fn claimed_client_id(
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<String> {
    let form = token::parse_form(content_type, body).unwrap_or_default();
    // RFC 7523 §3: a client that authenticates by assertion alone is named by
    // the assertion's `iss` (read, not verified: only a counter's key), so it
    // is counted per client like any other.
    let by_assertion = || {
        let jwt = form.client_assertion.as_deref().filter(|a| !a.is_empty())?;
        let assertion = cimd::parse_assertion(jwt).ok()?;
        assertion
            .claims
            .get("iss")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    client_credentials(authorization, &form)
        .ok()
        .map(|auth| auth.client_id().to_owned())
        .or_else(by_assertion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_read_from_the_form_or_basic_credentials() {
        let form = Some("application/x-www-form-urlencoded");
        assert_eq!(
            claimed_client_id(None, form, b"grant_type=refresh_token&client_id=abc"),
            Some("abc".into())
        );
        // base64("my%20id:secret")
        assert_eq!(
            claimed_client_id(Some("Basic bXklMjBpZDpzZWNyZXQ="), form, b"grant_type=x"),
            Some("my id".into())
        );
        assert_eq!(claimed_client_id(None, form, b"grant_type=x"), None);
        assert_eq!(
            claimed_client_id(None, Some("text/plain"), b"client_id=abc"),
            None
        );
        assert_eq!(
            claimed_client_id(Some("Bearer x"), form, b"client_id=abc"),
            None
        );
    }
}
