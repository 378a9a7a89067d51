//! Dynamic Client Registration.
//!
//! - [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2): client metadata,
//!   defaults and the `grant_types`/`response_types` consistency rule (§2.1).
//! - [RFC 7591 §3.1](https://datatracker.ietf.org/doc/html/rfc7591#section-3.1): the request.
//! - [RFC 7591 §3.2.1](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.1): the response.
//! - [RFC 7591 §3.2.2](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2): errors.
//!
//! RFC 7592 (client management) is not implemented, so responses carry no
//! `registration_client_uri` or `registration_access_token`: a client that sees
//! them will try to use them.
//!
//! Decisions where the RFC leaves room or real clients disagree with it:
//! - `token_endpoint_auth_method` defaults to `client_secret_basic`, as RFC 7591 §2
//!   says. MCP clients that cannot keep a secret send `none` explicitly, and one
//!   that relies on the default gets a secret and is told so in the response.
//! - `refresh_token` is always added to `grant_types`: every authorization code
//!   grant here yields a refresh token, and the response echoes the effective list
//!   (RFC 7591 §3.2.1 lets the server replace requested values).
//! - JSON `null` and, for optional strings, `""` count as absent: some clients
//!   send them for metadata they do not have.
//! - Duplicate redirect URIs and scopes are dropped, keeping the first occurrence.
//!
//! Storage (so open registration cannot grow storage or spend the KV write
//! budget without bound):
//! - A **public** registration (`none`) gets a `client_id` derived from the
//!   registration itself, `HMAC(SECRET_KEY, canonical metadata)` ([`public_client_id`]).
//!   The same body registered again finds the stored record with one KV read
//!   and returns it unchanged (same `client_id`, same `client_id_issued_at`)
//!   without a write. MCP clients such as Claude register again on every
//!   connection, so this is the common case. A `client_id` of a public client
//!   is not a credential, and two registrations with the same redirect URIs and
//!   metadata are indistinguishable to us anyway.
//! - **Renewal happens at registration.** A re-registration that finds its
//!   client in the second half of its lifetime (`CLIENT_TTL`) writes the record
//!   back with a fresh lifetime: that is the registration's one write. Renewing
//!   on use at `/token` would be a second KV write per code redemption or
//!   refresh, and `/authorize`, `/callback` and `/mcp` write nothing, so those
//!   are not the place. A client whose registration expired gets `401
//!   invalid_client` at `/token` and registers again; a public client then gets
//!   the same `client_id` back, so its grants keep working.
//! - A **confidential** registration always creates a new client with a new
//!   secret (one write): a secret is shown once and cannot be handed out again.
//!   It expires at `client_secret_expires_at` and is not renewed.

use super::error::OAuthError;
use super::redirect::{validate_redirect_uri, RedirectUri};
use crate::user::ALL_SCOPES;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// Largest registration body we read. Real registrations are under 1 KiB.
pub const MAX_REGISTRATION_BODY: usize = 16 * 1024;
/// Most redirect URIs one client may register (Cursor registers three).
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest `client_name`, `software_id` and `software_version`, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Longest `client_uri`, `logo_uri`, `tos_uri` and `policy_uri`.
pub const MAX_METADATA_URI_LEN: usize = 2000;

/// How a client authenticates at the token endpoint.
///
/// See [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A public client: no secret, PKCE only.
    None,
    /// Secret in the `Authorization: Basic` header (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// Secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::None => "none",
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(value: &str) -> Option<TokenEndpointAuthMethod> {
        match value {
            "none" => Some(TokenEndpointAuthMethod::None),
            "client_secret_basic" => Some(TokenEndpointAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(TokenEndpointAuthMethod::ClientSecretPost),
            _ => None,
        }
    }
}

/// A grant type a client may use at the token endpoint.
///
/// See [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// [RFC 6749 §4.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1)
    AuthorizationCode,
    /// [RFC 6749 §6](https://datatracker.ietf.org/doc/html/rfc6749#section-6)
    RefreshToken,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(value: &str) -> Option<GrantType> {
        match value {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            _ => None,
        }
    }
}

