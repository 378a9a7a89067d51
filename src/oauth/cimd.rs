//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2026-07-28 "Client Registration"): a client whose `client_id` is an
//! `https` URL publishes its metadata at that URL, and this server fetches it
//! instead of asking the client to register.
//!
//! - [`check_client_id_url`]: what a `client_id` URL may look like (https, a
//!   path, no fragment, no userinfo, no dot segments; a query is allowed).
//! - [`validate_document`]: the fetched document's rules (its `client_id` byte
//!   equal to the URL, a `client_name`, `redirect_uris` checked as at
//!   registration, no secret, authentication methods intersected with ours).
//! - [`cache_ttl`] and [`DocumentCache`]: validated documents (and JWKS) are
//!   kept per isolate for their `Cache-Control` lifetime, clamped to
//!   [`MIN_CACHE_SECS`, `MAX_CACHE_SECS`]; failures are never kept.
//! - [`resolve`]: fetch (through [`ClientDocuments`], the platform's side),
//!   validate, cache.
//! - [`parse_assertion`], [`check_claims`], [`select_key`]: a `private_key_jwt`
//!   assertion (RFC 7523 §2.2 and §3) and the key that verifies it; the
//!   authentication itself is `oauth::client_auth`'s, and the platform checks
//!   the signature with WebCrypto.
//!
//! Before any fetch, the URL passes the outbound policy in code
//! ([`crate::urls::client_fetch_target`]: no IP literal in any notation, no
//! loopback or special-use name, port 443 only) and a per-host meter
//! ([`FETCHES_PER_HOST`] per [`FETCH_WINDOW_SECS`] per isolate). The platform
//! fetches with redirects off, a size cap ([`MAX_DOCUMENT_BYTES`]) and a
//! timeout. Every fetch failure answers with one message ([`FETCH_FAILED`]);
//! the detail goes to the log. An answer must be served as JSON.

use std::cell::RefCell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

pub use crate::cache::TtlCache;
use crate::oauth::redirect::{validate_redirect_uri, RedirectUri};
use crate::oauth::register::{
    Client, GrantType, ResponseType, TokenEndpointAuthMethod, MAX_NAME_LEN, MAX_REDIRECT_URIS,
};
use crate::outbound::LocalBoxFuture;

/// Largest document (or JWKS) read; the draft suggests about 5 KB.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetch may take, in milliseconds.
pub const FETCH_TIMEOUT_MS: u32 = 3_000;
/// A validated document is kept at least this long, whatever its headers say,
/// so a client's burst of requests does not fetch it again each time.
pub const MIN_CACHE_SECS: u64 = 60;
/// And at most this long.
pub const MAX_CACHE_SECS: u64 = 86_400;
/// Without `max-age`.
pub const DEFAULT_CACHE_SECS: u64 = 300;
/// Documents (and JWKS) kept per isolate.
pub const CACHE_ENTRIES: usize = 64;
/// Longest `client_id` URL accepted.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2000;
/// An assertion's `exp` may be at most this far ahead (RFC 7523 §3 "short").
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;
/// Clock skew tolerated on `iat`/`nbf`.
pub const CLOCK_SKEW_SECS: u64 = 60;
/// Longest assertion read.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;
/// RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Whether `client_id` names a metadata document rather than a registration.
/// Ids we issue are base64url, so anything with a scheme separator is a URL
/// attempt (and an `http` one is then refused with a clear message).
pub fn is_document_client_id(client_id: &str) -> bool {
    client_id.contains("://")
}

/// The draft's rules for the `client_id` URL (checked on its WHATWG parse,
/// [`crate::urls::check_client_id_url`]), then the outbound policy
/// ([`crate::urls::client_fetch_target`]): a URL this server would not fetch is
/// refused before anything is fetched.
pub fn check_client_id_url(raw: &str) -> Result<crate::urls::Url, String> {
    let url = crate::urls::check_client_id_url(raw, MAX_CLIENT_ID_URL_LEN)
        .map_err(|e| e.replacen("the URL", "the client_id URL", 1))?;
    crate::urls::client_fetch_target(&url)
        .map_err(|e| format!("this server does not fetch the client_id URL: {e}"))?;
    Ok(url)
}

