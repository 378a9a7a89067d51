//! A generic OpenID Connect provider against a fake HTTP client that records every request and replays answers shaped like the real ones: discovery of
//! its issuer's well-known document (and what is refused there), a failed
//! discovery as a temporary 503, and signing in with the discovered endpoints.

mod common;

use base64::Engine as _;
use serde_json::{json, Value};

use common::http::FakeHttp;
use common::upstream_fixtures::*;
use mcp_oauth_worker::config::ProviderKind;
use mcp_oauth_worker::outbound::OutResponse;
use mcp_oauth_worker::upstream::oidc::{
    discover, discovery_failed, DiscoveryDocument, OidcProvider, DISCOVERY_RETRY_SECS,
};
use mcp_oauth_worker::upstream::settings::{settings_for, OidcSettings, UpstreamSettings};
use mcp_oauth_worker::upstream::{IdentityProvider, UpstreamError};

// ---------------------------------------------------------------------------------------
// Generic OpenID Connect

fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/auth",
        "token_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/token",
        "userinfo_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/userinfo",
        "jwks_uri": "https://id.example.com/realms/main/protocol/openid-connect/certs",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"]
    })
}

fn oidc_settings() -> OidcSettings {
    match settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "mcp-worker"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ]),
    ) {
        Ok(Some(UpstreamSettings::Oidc(s))) => s,
        other => panic!("{other:?}"),
    }
}

fn oidc_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": "mcp-worker", "sub": "f1c3b2a0-7d1e-4c55-9d0e-2b1c0e5f7a91",
        "exp": NOW + 300, "iat": NOW, "nonce": NONCE,
        "email": "grace@example.com", "email_verified": true,
        "preferred_username": "grace"
    })
}

#[test]
fn discovery_fetches_the_well_known_document_of_the_issuer() {
    let http = FakeHttp::new(vec![json_answer(200, discovery(ISSUER))]);
    let doc = pollster::block_on(discover(&http, ISSUER)).unwrap();
    let request = &http.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.url,
        "https://id.example.com/realms/main/.well-known/openid-configuration"
    );
    assert_eq!(doc.issuer, ISSUER);
    assert_eq!(
        doc.token_endpoint,
        "https://id.example.com/realms/main/protocol/openid-connect/token"
    );

    // A trailing slash is removed before the path is appended (Discovery §4.1).
    let http = FakeHttp::new(vec![json_answer(200, discovery("https://id.example.com/"))]);
    pollster::block_on(discover(&http, "https://id.example.com/")).unwrap();
    assert_eq!(
        http.requests()[0].url,
        "https://id.example.com/.well-known/openid-configuration"
    );
}

#[test]
fn discovery_refuses_another_issuer_insecure_endpoints_and_bad_answers() {
    let run = |answer: Result<OutResponse, String>| {
        let http = FakeHttp::new(vec![answer]);
        pollster::block_on(discover(&http, ISSUER))
    };
    assert!(matches!(
        run(json_answer(200, discovery(&format!("{ISSUER}/")))),
        Err(UpstreamError::Config(_))
    ));
    let mut insecure = discovery(ISSUER);
    insecure["token_endpoint"] = json!("http://id.example.com/token");
    assert!(matches!(
        run(json_answer(200, insecure)),
        Err(UpstreamError::Malformed(_))
    ));
    let mut incomplete = discovery(ISSUER);
    incomplete.as_object_mut().unwrap().remove("token_endpoint");
    assert!(matches!(
        run(json_answer(200, incomplete)),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(json_answer(404, json!({"error": "not found"}))),
        Err(UpstreamError::Config(_))
    ));
    assert!(matches!(
        run(response(200, "text/html", "<html></html>")),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(response(200, "application/json", &" ".repeat(65 * 1024))),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(Err("connection refused".into())),
        Err(UpstreamError::Network(_))
    ));
}

