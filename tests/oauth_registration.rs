//! Dynamic client registration (RFC 7591), a pure leaf of the authorization server. which
//! metadata is accepted, refused or dropped, the response, and the stored
//! client record. Each test names the rule it checks.

use serde_json::{json, Value};

use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
use mcp_oauth_worker::oauth::register::{
    client_secret_hash, registration_response, validate, Client, GrantType, RegistrationRequest,
    TokenEndpointAuthMethod, ValidatedRegistration, MAX_REGISTRATION_BODY,
};

fn register(body: Value) -> Result<ValidatedRegistration, OAuthError> {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    RegistrationRequest::from_json(&bytes).and_then(validate)
}

fn refused(body: Value) -> OAuthError {
    match register(body.clone()) {
        Ok(v) => panic!("{body} was accepted: {v:?}"),
        Err(e) => e,
    }
}

fn metadata_error(body: Value) -> String {
    let e = refused(body);
    assert_eq!(
        e.code,
        ErrorCode::InvalidClientMetadata,
        "{}",
        e.description
    );
    e.description
}

fn redirect_error(body: Value) -> String {
    let e = refused(body);
    assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{}", e.description);
    e.description
}

fn ok(body: Value) -> ValidatedRegistration {
    match register(body.clone()) {
        Ok(v) => v,
        Err(e) => panic!("{body} was refused: {e}"),
    }
}

#[test]
fn real_clients_registrations_are_accepted() {
    let claude = ok(json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "mcp"
    }));
    assert!(claude.is_public());
    ok(json!({
        "client_name": "ChatGPT",
        "redirect_uris": ["https://chatgpt.com/connector/oauth/8f3e2c1a"],
        "token_endpoint_auth_method": "client_secret_post"
    }));
    let cursor = ok(json!({
        "client_name": "Cursor",
        "redirect_uris": [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://cursor.com/oauth/callback",
            "http://localhost:8765/callback"
        ],
        "token_endpoint_auth_method": "none"
    }));
    assert_eq!(cursor.redirect_uris.len(), 3);
    ok(json!({
        "client_name": "Visual Studio Code",
        "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]
    }));
    ok(json!({
        "client_name": "MCP Inspector",
        "redirect_uris": ["http://localhost:6274/oauth/callback", "http://localhost:6274/oauth/callback/debug"],
        "token_endpoint_auth_method": "none",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": "mcp github:repos"
    }));
    ok(json!({
        "client_name": "MCP CLI Proxy",
        "redirect_uris": ["http://localhost:3334/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
        "software_version": "0.1.29"
    }));
    ok(json!({
        "client_name": "Claude Code",
        "redirect_uris": ["http://localhost/callback"],
        "token_endpoint_auth_method": "none"
    }));
}

#[test]
fn rfc7591_2_unknown_fields_are_ignored() {
    let v = ok(json!({
        "redirect_uris": ["https://app.example/cb"],
        "contacts": ["a@example.com"],
        "jwks_uri": "https://app.example/jwks",
        "client_name#ja-Jpan-JP": "クライアント名",
        "x-vendor": {"nested": [1, 2]}
    }));
    assert_eq!(v.redirect_uris[0].as_str(), "https://app.example/cb");
}

#[test]
fn rfc7591_2_defaults_auth_method_is_client_secret_basic() {
    let v = ok(json!({"redirect_uris": ["https://app.example/cb"]}));
    assert_eq!(
        v.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert!(!v.is_public());
}

#[test]
fn refresh_token_is_always_granted_alongside_authorization_code() {
    let expected = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    let default = ok(json!({"redirect_uris": ["https://app.example/cb"]}));
    assert_eq!(default.grant_types, expected);
    let only_code = ok(json!({
        "redirect_uris": ["https://app.example/cb"],
        "grant_types": ["authorization_code"]
    }));
    assert_eq!(only_code.grant_types, expected);
}

#[test]
fn grant_types_must_include_authorization_code() {
    let d = metadata_error(json!({
        "redirect_uris": ["https://app.example/cb"],
        "grant_types": ["refresh_token"]
    }));
    assert_eq!(d, "grant_types must include authorization_code");
    metadata_error(json!({"redirect_uris": ["https://app.example/cb"], "grant_types": []}));
}

#[test]
fn unsupported_grant_types_are_named() {
    for g in [
        "client_credentials",
        "implicit",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let d = metadata_error(json!({
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code", g]
        }));
        assert!(d.contains(g), "{d}");
    }
}

#[test]
fn response_types_are_a_subset_of_code() {
    let d = metadata_error(json!({
        "redirect_uris": ["https://app.example/cb"],
        "response_types": ["code", "token"]
    }));
    assert!(d.contains("'token'"), "{d}");
}

#[test]
fn rfc7591_2_1_authorization_code_needs_response_type_code() {
    let d = metadata_error(json!({
        "redirect_uris": ["https://app.example/cb"],
        "response_types": []
    }));
    assert!(d.contains("RFC 7591 section 2.1"), "{d}");
}

#[test]
fn unsupported_auth_methods_are_refused() {
    for m in [
        "private_key_jwt",
        "client_secret_jwt",
        "tls_client_auth",
        "NONE",
    ] {
        let d = metadata_error(json!({
            "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": m
        }));
        assert!(d.contains(m), "{d}");
    }
}

#[test]
fn redirect_uris_are_required() {
    redirect_error(json!({"client_name": "x"}));
    redirect_error(json!({"redirect_uris": []}));
    redirect_error(json!({"redirect_uris": null}));
}

#[test]
fn at_most_ten_redirect_uris() {
    let ten: Vec<String> = (0..10)
        .map(|i| format!("https://app.example/cb{i}"))
        .collect();
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("https://app.example/cb{i}"))
        .collect();
    assert_eq!(ok(json!({"redirect_uris": ten})).redirect_uris.len(), 10);
    assert!(redirect_error(json!({"redirect_uris": eleven})).contains("10"));
}