/// The host of a `client_id` URL, as shown on the consent page: the host this
/// server fetched the document from over https, in the form the fetch used
/// (punycode, with an IDN's Unicode beside it, marked).
pub fn client_id_host(client_id: &str) -> Option<String> {
    let url = crate::urls::Url::parse(client_id).ok()?;
    let host = crate::urls::display_host(&url)?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Whether the document lives on a host where anyone can publish one
/// ([`crate::urls::SHARED_CONTENT_HOSTS`]): then the host vouches for nobody.
pub fn is_shared_content(client_id: &str) -> bool {
    crate::urls::Url::parse(client_id).is_ok_and(|u| crate::urls::is_shared_content_host(&u))
}

/// Authentication methods built on a shared secret: the draft says a
/// document MUST NOT list them (its URL is public; there is nowhere to keep a secret).
pub const SYMMETRIC_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2,
/// §6.3.2, §6.4.1): a document or JWKS that carries one is refused.
pub const PRIVATE_KEY_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// `Err` when a key set carries private key material or a symmetric key.
pub fn check_public_keys(set: &Value, what: &str) -> Result<(), String> {
    let Some(keys) = set.get("keys").and_then(Value::as_array) else {
        return Err(format!("{what} has no keys array"));
    };
    for (i, key) in keys.iter().enumerate() {
        if let Some(m) = PRIVATE_KEY_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(format!(
                "{what} key {i} carries the private member '{m}': publish public keys only"
            ));
        }
        if key.get("kty").and_then(Value::as_str) == Some("oct") {
            return Err(format!("{what} key {i} is a symmetric ('oct') key"));
        }
    }
    Ok(())
}

/// Whether a `Content-Type` is JSON: `application/json` or any `+json` type.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > 5)
}

/// A token endpoint authentication method a document client may use here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentAuth {
    None,
    PrivateKeyJwt,
}

/// Where a document client's signing keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// `jwks`: inline.
    Inline(Value),
    /// `jwks_uri`: fetched under the same limits as documents.
    Uri(String),
}

/// A client known from its metadata document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentClient {
    /// Public, keyed on the `client_id` URL; `client_uri` and `logo_uri` are
    /// never taken from a document.
    pub client: Client,
    /// The document's methods that this server supports, in its order.
    pub auth_methods: Vec<DocumentAuth>,
    pub keys: Option<KeySource>,
}

impl DocumentClient {
    pub fn allows(&self, method: DocumentAuth) -> bool {
        self.auth_methods.contains(&method)
    }
}