#[test]
fn a_failed_discovery_is_a_temporary_503_that_hides_the_providers_words() {
    let leaky = response(500, "text/plain", "db password is hunter2 at 10.0.0.7");
    let http = FakeHttp::new(vec![leaky]);
    let why = pollster::block_on(discover(&http, ISSUER)).unwrap_err();
    for why in [
        why,
        UpstreamError::Network("tls: internal.example:8443".into()),
    ] {
        let (error, log) = discovery_failed(&why);
        let reply = error.to_reply();
        assert_eq!(reply.status, 503);
        assert_eq!(
            reply.header_value("Retry-After"),
            Some(DISCOVERY_RETRY_SECS.to_string().as_str())
        );
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        let text = String::from_utf8(reply.body.clone()).unwrap();
        for secret in ["hunter2", "10.0.0.7", "internal.example", "500"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(log.contains("discovery failed"), "{log}");
    }
}

#[test]
fn a_discovered_provider_uses_basic_auth_by_default_and_signs_in() {
    let doc: DiscoveryDocument = serde_json::from_value(discovery(ISSUER)).unwrap();
    let provider = OidcProvider::new(oidc_settings(), doc);
    assert_eq!(provider.kind(), "oidc");
    let (base, query) = split_query(&provider.authorize_url(&authorize_params()));
    assert_eq!(
        base,
        "https://id.example.com/realms/main/protocol/openid-connect/auth"
    );
    assert!(query.contains(&("nonce".into(), NONCE.into())));
    assert!(query.iter().all(|(k, _)| k != "access_type"));

    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"access_token": "at-1", "expires_in": 300, "refresh_token": "rt-1",
               "token_type": "Bearer", "id_token": id_token(&oidc_claims())}),
    )]);
    let sign_in = exchange(&provider, &http).unwrap();
    let request = &http.requests()[0];
    // client_secret_basic (the default when discovery lists no method): the secret is
    // in the Authorization header only.
    let basic = header(request, "Authorization").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, format!("mcp-worker:{CLIENT_SECRET}").into_bytes());
    assert!(!form_map(request).contains_key("client_secret"));
    assert!(!form_map(request).contains_key("client_id"));

    assert_eq!(sign_in.user.id, "oidc:f1c3b2a0-7d1e-4c55-9d0e-2b1c0e5f7a91");
    assert_eq!(sign_in.user.login, "grace@example.com");
    assert_eq!(sign_in.user.name.as_deref(), Some("grace"));
    assert_eq!(sign_in.user.provider, "oidc");
    assert_eq!(sign_in.tokens.expires_at, Some(NOW + 300));
}

#[test]
fn client_secret_post_is_used_when_the_provider_lists_it() {
    let mut doc = discovery(ISSUER);
    doc["token_endpoint_auth_methods_supported"] = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    let doc: DiscoveryDocument = serde_json::from_value(doc).unwrap();
    let provider = OidcProvider::new(oidc_settings(), doc);
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"access_token": "at-1", "token_type": "Bearer", "id_token": id_token(&oidc_claims())}),
    )]);
    exchange(&provider, &http).unwrap();
    let request = &http.requests()[0];
    assert_eq!(header(request, "Authorization"), None);
    assert_eq!(form_map(request)["client_secret"], CLIENT_SECRET);
}

#[test]
fn settings_connect_discovers_and_builds_the_configured_provider() {
    let settings = settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "mcp-worker"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ]),
    )
    .unwrap()
    .unwrap();
    assert_eq!(settings.issuer_to_discover(), Some(ISSUER));
    assert!(matches!(
        settings.clone().provider(None),
        Err(UpstreamError::Config(_))
    ));
    let http = FakeHttp::new(vec![json_answer(200, discovery(ISSUER))]);
    let provider = pollster::block_on(settings.connect(&http)).unwrap();
    assert_eq!(provider.kind(), "oidc");

    let github = UpstreamSettings::GitHub(github_settings());
    assert_eq!(github.issuer_to_discover(), None);
    assert_eq!(github.provider(None).unwrap().kind(), "github");
    let http = FakeHttp::new(vec![]);
    let google = pollster::block_on(UpstreamSettings::Google(google_settings(&[])).connect(&http));
    assert_eq!(google.unwrap().kind(), "google");
    assert!(http.requests().is_empty());
}