/// A `response_type` a client may use at the authorization endpoint; OAuth 2.1
/// keeps only `code`.
///
/// See [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    /// [RFC 6749 §4.1.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.1)
    Code,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
        }
    }
}

/// The client metadata we read from a registration request, before validation.
/// Fields we do not use (`contacts`, `jwks`, localized names, ...) are ignored.
///
/// See [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub scope: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

impl RegistrationRequest {
    /// Reads a request body. Anything that is not a JSON object, or a field of
    /// the wrong JSON type, is `invalid_client_metadata` naming the field.
    pub fn from_json(body: &[u8]) -> Result<RegistrationRequest, OAuthError> {
        if body.len() > MAX_REGISTRATION_BODY {
            return Err(OAuthError::invalid_client_metadata(format!(
                "the registration request is larger than {MAX_REGISTRATION_BODY} bytes"
            )));
        }
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            OAuthError::invalid_client_metadata("the registration request body is not valid JSON")
        })?;
        RegistrationRequest::from_value(&value)
    }

    /// As [`RegistrationRequest::from_json`], for an already parsed document.
    pub fn from_value(value: &Value) -> Result<RegistrationRequest, OAuthError> {
        let Value::Object(object) = value else {
            return Err(OAuthError::invalid_client_metadata(
                "the registration request must be a JSON object (RFC 7591 section 3.1)",
            ));
        };
        Ok(RegistrationRequest {
            redirect_uris: string_array(object, "redirect_uris")?,
            token_endpoint_auth_method: string(object, "token_endpoint_auth_method")?,
            grant_types: string_array(object, "grant_types")?,
            response_types: string_array(object, "response_types")?,
            client_name: string(object, "client_name")?,
            client_uri: string(object, "client_uri")?,
            logo_uri: string(object, "logo_uri")?,
            tos_uri: string(object, "tos_uri")?,
            policy_uri: string(object, "policy_uri")?,
            scope: string(object, "scope")?,
            software_id: string(object, "software_id")?,
            software_version: string(object, "software_version")?,
        })
    }
}

fn string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, OAuthError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be a string"
        ))),
    }
}

fn string_array(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    let wrong =
        || OAuthError::invalid_client_metadata(format!("{field} must be an array of strings"));
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}

/// Registration metadata that passed every rule, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRegistration {
    pub redirect_uris: Vec<RedirectUri>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    /// Space-separated, each a member of [`ALL_SCOPES`], without duplicates.
    pub scope: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

impl ValidatedRegistration {
    /// Whether the client gets no secret (`token_endpoint_auth_method: none`).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }
}

/// Applies the RFC 7591 §2 rules and our limits to a registration request.
pub fn validate(req: RegistrationRequest) -> Result<ValidatedRegistration, OAuthError> {
    let redirect_uris = validate_redirect_uris(req.redirect_uris)?;

    let token_endpoint_auth_method = match non_empty(req.token_endpoint_auth_method) {
        None => TokenEndpointAuthMethod::ClientSecretBasic,
        Some(m) => TokenEndpointAuthMethod::parse(&m).ok_or_else(|| {
            OAuthError::invalid_client_metadata(format!(
                "token_endpoint_auth_method '{m}' is not supported; use none, client_secret_basic or client_secret_post"
            ))
        })?,
    };

    let requested_grants = match req.grant_types {
        None => vec![GrantType::AuthorizationCode],
        Some(names) => names
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| {
                    OAuthError::invalid_client_metadata(format!(
                        "grant type '{g}' is not supported; use authorization_code and refresh_token"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if !requested_grants.contains(&GrantType::AuthorizationCode) {
        return Err(OAuthError::invalid_client_metadata(
            "grant_types must include authorization_code",
        ));
    }
    let grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];

    let response_types = match req.response_types {
        None => vec![ResponseType::Code],
        Some(names) => {
            if let Some(other) = names.iter().find(|r| r.as_str() != "code") {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "response type '{other}' is not supported; use code"
                )));
            }
            if names.is_empty() {
                Vec::new()
            } else {
                vec![ResponseType::Code]
            }
        }
    };
    // RFC 7591 §2.1: the authorization_code grant is used with response type code.
    if !response_types.contains(&ResponseType::Code) {
        return Err(OAuthError::invalid_client_metadata(
            "response_types must include code when grant_types includes authorization_code (RFC 7591 section 2.1)",
        ));
    }

    Ok(ValidatedRegistration {
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        client_name: short_text(req.client_name, "client_name")?,
        client_uri: https_uri(req.client_uri, "client_uri")?,
        logo_uri: https_uri(req.logo_uri, "logo_uri")?,
        tos_uri: https_uri(req.tos_uri, "tos_uri")?,
        policy_uri: https_uri(req.policy_uri, "policy_uri")?,
        scope: validate_scope(req.scope)?,
        software_id: short_text(req.software_id, "software_id")?,
        software_version: short_text(req.software_version, "software_version")?,
    })
}