fn short_text(value: &str, field: &str) -> Result<String, String> {
    if value.chars().count() > MAX_NAME_LEN {
        return Err(format!("{field} must be at most {MAX_NAME_LEN} characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() || crate::idn::is_format_char(c))
    {
        return Err(format!(
            "{field} must not contain control or invisible formatting characters"
        ));
    }
    Ok(value.to_owned())
}

fn string_list(object: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{field} must be an array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{field} must be an array of strings")),
    }
}

fn text(object: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

/// Validates a fetched document for the `client_id` URL it was fetched from.
/// `Err` says, for a person, what is wrong with it.
pub fn validate_document(url: &str, body: &[u8], now: u64) -> Result<DocumentClient, String> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "the document is not valid JSON".to_owned())?;
    let Value::Object(doc) = value else {
        return Err("the document is not a JSON object".into());
    };
    match doc.get("client_id") {
        Some(Value::String(id)) if id.as_bytes() == url.as_bytes() => {}
        Some(Value::String(_)) => {
            return Err("the document's client_id differs from the URL it was fetched from".into())
        }
        _ => return Err("the document has no client_id".into()),
    }
    for field in ["client_secret", "client_secret_expires_at"] {
        if doc.contains_key(field) {
            return Err(format!(
                "the document holds {field}: a metadata document must not carry a secret"
            ));
        }
    }
    let client_name = match text(&doc, "client_name")? {
        Some(n) if !n.trim().is_empty() => short_text(&n, "client_name")?,
        _ => return Err("the document has no client_name".into()),
    };
    let uris = string_list(&doc, "redirect_uris")?.unwrap_or_default();
    if uris.is_empty() {
        return Err("the document lists no redirect_uris".into());
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "the document lists more than {MAX_REDIRECT_URIS} redirect_uris"
        ));
    }
    let mut redirect_uris: Vec<String> = Vec::with_capacity(uris.len());
    for (i, uri) in uris.iter().enumerate() {
        let valid = validate_redirect_uri(uri)
            .map_err(|e| format!("redirect_uris[{i}]: {}", e.description))?;
        let valid = RedirectUri::into_string(valid);
        if !redirect_uris.contains(&valid) {
            redirect_uris.push(valid);
        }
    }
    if let Some(grants) = string_list(&doc, "grant_types")? {
        if !grants.iter().any(|g| g == "authorization_code") {
            return Err("grant_types must include authorization_code".into());
        }
    }
    if let Some(types) = string_list(&doc, "response_types")? {
        if !types.iter().any(|t| t == "code") {
            return Err("response_types must include code".into());
        }
    }
    // SEP-3149: the multi-valued field first, then the singular one, then the
    // RFC 7591 default for a client without a secret.
    let listed = match string_list(&doc, "token_endpoint_auth_methods_supported")? {
        Some(list) => list,
        None => match text(&doc, "token_endpoint_auth_method")? {
            Some(one) => vec![one],
            None => vec!["none".to_owned()],
        },
    };
    if let Some(m) = listed
        .iter()
        .find(|m| SYMMETRIC_METHODS.contains(&m.as_str()))
    {
        return Err(format!(
            "the document lists {m}: a metadata document must not use a method built on a shared secret"
        ));
    }
    let mut auth_methods = Vec::new();
    for m in &listed {
        let ours = match m.as_str() {
            "none" => DocumentAuth::None,
            "private_key_jwt" => DocumentAuth::PrivateKeyJwt,
            _ => continue,
        };
        if !auth_methods.contains(&ours) {
            auth_methods.push(ours);
        }
    }
    if auth_methods.is_empty() {
        return Err(format!(
            "none of the document's authentication methods ({}) is supported here; use none or private_key_jwt",
            listed.join(", ")
        ));
    }
    let keys = match (doc.get("jwks"), text(&doc, "jwks_uri")?) {
        (Some(Value::Object(set)), _) => {
            let set = Value::Object(set.clone());
            check_public_keys(&set, "jwks")?;
            Some(KeySource::Inline(set))
        }
        (Some(Value::Null) | None, Some(uri)) => {
            check_client_id_url(&uri).map_err(|e| {
                format!(
                    "jwks_uri: {}",
                    e.replace("the client_id URL", "the jwks_uri")
                )
            })?;
            Some(KeySource::Uri(uri))
        }
        (Some(Value::Null) | None, None) => None,
        (Some(_), _) => return Err("jwks must be a JSON object".into()),
    };
    if auth_methods == [DocumentAuth::PrivateKeyJwt] && keys.is_none() {
        return Err("the document uses private_key_jwt but has neither jwks nor jwks_uri".into());
    }
    let client = Client {
        client_id: url.to_owned(),
        client_secret_hash: None,
        redirect_uris,
        client_name: Some(client_name),
        client_uri: None,
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: None,
        software_id: None,
        software_version: None,
        created_at: now,
        expires_at: 0,
    };
    Ok(DocumentClient {
        client,
        auth_methods,
        keys,
    })
}

