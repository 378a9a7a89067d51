//! What every provider shares as an OAuth client of an upstream token endpoint:
//! sending a request, reading the answer (JSON, or the form encoding GitHub falls back
//! to), mapping OAuth errors to [`UpstreamError`], and the refresh policy.
//!
//! - [RFC 6749 §5.1](https://datatracker.ietf.org/doc/html/rfc6749#section-5.1): successful answer.
//! - [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2): error answer.
//! - [RFC 6749 §6](https://datatracker.ietf.org/doc/html/rfc6749#section-6): refreshing.
//! - [RFC 6749 §2.3.1](https://datatracker.ietf.org/doc/html/rfc6749#section-2.3.1): client
//!   authentication with `client_secret_basic` or `client_secret_post`.
//!
//! Every text that leaves this module is built by us or scrubbed of the secrets in play
//! ([`scrub`]), so an [`UpstreamError`] can be logged and shown.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use super::{UpstreamError, UpstreamToken, UpstreamTokens, REFRESH_MARGIN_SECS};
use crate::outbound::{HttpClient, OutRequest, OutResponse};
use crate::secret::Secret;

/// Largest answer we read from a provider. Token answers and profiles are a few KiB.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Longest provider-written text (e.g. `error_description`) we pass on.
const MAX_DESCRIPTION: usize = 200;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (GitHub, Google).
    Post,
    /// HTTP Basic; the OpenID Connect default when discovery names no method.
    Basic,
}

/// Our client registration at a provider's token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct TokenClient {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth: ClientAuth,
}

/// A successful token answer.
#[derive(Clone, Default)]
pub(crate) struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
}

/// An OAuth error answer (`error`, `error_description`), already scrubbed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthErrorAnswer {
    pub code: String,
    pub description: Option<String>,
}

/// What a token endpoint's answer came to: tokens, an OAuth refusal, or no usable answer.
pub(crate) enum TokenReply {
    /// A successful answer (RFC 6749 §5.1).
    Issued(TokenAnswer),
    /// An OAuth error answer (RFC 6749 §5.2): what it means depends on the grant asked for.
    Refused(OAuthErrorAnswer),
    /// No answer, or one we could not use.
    Failed(UpstreamError),
}

impl TokenReply {
    /// The tokens, or the error: a refusal becomes one through `refused` (an exchange and a
    /// refresh read the same OAuth error differently).
    pub fn or_refused(
        self,
        refused: impl FnOnce(OAuthErrorAnswer) -> UpstreamError,
    ) -> Result<TokenAnswer, UpstreamError> {
        match self {
            TokenReply::Issued(answer) => Ok(answer),
            TokenReply::Refused(error) => Err(refused(error)),
            TokenReply::Failed(error) => Err(error),
        }
    }
}

impl OAuthErrorAnswer {
    fn text(&self) -> String {
        match &self.description {
            Some(d) => format!("{} ({d})", self.code),
            None => self.code.clone(),
        }
    }

    /// After an authorization code exchange: the user declined, or the provider refused.
    pub fn into_exchange_error(self) -> UpstreamError {
        match self.code.as_str() {
            "access_denied" => UpstreamError::Denied(self.text()),
            _ => UpstreamError::Provider(self.text()),
        }
    }

    /// After a refresh: a dead grant means signing in again; anything else (bad client
    /// credentials, a provider outage) is the provider's or our configuration's problem.
    pub fn into_refresh_error(self) -> UpstreamError {
        match self.code.as_str() {
            // RFC 6749 §5.2; GitHub's own code for an unknown or expired refresh token.
            "invalid_grant"
            | "bad_refresh_token"
            | "access_denied"
            | "invalid_token"
            | "unauthorized_client" => UpstreamError::Revoked(self.text()),
            _ => UpstreamError::Provider(self.text()),
        }
    }
}

