//! Discovery metadata and challenges, a pure leaf of the authorization server. authorization
//! server metadata (RFC 8414), protected resource metadata (RFC 9728), the
//! `WWW-Authenticate` challenges (RFC 6750 §3) and CORS. Each test names the rule it checks.

mod common;

use common::body_json;
use serde_json::json;

use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::metadata::{
    authorization_server_metadata, cors_headers, mcp_resource, protected_resource_metadata,
    resource_metadata_url, www_authenticate,
};
use mcp_oauth_worker::oauth::resource::{refuse, Refusal};

const ISSUER: &str = "https://mcp.example.com";

#[test]
fn rfc8414_2_authorization_server_metadata() {
    assert_eq!(
        authorization_server_metadata(ISSUER),
        json!({
            "issuer": "https://mcp.example.com",
            "authorization_endpoint": "https://mcp.example.com/authorize",
            "token_endpoint": "https://mcp.example.com/token",
            "registration_endpoint": "https://mcp.example.com/register",
            "revocation_endpoint": "https://mcp.example.com/revoke",
            "introspection_endpoint": "https://mcp.example.com/introspect",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
            "revocation_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": ["mcp", "github:repos"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true
        })
    );
}

#[test]
fn rfc8414_3_3_issuer_is_used_byte_for_byte() {
    let issuer = "http://127.0.0.1:8787";
    let m = authorization_server_metadata(issuer);
    assert_eq!(m["issuer"], json!(issuer));
    assert_eq!(m["token_endpoint"], json!("http://127.0.0.1:8787/token"));
}

#[test]
fn rfc9728_2_protected_resource_metadata() {
    assert_eq!(
        protected_resource_metadata("https://mcp.example.com/mcp", ISSUER),
        json!({
            "resource": "https://mcp.example.com/mcp",
            "authorization_servers": ["https://mcp.example.com"],
            "scopes_supported": ["mcp", "github:repos"],
            "bearer_methods_supported": ["header"],
            "resource_name": "MCP server"
        })
    );
}

#[test]
fn offline_access_is_never_advertised() {
    let prm = protected_resource_metadata("https://h/mcp", ISSUER).to_string();
    let asm = authorization_server_metadata(ISSUER).to_string();
    assert!(!prm.contains("offline_access"));
    assert!(!asm.contains("offline_access"));
    assert!(!www_authenticate("https://h/m", None).contains("offline_access"));
}

#[test]
fn rfc9728_3_1_metadata_url_is_path_suffixed_with_the_resource_path() {
    assert_eq!(
        resource_metadata_url(ISSUER),
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    );
    assert_eq!(mcp_resource(ISSUER), "https://mcp.example.com/mcp");
}

#[test]
fn rfc9728_5_1_challenge_without_a_token() {
    assert_eq!(
        www_authenticate("https://mcp.example.com/.well-known/oauth-protected-resource/mcp", None),
        "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp github:repos\""
    );
}

#[test]
fn rfc6750_3_1_challenge_for_a_bad_token() {
    assert_eq!(
        www_authenticate("https://h/prm", Some(("invalid_token", "the access token expired"))),
        "Bearer error=\"invalid_token\", error_description=\"the access token expired\", resource_metadata=\"https://h/prm\", scope=\"mcp github:repos\""
    );
}

#[test]
fn challenge_values_are_quote_escaped() {
    let v = www_authenticate("https://h/prm", Some(("invalid_token", "say \"hi\" \\o/")));
    assert!(
        v.contains("error_description=\"say \\\"hi\\\" \\\\o/\""),
        "{v}"
    );
    assert!(!v.contains('\n') && !v.contains('\r'));
}

#[test]
fn rfc6750_3_1_insufficient_scope_names_the_scope_needed() {
    // What /mcp answers (`resource::refuse`) for a valid token without the
    // base scope `mcp`: 403, a challenge naming the scope, the JSON error.
    let reply = refuse("https://h/prm", &Refusal::Token(AccessError::MissingScope));
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.header_value("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", error_description=\"this request needs the scope: mcp\", resource_metadata=\"https://h/prm\", scope=\"mcp\"")
    );
    assert_eq!(
        body_json(&reply),
        json!({"error": "insufficient_scope", "error_description": "the access token lacks the scope 'mcp'"})
    );
    assert_eq!(reply.header_value("cache-control"), Some("no-store"));
    // Every other refusal of a token is 401 invalid_token, never insufficient_scope.
    for other in [AccessError::Invalid, AccessError::WrongResource] {
        let reply = refuse("https://h/prm", &Refusal::Token(other.clone()));
        assert_eq!(reply.status, 401, "{other:?}");
        assert_eq!(body_json(&reply)["error"], "invalid_token", "{other:?}");
        let challenge = reply.header_value("www-authenticate").unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(!challenge.contains("insufficient_scope"), "{challenge}");
    }
}

#[test]
fn cors_allows_browser_clients_and_exposes_the_challenge() {
    let headers = cors_headers();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("access-control-allow-origin"), Some("*"));
    assert_eq!(
        get("access-control-allow-headers"),
        Some("Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID")
    );
    assert_eq!(
        get("access-control-expose-headers"),
        Some("WWW-Authenticate, Mcp-Session-Id")
    );
    assert!(get("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST") && m.contains("GET")));
    assert!(get("access-control-max-age").is_some_and(|a| a.parse::<u32>().is_ok()));
}