/// How long to keep a validated document, from its `Cache-Control`
/// (`max-age`, else [`DEFAULT_CACHE_SECS`]; `no-store`/`no-cache` mean the
/// minimum), clamped to [`MIN_CACHE_SECS`, `MAX_CACHE_SECS`].
pub fn cache_ttl(cache_control: Option<&str>) -> u64 {
    let mut ttl = DEFAULT_CACHE_SECS;
    for directive in cache_control.unwrap_or("").split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return MIN_CACHE_SECS;
        }
        if let Some(v) = directive.strip_prefix("max-age=") {
            ttl = v.trim_matches('"').parse::<u64>().unwrap_or(0);
        }
    }
    ttl.clamp(MIN_CACHE_SECS, MAX_CACHE_SECS)
}

/// Fetches of client-chosen URLs allowed per document host, per isolate, in
/// one [`FETCH_WINDOW_SECS`] window. Enough for a busy legitimate client
/// (whose document is cached after the first fetch), small enough that nobody
/// can make this Worker hammer a host.
pub const FETCHES_PER_HOST: u32 = 30;
/// The window of [`FETCHES_PER_HOST`].
pub const FETCH_WINDOW_SECS: u64 = 60;
/// An assertion with an unknown `kid` refetches a `jwks_uri` at most once in
/// this many seconds.
pub const JWKS_REFETCH_SECS: u64 = 60;

/// Validated documents and key sets, per isolate; and the meters of what was
/// fetched (per host, and when each `jwks_uri` was last fetched).
#[derive(Debug)]
pub struct DocumentCache {
    pub clients: TtlCache<DocumentClient>,
    pub jwks: TtlCache<Value>,
    /// Fetches per host in the current window: the value is the count; the
    /// entry lives until the window ends.
    pub per_host: TtlCache<u32>,
    /// A `jwks_uri` fetched within [`JWKS_REFETCH_SECS`].
    pub jwks_fetched: TtlCache<()>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        DocumentCache {
            clients: TtlCache::new(CACHE_ENTRIES),
            jwks: TtlCache::new(CACHE_ENTRIES),
            per_host: TtlCache::new(CACHE_ENTRIES),
            jwks_fetched: TtlCache::new(CACHE_ENTRIES),
        }
    }
}

impl DocumentCache {
    /// Counts one fetch to `host` at `now`; `false` (and nothing counted) when
    /// the host already had [`FETCHES_PER_HOST`] in this window.
    pub fn allow_fetch(&mut self, host: &str, now: u64) -> bool {
        match self.per_host.get_with_expiry(host, now) {
            Some((count, _)) if count >= FETCHES_PER_HOST => false,
            Some((count, until)) => {
                self.per_host
                    .put(host, count + 1, until.saturating_sub(now), now);
                true
            }
            None => {
                self.per_host.put(host, 1, FETCH_WINDOW_SECS, now);
                true
            }
        }
    }
}

/// What fetching a URL gave, short of an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No answer (DNS, connection, TLS).
    Unreachable(String),
    Timeout,
    /// The body went past [`MAX_DOCUMENT_BYTES`]; reading stopped there.
    TooLarge,
}

/// An HTTP answer, with at most [`MAX_DOCUMENT_BYTES`] of body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A JWS algorithm this server verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    Rs256,
    Es256,
}

impl SigAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigAlg::Rs256 => "RS256",
            SigAlg::Es256 => "ES256",
        }
    }
}

/// What the platform does for document clients.
pub trait ClientDocuments {
    /// GET `url` with `Accept: application/json`, no redirects followed, at
    /// most [`MAX_DOCUMENT_BYTES`] read, within [`FETCH_TIMEOUT_MS`].
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, FetchError>>;

    /// This isolate's cache.
    fn cache(&self) -> &RefCell<DocumentCache>;

    /// Whether `signature` is `alg`'s signature of `signed` under the public key
    /// `jwk`. `Err` is a key the platform could not import.
    fn verify_signature<'a>(
        &'a self,
        alg: SigAlg,
        jwk: &'a Value,
        signed: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>>;