impl TokenClient {
    /// POSTs `fields` (plus client authentication) and reads the answer.
    pub async fn request(&self, http: &dyn HttpClient, fields: &[(&str, &str)]) -> TokenReply {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let secrets: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| matches!(*k, "code" | "refresh_token" | "code_verifier"))
            .map(|(_, v)| *v)
            .chain([self.client_secret.expose()])
            .collect();
        let mut basic = None;
        match self.auth {
            ClientAuth::Post => {
                all.push(("client_id", &self.client_id));
                all.push(("client_secret", self.client_secret.expose()));
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both parts are form-encoded before joining.
                let id = form_encode(&self.client_id);
                let secret = form_encode(self.client_secret.expose());
                basic = Some(STANDARD.encode(format!("{id}:{secret}")));
            }
        }
        let mut request = OutRequest::post_form(self.token_url.as_str(), &all);
        let mut secrets = secrets;
        if let Some(basic) = &basic {
            request = request.header("Authorization", &format!("Basic {basic}"));
            secrets.push(basic);
        }
        // GitHub answers form-encoded unless asked for JSON; others ignore it or agree.
        request = request.header("Accept", "application/json");
        match send(http, request, &secrets).await {
            Ok(response) => parse_token_answer(&response, &secrets),
            Err(error) => TokenReply::Failed(error),
        }
    }

    /// Refreshes `tokens` when they expire within [`REFRESH_MARGIN_SECS`] of `now`.
    ///
    /// Tokens without expiry never need it (`Ok(None)`); expired tokens without a
    /// refresh token are dead (`Revoked`); tokens about to expire without a refresh
    /// token are used while they last (`Ok(None)`). Providers that do not rotate refresh
    /// tokens (Google) omit `refresh_token` from the answer: the old one is kept.
    pub async fn refresh(
        &self,
        http: &dyn HttpClient,
        tokens: &UpstreamTokens,
        now: u64,
        extra: &[(&str, &str)],
    ) -> Result<Option<UpstreamTokens>, UpstreamError> {
        let Some(expires_at) = tokens.expires_at else {
            return Ok(None);
        };
        if expires_at > now.saturating_add(REFRESH_MARGIN_SECS) {
            return Ok(None);
        }
        let Some(refresh_token) = tokens.refresh_token.as_ref().map(UpstreamToken::secret) else {
            return if expires_at <= now {
                Err(UpstreamError::Revoked(
                    "the upstream access token expired and there is no refresh token".into(),
                ))
            } else {
                Ok(None)
            };
        };
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        fields.extend_from_slice(extra);
        let answer = self
            .request(http, &fields)
            .await
            .or_refused(OAuthErrorAnswer::into_refresh_error)?;
        let mut fresh = answer.into_tokens(now);
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = Some(UpstreamToken::new(refresh_token));
        }
        if fresh.scope.is_none() {
            fresh.scope.clone_from(&tokens.scope);
        }
        Ok(Some(fresh))
    }
}

impl TokenAnswer {
    pub fn into_tokens(self, now: u64) -> UpstreamTokens {
        UpstreamTokens {
            access_token: UpstreamToken::new(self.access_token),
            refresh_token: self.refresh_token.map(UpstreamToken::new),
            expires_at: self.expires_in.map(|s| now.saturating_add(s)),
            scope: self.scope,
        }
    }
}