fn validate_redirect_uris(uris: Option<Vec<String>>) -> Result<Vec<RedirectUri>, OAuthError> {
    let uris = uris.unwrap_or_default();
    if uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uris is required and must list at least one URI",
        ));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "at most {MAX_REDIRECT_URIS} redirect_uris may be registered"
        )));
    }
    let mut valid: Vec<RedirectUri> = Vec::with_capacity(uris.len());
    for (i, uri) in uris.iter().enumerate() {
        let uri = validate_redirect_uri(uri).map_err(|e| {
            OAuthError::invalid_redirect_uri(format!("redirect_uris[{i}]: {}", e.description))
        })?;
        if !valid.contains(&uri) {
            valid.push(uri);
        }
    }
    Ok(valid)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn short_text(value: Option<String>, field: &str) -> Result<Option<String>, OAuthError> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_NAME_LEN {
        return Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be at most {MAX_NAME_LEN} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "{field} must not contain control characters"
        )));
    }
    // Bidi overrides and zero-width characters make a name read as another.
    if text.chars().any(crate::idn::is_format_char) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "{field} must not contain invisible formatting characters (Unicode Cf)"
        )));
    }
    Ok(Some(text))
}

/// Informational URIs are shown or linked on the consent page, so only `https`
/// is accepted: no `javascript:` links, no mixed content, no userinfo that
/// disguises the real host.
fn https_uri(value: Option<String>, field: &str) -> Result<Option<String>, OAuthError> {
    let Some(uri) = non_empty(value) else {
        return Ok(None);
    };
    let refuse = || {
        OAuthError::invalid_client_metadata(format!(
            "{field} must be an https URL of at most {MAX_METADATA_URI_LEN} characters without user information"
        ))
    };
    if uri.len() > MAX_METADATA_URI_LEN || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refuse());
    }
    let parsed = crate::urls::parse_strict(&uri, field).map_err(|_| refuse())?;
    let https_with_host =
        parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| !h.is_empty());
    if !https_with_host
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || uri.split_once("://").is_some_and(|(_, rest)| {
            rest.split(['/', '?', '#'])
                .next()
                .unwrap_or_default()
                .contains('@')
        })
    {
        return Err(refuse());
    }
    Ok(Some(uri))
}

fn validate_scope(scope: Option<String>) -> Result<Option<String>, OAuthError> {
    let Some(scope) = non_empty(scope) else {
        return Ok(None);
    };
    let mut kept: Vec<&str> = Vec::new();
    // RFC 6749 §3.3: scope tokens are separated by single spaces; extra spaces
    // are tolerated rather than turned into empty scopes.
    // A scope this server does not know is dropped (RFC 7591 §3.2.1 lets the
    // server replace requested values; the response says what was kept), as
    // at /authorize: clients copy scope lists between servers.
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if !ALL_SCOPES.contains(&token) {
            continue;
        }
        if !kept.contains(&token) {
            kept.push(token);
        }
    }
    Ok(if kept.is_empty() {
        None
    } else {
        Some(kept.join(" "))
    })
}