    /// Records `key` as used until `until` (Unix seconds); `false` when it
    /// already was. Concurrent calls with one key: exactly one gets `true`.
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        until: u64,
    ) -> LocalBoxFuture<'a, Result<bool, String>>;

    /// Writes why a fetch failed to the operator's log. The client is told
    /// only [`FETCH_FAILED`].
    fn log(&self, _line: &str) {}
}

/// The one answer a client gets for any failed fetch of a document or JWKS,
/// whatever the target did (refused, unreachable, slow, an HTTP error, a
/// redirect, too large): the detail goes to the log only, so this server
/// cannot be used to probe other hosts.
pub const FETCH_FAILED: &str =
    "the client metadata document could not be fetched from its URL; try again later";

/// Why a document client could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The document cannot be fetched right now (network, timeout, 5xx, 429).
    Unavailable(String),
    /// The URL or the document is not acceptable (refused, wrong, absent).
    Invalid(String),
}

impl DocumentError {
    pub fn message(&self) -> &str {
        match self {
            DocumentError::Unavailable(m) | DocumentError::Invalid(m) => m,
        }
    }
}

/// Fetches a client-chosen URL under the outbound policy and the per-host
/// meter. Every failure is [`DocumentError::Unavailable`] with
/// [`FETCH_FAILED`]; the detail goes to [`ClientDocuments::log`]. An answer
/// that is not JSON (by its `Content-Type`) is refused with a clear error.
async fn fetch_checked(
    docs: &dyn ClientDocuments,
    url: &str,
    what: &str,
    now: u64,
) -> Result<Fetched, DocumentError> {
    let fail = |detail: String| {
        docs.log(&format!("client document fetch of {url} failed: {detail}"));
        DocumentError::Unavailable(FETCH_FAILED.to_owned())
    };
    let parsed = crate::urls::Url::parse(url).map_err(|e| fail(e.to_string()))?;
    crate::urls::client_fetch_target(&parsed).map_err(|e| fail(format!("refused: {e}")))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    if !docs.cache().borrow_mut().allow_fetch(&host, now) {
        return Err(fail(format!(
            "more than {FETCHES_PER_HOST} fetches to {host} within {FETCH_WINDOW_SECS} s"
        )));
    }
    let fetched = match docs.fetch(url).await {
        Ok(f) => f,
        Err(FetchError::Unreachable(e)) => return Err(fail(format!("unreachable: {e}"))),
        Err(FetchError::Timeout) => {
            return Err(fail(format!(
                "no answer within {} seconds",
                FETCH_TIMEOUT_MS / 1000
            )))
        }
        Err(FetchError::TooLarge) => {
            return Err(fail(format!("larger than {MAX_DOCUMENT_BYTES} bytes")))
        }
    };
    if fetched.status != 200 {
        return Err(fail(format!("HTTP {}", fetched.status)));
    }
    if !is_json_content_type(fetched.content_type.as_deref()) {
        return Err(DocumentError::Invalid(format!(
            "the {what} at {} is served as '{}', not as application/json",
            crate::urls::short_host(url),
            fetched
                .content_type
                .as_deref()
                .unwrap_or("(no Content-Type)")
                .chars()
                .take(40)
                .collect::<String>()
        )));
    }
    Ok(fetched)
}

/// The client of a `client_id` URL: from this isolate's cache, or fetched and
/// validated (and then cached).
pub async fn resolve(
    docs: &dyn ClientDocuments,
    url: &str,
    now: u64,
) -> Result<DocumentClient, DocumentError> {
    check_client_id_url(url).map_err(DocumentError::Invalid)?;
    if let Some(hit) = docs.cache().borrow().clients.get(url, now) {
        return Ok(hit);
    }
    let fetched = fetch_checked(docs, url, "client metadata document", now).await?;
    let client = validate_document(url, &fetched.body, now).map_err(|e| {
        DocumentError::Invalid(format!(
            "the client metadata document at {}: {e}",
            crate::urls::short_host(url)
        ))
    })?;
    let ttl = cache_ttl(fetched.cache_control.as_deref());
    docs.cache()
        .borrow_mut()
        .clients
        .put(url, client.clone(), ttl, now);
    Ok(client)
}