#[test]
fn each_redirect_uri_is_validated_and_the_bad_one_is_named() {
    let d = redirect_error(json!({
        "redirect_uris": ["https://app.example/cb", "javascript://x/alert(1)"]
    }));
    assert!(d.starts_with("redirect_uris[1]:"), "{d}");
    let d = redirect_error(json!({"redirect_uris": ["http://evil.example/cb"]}));
    assert!(d.contains("loopback"), "{d}");
}

#[test]
fn duplicate_redirect_uris_are_registered_once() {
    let v = ok(json!({"redirect_uris": ["https://a.example/cb", "https://a.example/cb"]}));
    assert_eq!(v.redirect_uris.len(), 1);
}

#[test]
fn rfc7591_3_2_2_wrong_json_types_are_invalid_client_metadata() {
    assert_eq!(
        metadata_error(json!({"redirect_uris": "https://app.example/cb"})),
        "redirect_uris must be an array of strings"
    );
    assert_eq!(
        metadata_error(json!({"redirect_uris": ["https://app.example/cb", 7]})),
        "redirect_uris must be an array of strings"
    );
    assert_eq!(
        metadata_error(json!({"redirect_uris": ["https://a.example/cb"], "client_name": 5})),
        "client_name must be a string"
    );
    assert_eq!(
        metadata_error(
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": "authorization_code"})
        ),
        "grant_types must be an array of strings"
    );
    assert_eq!(
        metadata_error(json!({"redirect_uris": ["https://a.example/cb"], "scope": ["mcp"]})),
        "scope must be a string"
    );
}