/// A registered client, as stored (JSON) under its `client_id`.
///
/// The secret itself is never stored, only its SHA-256: a secret is 256 random
/// bits, so a fast hash is enough, and a storage dump does not yield credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    /// Lowercase hex SHA-256 of the client secret; `None` for public clients.
    pub client_secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; 0 means never (the RFC 7591 §3.2.1 convention).
    pub expires_at: u64,
}

impl Client {
    /// The record for a new registration. `ttl_secs == 0` makes a client that
    /// never expires. A secret hash given for a public client is dropped: such a
    /// client never authenticates, and a stray hash would make it look confidential.
    pub fn from_registration(
        validated: ValidatedRegistration,
        client_id: String,
        secret_hash: Option<String>,
        now: u64,
        ttl_secs: u64,
    ) -> Client {
        let public = validated.is_public();
        Client {
            client_id,
            client_secret_hash: if public { None } else { secret_hash },
            redirect_uris: validated
                .redirect_uris
                .into_iter()
                .map(RedirectUri::into_string)
                .collect(),
            client_name: validated.client_name,
            client_uri: validated.client_uri,
            logo_uri: validated.logo_uri,
            tos_uri: validated.tos_uri,
            policy_uri: validated.policy_uri,
            token_endpoint_auth_method: validated.token_endpoint_auth_method,
            grant_types: validated.grant_types,
            response_types: validated.response_types,
            scope: validated.scope,
            software_id: validated.software_id,
            software_version: validated.software_version,
            created_at: now,
            expires_at: if ttl_secs == 0 {
                0
            } else {
                now.saturating_add(ttl_secs)
            },
        }
    }

    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }

    /// Whether `presented` is this client's secret, compared in constant time.
    /// A client without a stored hash has no secret that could match.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.client_secret_hash {
            Some(stored) => {
                let presented = client_secret_hash(presented);
                presented.as_bytes().ct_eq(stored.as_bytes()).into()
            }
            None => false,
        }
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The `client_id` of a public registration: derived from every metadata
/// value as validated (so two bodies that differ only in spelling the server
/// normalizes, such as a duplicated redirect URI, share a client), under the
/// server's key. 22 base64url characters, like a random id.
pub fn public_client_id(validated: &ValidatedRegistration, server_secret: &str) -> String {
    super::crypto::keyed_id(
        server_secret,
        "public-client-v1",
        canonical_metadata(validated).as_bytes(),
    )
}

/// The key public client ids are derived with: stable across `SECRET_KEY`
/// rotations (a public client id is no secret: anyone who registers the same
/// metadata gets it), distinct per deployment (its issuer).
pub fn stable_id_key(issuer: &str) -> String {
    format!("public-client-ids\n{issuer}")
}

/// Every registered value in a fixed order, as one JSON array.
fn canonical_metadata(v: &ValidatedRegistration) -> String {
    let uris: Vec<&str> = v.redirect_uris.iter().map(RedirectUri::as_str).collect();
    let grants: Vec<&str> = v.grant_types.iter().map(|g| g.as_str()).collect();
    let responses: Vec<&str> = v.response_types.iter().map(|r| r.as_str()).collect();
    serde_json::json!([
        uris,
        v.token_endpoint_auth_method.as_str(),
        grants,
        responses,
        v.client_name,
        v.client_uri,
        v.logo_uri,
        v.tos_uri,
        v.policy_uri,
        v.scope,
        v.software_id,
        v.software_version,
    ])
    .to_string()
}

/// The outcome of a registration: the client to answer with, the secret to show
/// (confidential clients, once), and whether its record must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
    /// `true`: store `client` (a new client, or a renewal). `false`: it is stored
    /// already and nothing is written.
    pub write: bool,
}

impl Registered {
    /// The RFC 7591 §3.2.1 response body.
    pub fn response(&self) -> Value {
        registration_response(&self.client, self.secret.as_deref())
    }
}