// ---------------------------------------------------------------------------
// private_key_jwt (RFC 7523 §2.2, §3)

/// A compact JWS, parsed but not yet verified.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub alg: SigAlg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signed: String,
    pub signature: Vec<u8>,
}

fn b64(part: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "the client_assertion is not base64url".to_owned())
}

/// Parses a compact JWS (RFC 7515 §7.1) whose `alg` is RS256 or ES256.
pub fn parse_assertion(jwt: &str) -> Result<Assertion, String> {
    if jwt.len() > MAX_ASSERTION_LEN {
        return Err("the client_assertion is too long".into());
    }
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the client_assertion is not a signed JWT (header.payload.signature)".into());
    };
    let header: Value = serde_json::from_slice(&b64(h)?)
        .map_err(|_| "the client_assertion header is not JSON".to_owned())?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => SigAlg::Rs256,
        Some("ES256") => SigAlg::Es256,
        Some(other) => {
            return Err(format!(
                "the client_assertion algorithm '{}' is not supported; use RS256 or ES256",
                other.chars().take(16).collect::<String>()
            ))
        }
        None => return Err("the client_assertion header has no alg".into()),
    };
    if header.get("crit").is_some() {
        return Err(
            "the client_assertion header has critical extensions this server does not understand"
                .into(),
        );
    }
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    let Value::Object(claims) = serde_json::from_slice(&b64(p)?)
        .map_err(|_| "the client_assertion payload is not JSON".to_owned())?
    else {
        return Err("the client_assertion payload is not a JSON object".into());
    };
    let signature = b64(s)?;
    if signature.is_empty() {
        return Err("the client_assertion is not signed".into());
    }
    Ok(Assertion {
        alg,
        kid,
        claims,
        signed: format!("{h}.{p}"),
        signature,
    })
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| format!("the client_assertion's {name} is not a number")),
    }
}

/// RFC 7523 §3's claim rules: `iss` = `sub` = `client_id`, `aud` one of
/// `audiences`, `exp` in the future and at most
/// [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `nbf`/`iat` not in the future, a `jti`.
/// Returns the `jti` and `exp`.
pub fn check_claims(
    a: &Assertion,
    client_id: &str,
    audiences: &[&str],
    now: u64,
) -> Result<(String, u64), String> {
    let claim = |name: &str| a.claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(client_id) {
        return Err("the client_assertion's iss must be the client_id".into());
    }
    if claim("sub") != Some(client_id) {
        return Err("the client_assertion's sub must be the client_id".into());
    }
    let aud_ok = match a.claims.get("aud") {
        Some(Value::String(s)) => audiences.contains(&s.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .any(|v| v.as_str().is_some_and(|s| audiences.contains(&s))),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "the client_assertion's aud must be this token endpoint ({})",
            audiences.first().copied().unwrap_or_default()
        ));
    }
    let Some(exp) = number(&a.claims, "exp")? else {
        return Err("the client_assertion has no exp".into());
    };
    if exp <= now {
        return Err("the client_assertion has expired".into());
    }
    if exp > now + MAX_ASSERTION_LIFETIME_SECS {
        return Err(format!(
            "the client_assertion's exp is more than {MAX_ASSERTION_LIFETIME_SECS} seconds ahead"
        ));
    }
    for name in ["nbf", "iat"] {
        if number(&a.claims, name)?.is_some_and(|t| t > now + CLOCK_SKEW_SECS) {
            return Err(format!("the client_assertion's {name} is in the future"));
        }
    }
    let jti = match claim("jti") {
        Some(j) if !j.is_empty() && j.len() <= 256 => j.to_owned(),
        _ => return Err("the client_assertion has no usable jti".into()),
    };
    Ok((jti, exp))
}

