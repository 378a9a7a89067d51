//! Client ID Metadata Document clients shaped like the real ones (Claude-like
//! web, Claude Code-like loopback, ChatGPT-like private_key_jwt), their documents,
//! and their requests to `/authorize` and `/token` on the in-memory platform: the
//! fixtures of the `tests/cimd_*.rs` files.

use super::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::flow;
use serde_json::{json, Value};

pub const CLAUDE: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";
pub const CLAUDE_CB: &str = "https://claude.ai/api/mcp/auth_callback";
pub const CODE: &str = "https://claude.ai/oauth/claude-code-client-metadata";
pub const GPT: &str = "https://chatgpt.com/oauth/abc/client.json";
pub const GPT_CB: &str = "https://chatgpt.com/connector/oauth/abc";
pub const GPT_JWKS: &str = "https://chatgpt.com/oauth/abc/jwks.json";

pub fn claude_doc() -> Value {
    json!({
        "client_id": CLAUDE,
        "client_name": "Claude",
        "redirect_uris": [CLAUDE_CB, "https://claude.com/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "logo_uri": "https://claude.ai/logo.png",
    })
}

pub fn gpt_key() -> Value {
    json!({"kty": "RSA", "kid": "k1", "n": "abc", "e": "AQAB", "use": "sig", "alg": "RS256"})
}

pub fn gpt_doc() -> Value {
    json!({
        "client_id": GPT,
        "client_name": "ChatGPT",
        "redirect_uris": [GPT_CB],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "jwks_uri": GPT_JWKS,
    })
}

/// `GET /authorize` for a document client, from a browser without cookies.
pub fn authorize(p: &Platform, client_id: &str, redirect: &str) -> Reply {
    Browser::default().authorize(p, &authorize_query(client_id, redirect, "s", None))
}

/// Consent, sign-in, callback in a fresh browser: the code.
pub fn code_for(p: &Platform, client_id: &str, redirect: &str) -> String {
    let query = authorize_query(client_id, redirect, "s", None);
    Browser::default().code(p, &query, redirect)
}

pub fn token(p: &Platform, basic: Option<&str>, pairs: &[(&str, &str)]) -> (u16, Value, Reply) {
    let reply = block_on(flow::token(&p.site(None), p, basic, FORM, &form(pairs))).unwrap();
    let v = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, v, reply)
}

pub fn redeem(
    p: &Platform,
    client_id: &str,
    redirect: &str,
    code: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
        ("client_id", client_id),
    ];
    pairs.extend_from_slice(extra);
    let (s, v, _) = token(p, None, &pairs);
    (s, v)
}
