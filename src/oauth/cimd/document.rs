//! What a Client ID Metadata Document is and what it may say
//! (draft-ietf-oauth-client-id-metadata-document): the rules for its
//! `client_id` URL (https, a path, no fragment, no userinfo, no dot segments;
//! a query is allowed; then the outbound policy), and the document's own
//! rules: its `client_id` byte equal to the URL, a `client_name`,
//! `redirect_uris` checked as at registration, no secret, public keys only,
//! authentication methods intersected with ours (`none`, `private_key_jwt`).

use serde_json::{Map, Value};

use crate::oauth::redirect::{validate_redirect_uri, RedirectUri};
use crate::oauth::register::{
    Client, GrantType, ResponseType, TokenEndpointAuthMethod, MAX_NAME_LEN, MAX_REDIRECT_URIS,
};

/// Largest document (or JWKS) read; the draft suggests about 5 KB.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// Longest `client_id` URL accepted.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2000;

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

#[cfg(test)]
mod tests {
    use super::*;

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