/// The key in `jwks` that can verify `alg` (by `kid` when the assertion names
/// one, else the only suitable key).
pub fn select_key(jwks: &Value, alg: SigAlg, kid: Option<&str>) -> Result<Value, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the client's JWKS has no keys array".to_owned())?;
    let suitable = |k: &&Value| {
        let s = |n: &str| k.get(n).and_then(Value::as_str);
        let kty_ok = match alg {
            SigAlg::Rs256 => s("kty") == Some("RSA"),
            SigAlg::Es256 => s("kty") == Some("EC") && s("crv") == Some("P-256"),
        };
        kty_ok
            && s("use").is_none_or(|u| u == "sig")
            && s("alg").is_none_or(|x| x == alg.as_str())
            && kid.is_none_or(|want| s("kid") == Some(want))
    };
    let found: Vec<&Value> = keys.iter().filter(suitable).collect();
    match found.as_slice() {
        [one] => Ok(public_part(one, alg)),
        [] => Err(match kid {
            Some(k) => format!(
                "the client's JWKS has no {} key with kid '{}'",
                alg.as_str(),
                k.chars().take(64).collect::<String>()
            ),
            None => format!("the client's JWKS has no {} key", alg.as_str()),
        }),
        _ => {
            Err("the client's JWKS has several suitable keys and the assertion names no kid".into())
        }
    }
}

/// Only the public members, so a stray private part is never handed on.
fn public_part(jwk: &Value, alg: SigAlg) -> Value {
    let members: &[&str] = match alg {
        SigAlg::Rs256 => &["kty", "n", "e"],
        SigAlg::Es256 => &["kty", "crv", "x", "y"],
    };
    let mut out = Map::new();
    for m in members {
        if let Some(v) = jwk.get(*m) {
            out.insert((*m).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn parse_jwks(body: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the JWKS is not JSON".to_owned())?;
    check_public_keys(&v, "the JWKS")?;
    Ok(v)
}

pub async fn jwks(
    docs: &dyn ClientDocuments,
    uri: &str,
    now: u64,
    fresh: bool,
) -> Result<Value, DocumentError> {
    if !fresh {
        if let Some(hit) = docs.cache().borrow().jwks.get(uri, now) {
            return Ok(hit);
        }
    }
    docs.cache()
        .borrow_mut()
        .jwks_fetched
        .put(uri, (), JWKS_REFETCH_SECS, now);
    let fetched = fetch_checked(docs, uri, "JWKS", now).await?;
    let set = parse_jwks(&fetched.body).map_err(DocumentError::Invalid)?;
    let ttl = cache_ttl(fetched.cache_control.as_deref());
    docs.cache()
        .borrow_mut()
        .jwks
        .put(uri, set.clone(), ttl, now);
    Ok(set)
}

/// The replay register's rule: a `jti` recorded until `seen` may be used again
/// only once that time has passed (the assertion it came with expired then).
pub fn first_use_allowed(seen: Option<u64>, now: u64) -> bool {
    seen.is_none_or(|until| until < now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_clamped() {
        assert_eq!(cache_ttl(None), DEFAULT_CACHE_SECS);
        assert_eq!(cache_ttl(Some("public, max-age=3600")), 3600);
        assert_eq!(cache_ttl(Some("max-age=5")), MIN_CACHE_SECS);
        assert_eq!(cache_ttl(Some("max-age=99999999")), MAX_CACHE_SECS);
        assert_eq!(cache_ttl(Some("no-store")), MIN_CACHE_SECS);
        assert_eq!(cache_ttl(Some("max-age=junk")), MIN_CACHE_SECS);
    }

    #[test]
    fn client_id_host_keeps_a_port() {
        assert_eq!(
            client_id_host("https://claude.ai/oauth/x").as_deref(),
            Some("claude.ai")
        );
        assert_eq!(
            client_id_host("https://a.example:8443/x").as_deref(),
            Some("a.example:8443")
        );
    }
}