/// Sends `request`; a failure to get any answer is [`UpstreamError::Network`].
pub(crate) async fn send(
    http: &dyn HttpClient,
    request: OutRequest,
    secrets: &[&str],
) -> Result<OutResponse, UpstreamError> {
    let host = crate::urls::Url::parse(&request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let response = http
        .send(request)
        .await
        .map_err(|e| UpstreamError::Network(format!("{host}: {}", scrub(&e, secrets))))?;
    if response.body.len() > MAX_BODY {
        return Err(UpstreamError::Malformed(format!(
            "{host} sent {} bytes, more than the {MAX_BODY} accepted",
            response.body.len()
        )));
    }
    Ok(response)
}

/// Reads a token endpoint's answer, whatever its encoding.
///
/// An `error` field wins over the HTTP status: GitHub reports errors with 200.
pub(crate) fn parse_token_answer(response: &OutResponse, secrets: &[&str]) -> TokenReply {
    let failed = TokenReply::Failed;
    let fields = match read_fields(response) {
        Some(fields) => fields,
        None if !(200..300).contains(&response.status) => {
            return failed(UpstreamError::Provider(format!(
                "the token endpoint answered HTTP {} without an OAuth error",
                response.status
            )))
        }
        None => {
            return failed(UpstreamError::Malformed(format!(
                "the token endpoint's answer (HTTP {}, {}) is neither JSON nor form-encoded",
                response.status,
                content_type(response).unwrap_or("no Content-Type")
            )))
        }
    };
    if let Some(code) = fields.text("error") {
        return TokenReply::Refused(OAuthErrorAnswer {
            code: clean(&code, secrets),
            description: fields
                .text("error_description")
                .map(|d| clean(&d, secrets))
                .filter(|d| !d.is_empty()),
        });
    }
    if !(200..300).contains(&response.status) {
        return failed(UpstreamError::Provider(format!(
            "the token endpoint answered HTTP {} without an OAuth error",
            response.status
        )));
    }
    let Some(access_token) = fields.text("access_token") else {
        return failed(UpstreamError::Malformed(
            "the token endpoint's answer has no access_token".into(),
        ));
    };
    if let Some(kind) = fields.text("token_type") {
        if !kind.eq_ignore_ascii_case("bearer") {
            return failed(UpstreamError::Malformed(format!(
                "the token endpoint issued a token of type '{}', not Bearer",
                clean(&kind, secrets)
            )));
        }
    }
    let expires_in = match fields.get("expires_in").map(seconds) {
        None => None,
        Some(Some(seconds)) => Some(seconds),
        Some(None) => {
            return failed(UpstreamError::Malformed(
                "the token endpoint's expires_in is not a number".into(),
            ))
        }
    };
    TokenReply::Issued(TokenAnswer {
        access_token,
        refresh_token: fields.text("refresh_token"),
        expires_in,
        // GitHub separates scopes with commas; RFC 6749 §3.3 with spaces.
        scope: fields.text("scope").map(|s| {
            s.split([',', ' '])
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        id_token: fields.text("id_token"),
    })
}

/// Parses a JSON object body, for profile and discovery answers.
pub(crate) fn json_object(
    response: &OutResponse,
    what: &str,
) -> Result<serde_json::Map<String, Value>, UpstreamError> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(UpstreamError::Malformed(format!(
            "{what} is not a JSON object"
        ))),
        Err(_) => Err(UpstreamError::Malformed(format!(
            "{what} is not JSON ({})",
            content_type(response).unwrap_or("no Content-Type")
        ))),
    }
}

fn content_type(response: &OutResponse) -> Option<&str> {
    response
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim())
}

/// Top-level fields of a JSON object or a form-encoded body.
struct Fields(serde_json::Map<String, Value>);

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }
    fn text(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

fn read_fields(response: &OutResponse) -> Option<Fields> {
    let body = std::str::from_utf8(&response.body).ok()?.trim();
    let kind = content_type(response).unwrap_or("").to_ascii_lowercase();
    // Trust a JSON or form Content-Type; otherwise sniff, since GitHub's form answers
    // and some servers' JSON come labelled text/plain or text/html.
    let json_first = if kind.contains("json") {
        true
    } else if kind == "application/x-www-form-urlencoded" {
        false
    } else {
        body.starts_with('{')
    };
    if json_first {
        return match serde_json::from_slice::<Value>(body.as_bytes()) {
            Ok(Value::Object(map)) => Some(Fields(map)),
            _ => None,
        };
    }
    if body.is_empty() || !body.contains('=') || body.contains(['<', '\n', ' ']) {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).ok()?;
    Some(Fields(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

/// A number of seconds, given as a JSON number or a string of digits (form bodies,
/// and some JSON servers).
fn seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A provider-written text made safe to pass on: secrets removed, control characters
/// dropped, length bounded.
pub(crate) fn clean(text: &str, secrets: &[&str]) -> String {
    let scrubbed = scrub(text, secrets);
    let mut out: String = scrubbed
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION)
        .collect();
    if scrubbed.chars().count() > MAX_DESCRIPTION {
        out.push('…');
    }
    out
}

/// Replaces every occurrence of a (non-trivial) secret in `text`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(*secret) {
            out = out.replace(*secret, "[redacted]");
        }
    }
    out
}

fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of an answer that must have issued some (no `Debug`: it holds tokens).
    fn issued(reply: TokenReply) -> TokenAnswer {
        match reply {
            TokenReply::Issued(answer) => answer,
            TokenReply::Refused(e) => panic!("refused: {}", e.text()),
            TokenReply::Failed(e) => panic!("failed: {e}"),
        }
    }

    fn answer(status: u16, content_type: &str, body: &str) -> OutResponse {
        OutResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn expires_in_may_be_a_number_or_a_string() {
        for body in [
            r#"{"access_token":"a","expires_in":3599}"#,
            r#"{"access_token":"a","expires_in":"3599"}"#,
            r#"{"access_token":"a","expires_in":3599.0}"#,
        ] {
            let a = issued(parse_token_answer(
                &answer(200, "application/json", body),
                &[],
            ));
            assert_eq!(a.expires_in, Some(3599), "{body}");
        }
        let e = parse_token_answer(
            &answer(
                200,
                "application/json",
                r#"{"access_token":"a","expires_in":"soon"}"#,
            ),
            &[],
        );
        assert!(matches!(e, TokenReply::Failed(UpstreamError::Malformed(_))));
    }

    #[test]
    fn an_oauth_error_is_a_refusal_whatever_the_status() {
        for status in [200, 400] {
            let reply = parse_token_answer(
                &answer(
                    status,
                    "application/json",
                    r#"{"error":"invalid_grant","error_description":"bad code"}"#,
                ),
                &[],
            );
            let revoked = |e: OAuthErrorAnswer| UpstreamError::Revoked(e.text());
            assert_eq!(
                reply.or_refused(revoked).err(),
                Some(UpstreamError::Revoked("invalid_grant (bad code)".into())),
                "HTTP {status}"
            );
        }
    }

    #[test]
    fn form_answers_are_sniffed_when_mislabelled() {
        let a = issued(parse_token_answer(
            &answer(
                200,
                "text/plain",
                "access_token=gho_x&scope=repo%2Cgist&token_type=bearer",
            ),
            &[],
        ));
        assert_eq!(a.access_token, "gho_x");
        assert_eq!(a.scope.as_deref(), Some("repo gist"));
    }

    #[test]
    fn html_is_not_mistaken_for_a_form() {
        let e = parse_token_answer(&answer(200, "text/html", "<html>a=b</html>"), &[]);
        assert!(matches!(e, TokenReply::Failed(UpstreamError::Malformed(_))));
        let e = parse_token_answer(&answer(502, "text/html", "<html>Bad gateway</html>"), &[]);
        assert!(matches!(e, TokenReply::Failed(UpstreamError::Provider(_))));
    }

    #[test]
    fn non_bearer_tokens_are_refused() {
        let e = parse_token_answer(
            &answer(
                200,
                "application/json",
                r#"{"access_token":"a","token_type":"DPoP"}"#,
            ),
            &[],
        );
        assert!(matches!(e, TokenReply::Failed(UpstreamError::Malformed(_))));
    }

    #[test]
    fn descriptions_are_scrubbed_and_bounded() {
        let long = "x".repeat(500);
        assert_eq!(clean(&long, &[]).chars().count(), MAX_DESCRIPTION + 1);
        assert_eq!(
            clean("bad secret s3cr3t-value\n", &["s3cr3t-value"]),
            "bad secret [redacted]"
        );
    }
}