/// A public registration, given what storage holds under its derived id
/// ([`public_client_id`]). Returns the stored client unchanged when it is the
/// same registration in the first half of its lifetime; renews it in the
/// second half; creates it otherwise (nothing stored, expired, or a record
/// that is not this registration).
pub fn register_public(
    validated: ValidatedRegistration,
    client_id: String,
    stored: Option<Client>,
    now: u64,
    ttl_secs: u64,
) -> Registered {
    let fresh = Client::from_registration(validated, client_id, None, now, ttl_secs);
    let (client, write) = match stored {
        Some(existing) if existing.same_registration(&fresh) && !existing.is_expired(now) => {
            if existing.in_second_half(now, ttl_secs) {
                let mut renewed = existing;
                renewed.expires_at = fresh.expires_at;
                (renewed, true)
            } else {
                (existing, false)
            }
        }
        _ => (fresh, true),
    };
    Registered {
        client,
        secret: None,
        write,
    }
}

/// A confidential registration: always a new client (random id) and secret.
pub fn register_confidential(
    validated: ValidatedRegistration,
    client_id: String,
    secret: String,
    now: u64,
    ttl_secs: u64,
) -> Registered {
    let hash = client_secret_hash(&secret);
    Registered {
        client: Client::from_registration(validated, client_id, Some(hash), now, ttl_secs),
        secret: Some(secret),
        write: true,
    }
}

impl Client {
    /// Whether `other` registered exactly the same metadata (ids, secrets and
    /// times aside).
    pub fn same_registration(&self, other: &Client) -> bool {
        let strip = |c: &Client| Client {
            client_id: String::new(),
            client_secret_hash: None,
            created_at: 0,
            expires_at: 0,
            ..c.clone()
        };
        self.client_secret_hash.is_none()
            && other.client_secret_hash.is_none()
            && strip(self) == strip(other)
    }

    /// Whether less than half of a `ttl_secs` lifetime is left (never, for a
    /// client that does not expire).
    pub fn in_second_half(&self, now: u64, ttl_secs: u64) -> bool {
        self.expires_at != 0 && self.expires_at.saturating_sub(now) < ttl_secs / 2
    }
}

/// Lowercase hex SHA-256 of a client secret, the form [`Client`] stores.
pub fn client_secret_hash(secret: &str) -> String {
    crate::oauth::crypto::hash_token(secret)
}

/// The body of a successful registration (RFC 7591 §3.2.1): the issued
/// credentials and every metadata value as registered, including the defaults
/// and replacements the server applied.
pub fn registration_response(client: &Client, client_secret: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("client_id".into(), client.client_id.clone().into());
    out.insert("client_id_issued_at".into(), client.created_at.into());
    if let Some(secret) = client_secret {
        out.insert("client_secret".into(), secret.into());
        // REQUIRED whenever a secret is issued; 0 means it does not expire.
        out.insert("client_secret_expires_at".into(), client.expires_at.into());
    }
    out.insert(
        "redirect_uris".into(),
        client
            .redirect_uris
            .iter()
            .map(|u| Value::from(u.as_str()))
            .collect(),
    );
    out.insert(
        "token_endpoint_auth_method".into(),
        client.token_endpoint_auth_method.as_str().into(),
    );
    out.insert(
        "grant_types".into(),
        client
            .grant_types
            .iter()
            .map(|g| Value::from(g.as_str()))
            .collect(),
    );
    out.insert(
        "response_types".into(),
        client
            .response_types
            .iter()
            .map(|r| Value::from(r.as_str()))
            .collect(),
    );
    let optional = [
        ("client_name", &client.client_name),
        ("client_uri", &client.client_uri),
        ("logo_uri", &client.logo_uri),
        ("tos_uri", &client.tos_uri),
        ("policy_uri", &client.policy_uri),
        ("scope", &client.scope),
        ("software_id", &client.software_id),
        ("software_version", &client.software_version),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            out.insert(name.into(), value.as_str().into());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_is_lowercase_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 Appendix B.1.
        assert_eq!(
            client_secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn stored_enums_use_the_rfc_strings() {
        let json = serde_json::to_value((
            TokenEndpointAuthMethod::ClientSecretPost,
            GrantType::RefreshToken,
            ResponseType::Code,
        ))
        .ok();
        assert_eq!(
            json,
            Some(serde_json::json!([
                "client_secret_post",
                "refresh_token",
                "code"
            ]))
        );
    }
}
