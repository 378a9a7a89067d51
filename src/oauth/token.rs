//! The token and revocation endpoints (RFC 6749 §2.3 and §3.2, §4.1.3, §6;
//! RFC 7009), and the commands they send to a grant's serializer.
//!
//! The endpoint itself does what needs no serialization (parsing, client
//! authentication); everything that reads or changes a grant goes through
//! [`GrantCommand`] to the grant's Durable Object, which runs [`execute`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::oauth::crypto::Entropy;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{
    self, AuthorizationRequest, CodeRedemption, Effect, GrantError, GrantState, Keys, Props,
    RefreshRequest, Step, TokenKind,
};
use crate::oauth::register::{Client, TokenEndpointAuthMethod};

/// The form fields of /token and /revoke.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
}

/// Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2: the
/// endpoint takes only that; parameters must not repeat).
pub fn parse_form(content_type: Option<&str>, body: &[u8]) -> Result<TokenForm, OAuthError> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::invalid_request(format!("malformed form body: {e}")))
}

/// How the client identified itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: only its id (`token_endpoint_auth_method=none`).
    None {
        client_id: String,
    },
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
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
            secret,
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
        Some(secret) => ClientAuth::Post { client_id, secret },
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
            if client.secret_matches(secret) {
                Ok(())
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
    }
}

/// Which grant a token request is about, and the command for it (RFC 6749
/// §4.1.3 and §6). Tokens carry their grant id, so no storage is read here.
/// A refresh command leaves `new_props` empty for the caller to fill after
/// checking the upstream tokens.
pub fn plan(form: &TokenForm, client_id: &str) -> Result<(String, GrantCommand), OAuthError> {
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = form
                .code
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let Some((TokenKind::Code, grant_id)) = grant::parse_token(&code) else {
                return Err(OAuthError::invalid_grant(
                    "authorization code is invalid or expired",
                ));
            };
            let grant_id = grant_id.to_owned();
            let command = GrantCommand::Redeem {
                code,
                client_id: client_id.to_owned(),
                redirect_uri: form.redirect_uri.clone(),
                code_verifier: form.code_verifier.clone(),
                resource: form.resource.clone(),
            };
            Ok((grant_id, command))
        }
        Some("refresh_token") => {
            let refresh_token = form
                .refresh_token
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            let Some((TokenKind::Refresh, grant_id)) = grant::parse_token(&refresh_token) else {
                return Err(OAuthError::invalid_grant(
                    "refresh token is invalid, expired or revoked",
                ));
            };
            let grant_id = grant_id.to_owned();
            let scope = form
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect());
            let command = GrantCommand::Refresh {
                refresh_token,
                client_id: client_id.to_owned(),
                scope,
                resource: form.resource.clone(),
                new_props: None,
            };
            Ok((grant_id, command))
        }
        Some(other) => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type '{}' is not supported",
            other.chars().take(64).collect::<String>()
        ))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn form(pairs: &[(&str, &str)]) -> TokenForm {
        serde_urlencoded::from_str(&serde_urlencoded::to_string(pairs).unwrap()).unwrap()
    }
    const GRANT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const SECRET: &str = "0123456789012345678901234567890123456789012";

    #[test]
    fn a_code_names_its_grant() {
        let code = format!("mcpc.{GRANT}.{SECRET}");
        let (grant, cmd) = plan(
            &form(&[("grant_type", "authorization_code"), ("code", &code)]),
            "c",
        )
        .unwrap();
        assert_eq!(grant, GRANT);
        assert!(matches!(cmd, GrantCommand::Redeem { client_id, .. } if client_id == "c"));
    }

    #[test]
    fn a_refresh_token_names_its_grant_and_may_narrow_scope() {
        let rt = format!("mcpr.{GRANT}.{SECRET}");
        let (grant, cmd) = plan(
            &form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "mcp"),
            ]),
            "c",
        )
        .unwrap();
        assert_eq!(grant, GRANT);
        assert!(
            matches!(cmd, GrantCommand::Refresh { scope: Some(s), new_props: None, .. } if s == ["mcp"])
        );
    }

    #[test]
    fn wrong_or_missing_parameters_get_their_rfc_6749_error() {
        let access = format!("mcpa.{GRANT}.{SECRET}");
        let cases: [(&[(&str, &str)], ErrorCode); 6] = [
            (&[], ErrorCode::InvalidRequest),
            (
                &[("grant_type", "password")],
                ErrorCode::UnsupportedGrantType,
            ),
            (
                &[("grant_type", "authorization_code")],
                ErrorCode::InvalidRequest,
            ),
            (
                &[("grant_type", "authorization_code"), ("code", "garbage")],
                ErrorCode::InvalidGrant,
            ),
            (
                &[("grant_type", "refresh_token")],
                ErrorCode::InvalidRequest,
            ),
            // An access token is not a refresh token.
            (
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", access.as_str()),
                ],
                ErrorCode::InvalidGrant,
            ),
        ];
        for (pairs, code) in cases {
            assert_eq!(plan(&form(pairs), "c").unwrap_err().code, code, "{pairs:?}");
        }
    }
}

