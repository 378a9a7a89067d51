//! Dynamic Client Registration: the request and its validation.
//!
//! - [RFC 7591 §2](https://datatracker.ietf.org/doc/html/rfc7591#section-2): client metadata,
//!   defaults and the `grant_types`/`response_types` consistency rule (§2.1).
//! - [RFC 7591 §3.1](https://datatracker.ietf.org/doc/html/rfc7591#section-3.1): the request.
//! - [RFC 7591 §3.2.2](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2): errors.
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

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::oauth::error::OAuthError;
use crate::oauth::redirect::{validate_redirect_uri, RedirectUri};
use crate::user::ALL_SCOPES;

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

#[cfg(test)]
mod tests {
    use super::*;

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