#[test]
fn a_body_that_is_not_a_json_object_is_invalid_client_metadata() {
    for body in [
        &b"not json"[..],
        b"",
        b"[]",
        b"\"x\"",
        b"null",
        b"{\"redirect_uris\": [",
        b"\xff\xfe",
    ] {
        let e = RegistrationRequest::from_json(body).err();
        assert!(
            e.is_some_and(|e| e.code == ErrorCode::InvalidClientMetadata),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn oversized_bodies_are_refused() {
    let padding = "a".repeat(MAX_REGISTRATION_BODY);
    let body =
        serde_json::to_vec(&json!({"redirect_uris": ["https://a.example/cb"], "p": padding}))
            .unwrap_or_default();
    let e = RegistrationRequest::from_json(&body).err();
    assert!(e.is_some_and(|e| e.code == ErrorCode::InvalidClientMetadata));
}

#[test]
fn null_and_empty_optional_metadata_count_as_absent() {
    let v = ok(json!({
        "redirect_uris": ["https://a.example/cb"],
        "client_uri": "",
        "logo_uri": null,
        "scope": "",
        "token_endpoint_auth_method": null
    }));
    assert_eq!(v.client_uri, None);
    assert_eq!(v.logo_uri, None);
    assert_eq!(v.scope, None);
    assert_eq!(
        v.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
}

#[test]
fn client_name_is_short_plain_text() {
    let name = "n".repeat(200);
    assert_eq!(
        ok(json!({"redirect_uris": ["https://a.example/cb"], "client_name": name})).client_name,
        Some(name)
    );
    assert!(metadata_error(
        json!({"redirect_uris": ["https://a.example/cb"], "client_name": "n".repeat(201)})
    )
    .contains("200"));
    assert!(metadata_error(
        json!({"redirect_uris": ["https://a.example/cb"], "client_name": "a\nb"})
    )
    .contains("control"));
    assert!(metadata_error(
        json!({"redirect_uris": ["https://a.example/cb"], "software_id": "s".repeat(201)})
    )
    .contains("software_id"));
    assert!(metadata_error(
        json!({"redirect_uris": ["https://a.example/cb"], "software_version": "\u{7}"})
    )
    .contains("software_version"));
}

#[test]
fn informational_uris_must_be_https() {
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        for bad in [
            "http://app.example/",
            "javascript:alert(1)",
            "https://user@app.example/",
            "not a url",
            &format!("https://app.example/{}", "a".repeat(2000)),
        ] {
            let d = metadata_error(json!({"redirect_uris": ["https://a.example/cb"], field: bad}));
            assert!(d.starts_with(field), "{d}");
        }
    }
    let v = ok(
        json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "https://app.example/logo.png"}),
    );
    assert_eq!(v.logo_uri.as_deref(), Some("https://app.example/logo.png"));
}

#[test]
fn unknown_scope_tokens_are_dropped_and_known_ones_kept() {
    // Issue 19: dropped, not refused; the response says what was kept.
    let v = ok(json!({"redirect_uris": ["https://a.example/cb"], "scope": "mcp offline_access"}));
    assert_eq!(v.scope.as_deref(), Some("mcp"));
    let v = ok(json!({"redirect_uris": ["https://a.example/cb"], "scope": "openid profile email"}));
    assert_eq!(v.scope, None);
    let v =
        ok(json!({"redirect_uris": ["https://a.example/cb"], "scope": "github:repos  mcp mcp"}));
    assert_eq!(v.scope.as_deref(), Some("github:repos mcp"));
}

fn stored(auth: &str, secret: Option<&str>) -> Client {
    let v = ok(json!({
        "client_name": "Example",
        "redirect_uris": ["https://app.example/cb", "http://localhost/cb"],
        "token_endpoint_auth_method": auth,
        "scope": "mcp",
        "logo_uri": "https://app.example/logo.png"
    }));
    Client::from_registration(
        v,
        "cid-1".into(),
        secret.map(client_secret_hash),
        1_700_000_000,
        86_400,
    )
}

#[test]
fn rfc7591_3_2_1_response_for_a_public_client_has_no_secret() {
    let client = stored("none", None);
    assert!(client.is_public());
    assert_eq!(
        registration_response(&client, None),
        json!({
            "client_id": "cid-1",
            "client_id_issued_at": 1_700_000_000u64,
            "redirect_uris": ["https://app.example/cb", "http://localhost/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Example",
            "logo_uri": "https://app.example/logo.png",
            "scope": "mcp"
        })
    );
}

#[test]
fn rfc7591_3_2_1_response_for_a_confidential_client_carries_secret_and_expiry() {
    let client = stored("client_secret_post", Some("s3cret"));
    let response = registration_response(&client, Some("s3cret"));
    assert_eq!(response["client_secret"], json!("s3cret"));
    assert_eq!(
        response["client_secret_expires_at"],
        json!(1_700_086_400u64)
    );
    assert_eq!(
        response["token_endpoint_auth_method"],
        json!("client_secret_post")
    );
}

#[test]
fn rfc7592_management_fields_are_never_returned() {
    let response = registration_response(&stored("client_secret_basic", Some("s")), Some("s"));
    assert!(response.get("registration_client_uri").is_none());
    assert!(response.get("registration_access_token").is_none());
}

#[test]
fn client_secret_is_stored_only_as_its_hash() {
    let client = stored("client_secret_basic", Some("s3cret"));
    let json = serde_json::to_string(&client).unwrap_or_default();
    assert!(!json.contains("s3cret"));
    assert_eq!(
        client.client_secret_hash,
        Some(client_secret_hash("s3cret"))
    );
    assert!(client.secret_matches("s3cret"));
    assert!(!client.secret_matches("s3cres"));
    assert!(!client.secret_matches(""));
}

#[test]
fn a_public_client_keeps_no_secret_hash() {
    let client = stored("none", Some("ignored"));
    assert_eq!(client.client_secret_hash, None);
    assert!(!client.secret_matches("ignored"));
}

#[test]
fn clients_expire_after_their_ttl_and_zero_means_never() {
    let client = stored("none", None);
    assert_eq!(client.expires_at, 1_700_086_400);
    assert!(!client.is_expired(1_700_086_399));
    assert!(client.is_expired(1_700_086_400));
    let v = ok(
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}),
    );
    let forever = Client::from_registration(v, "c".into(), None, 5, 0);
    assert_eq!(forever.expires_at, 0);
    assert!(!forever.is_expired(u64::MAX));
}

#[test]
fn the_stored_record_round_trips_through_json() {
    let client = stored("client_secret_basic", Some("s"));
    let json = serde_json::to_string(&client).unwrap_or_default();
    let back: Result<Client, _> = serde_json::from_str(&json);
    assert_eq!(back.ok(), Some(client.clone()));
    assert!(client.allows_grant(GrantType::RefreshToken));
}