/// A command to a grant's serializer. Serialized as JSON between the Worker
/// and the grant's Durable Object.
#[derive(Debug, Serialize, Deserialize)]
// Externally tagged (serde's default): internally tagged enums buffer their input
// and cost several KB of wasm each.
#[serde(rename_all = "snake_case")]
pub enum GrantCommand {
    Begin {
        grant_id: String,
        request: AuthorizationRequest,
        upstream_verifier: String,
        nonce: String,
    },
    TakeState {
        state: String,
    },
    IssueCode {
        props: Props,
    },
    /// The upstream sign-in failed or was refused: forget the grant.
    Abandon,
    Redeem {
        code: String,
        client_id: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
        resource: Option<String>,
    },
    Refresh {
        refresh_token: String,
        client_id: String,
        scope: Option<Vec<String>>,
        resource: Option<String>,
        new_props: Option<Props>,
    },
    /// Decrypts the props with a current refresh token, so the caller can check
    /// the upstream tokens before [`GrantCommand::Refresh`].
    PropsForRefresh {
        refresh_token: String,
    },
    Revoke {
        token: String,
        client_id: String,
    },
}

/// The answer of a grant command.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantAnswer {
    Ok {
        value: serde_json::Value,
    },
    OAuth {
        error: String,
        error_description: String,
    },
    State {
        message: String,
    },
    Internal,
}

impl GrantAnswer {
    fn from_result<T: Serialize>(result: Result<T, GrantError>) -> GrantAnswer {
        match result {
            Ok(v) => match serde_json::to_value(v) {
                Ok(value) => GrantAnswer::Ok { value },
                Err(_) => GrantAnswer::Internal,
            },
            Err(GrantError::OAuth(e)) => GrantAnswer::OAuth {
                error: e.code.as_str().to_owned(),
                error_description: e.description,
            },
            Err(GrantError::State(m)) => GrantAnswer::State {
                message: m.to_owned(),
            },
            Err(GrantError::Internal) => GrantAnswer::Internal,
        }
    }

    /// Back to a typed result on the Worker's side.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T, GrantError> {
        match self {
            GrantAnswer::Ok { value } => {
                serde_json::from_value(value).map_err(|_| GrantError::Internal)
            }
            GrantAnswer::OAuth {
                error,
                error_description,
            } => Err(GrantError::OAuth(OAuthError::new(
                crate::oauth::error::ErrorCode::parse(&error),
                error_description,
            ))),
            GrantAnswer::State { message } => Err(GrantError::State(state_message(&message))),
            GrantAnswer::Internal => Err(GrantError::Internal),
        }
    }
}

/// State messages are static strings on both sides; map back to one of them.
fn state_message(message: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "this sign-in is unknown or has expired; start again from your MCP client",
        "this sign-in was already completed; start again from your MCP client",
        "this sign-in link was already used; start again from your MCP client",
        "this sign-in took too long and expired; start again from your MCP client",
        "this sign-in is unknown or has expired",
        "this sign-in cannot be completed twice",
    ];
    KNOWN
        .iter()
        .find(|k| **k == message)
        .copied()
        .unwrap_or("this sign-in cannot be completed; start again from your MCP client")
}

/// What a grant's serializer does with one command: the state to keep (`None`
/// deletes it), the KV effects to apply after storing it, and the answer.
pub fn execute(
    state: Option<GrantState>,
    command: GrantCommand,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> (Option<GrantState>, Vec<Effect>, GrantAnswer) {
    fn finish<T: Serialize>(step: Step<T>) -> (Option<GrantState>, Vec<Effect>, GrantAnswer) {
        (
            step.state,
            step.effects,
            GrantAnswer::from_result(step.result),
        )
    }
    match command {
        GrantCommand::Begin {
            grant_id,
            request,
            upstream_verifier,
            nonce,
        } => finish(grant::begin(
            state,
            &grant_id,
            request,
            upstream_verifier,
            nonce,
            now,
            rng,
        )),
        GrantCommand::TakeState { state: token } => finish(grant::take_state(state, &token, now)),
        GrantCommand::IssueCode { props } => {
            finish(grant::issue_code(state, &props, now, keys, rng))
        }
        GrantCommand::Abandon => {
            // Only a grant that never issued a code may be forgotten this way.
            let abandonable = state.as_ref().is_none_or(|s| s.user_id.is_none());
            if abandonable {
                (None, Vec::new(), GrantAnswer::from_result(Ok(())))
            } else {
                (state, Vec::new(), GrantAnswer::Internal)
            }
        }
        GrantCommand::Redeem {
            code,
            client_id,
            redirect_uri,
            code_verifier,
            resource,
        } => {
            let input = CodeRedemption {
                code: &code,
                client_id: &client_id,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
                resource: resource.as_deref(),
            };
            finish(grant::redeem_code(state, &input, now, keys, rng))
        }
        GrantCommand::Refresh {
            refresh_token,
            client_id,
            scope,
            resource,
            new_props,
        } => {
            let input = RefreshRequest {
                refresh_token: &refresh_token,
                client_id: &client_id,
                scope,
                resource: resource.as_deref(),
                new_props,
            };
            finish(grant::refresh(state, input, now, keys, rng))
        }
        GrantCommand::PropsForRefresh { refresh_token } => {
            let props = state
                .as_ref()
                .and_then(|s| grant::props_for_refresh(s, &refresh_token, keys));
            (state, Vec::new(), GrantAnswer::from_result(Ok(props)))
        }
        GrantCommand::Revoke { token, client_id } => {
            finish(grant::revoke(state, &token, &client_id, now))
        }
    }
}
