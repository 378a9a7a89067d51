//! Client ID Metadata Documents through the core: the client_id URL rules,
//! the document validator, caching, the flows of document clients (Claude-like
//! web, Claude Code-like loopback, ChatGPT-like private_key_jwt) and every
//! refusal, over the in-memory platform of `tests/common`.
//!
//! Signatures here are the stand-in of `common::fake_sign`; the RS256/ES256
//! checks themselves are WebCrypto's and are tested in e2e/cimd.test.mjs.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::cimd::{self, FetchError, Fetched, JWT_BEARER};
use mcp_oauth_worker::oauth::flow;
use serde_json::{json, Value};

const CLAUDE: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";
const CLAUDE_CB: &str = "https://claude.ai/api/mcp/auth_callback";
const CODE: &str = "https://claude.ai/oauth/claude-code-client-metadata";
const GPT: &str = "https://chatgpt.com/oauth/abc/client.json";
const GPT_CB: &str = "https://chatgpt.com/connector/oauth/abc";
const GPT_JWKS: &str = "https://chatgpt.com/oauth/abc/jwks.json";
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn claude_doc() -> Value {
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

fn gpt_key() -> Value {
    json!({"kty": "RSA", "kid": "k1", "n": "abc", "e": "AQAB", "use": "sig", "alg": "RS256"})
}

fn gpt_doc() -> Value {
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
fn authorize(p: &Platform, client_id: &str, redirect: &str) -> Reply {
    Browser::default().authorize(p, &authorize_query(client_id, redirect, "s", None))
}

/// Consent, sign-in, callback in a fresh browser: the code.
fn code_for(p: &Platform, client_id: &str, redirect: &str) -> String {
    let query = authorize_query(client_id, redirect, "s", None);
    Browser::default().code(p, &query, redirect)
}

fn token(p: &Platform, basic: Option<&str>, pairs: &[(&str, &str)]) -> (u16, Value, Reply) {
    let reply = block_on(flow::token(&p.site(None), p, basic, FORM, &form(pairs))).unwrap();
    let v = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, v, reply)
}

fn redeem(
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

// ---------------------------------------------------------------------------
// The client_id URL

#[test]
fn client_id_urls_follow_the_draft() {
    for ok in [
        CLAUDE,
        GPT,
        "https://codex.example.com/cb/123/client.json?redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback%2F123",
        "https://a.example.com:443/x",
    ] {
        assert!(cimd::check_client_id_url(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("http://claude.ai/oauth/x", "https"),
        ("https://claude.ai/oauth/x#frag", "fragment"),
        ("https://user@claude.ai/oauth/x", "user information"),
        ("https://u:p@claude.ai/oauth/x", "user information"),
        ("https://claude.ai", "path"),
        ("https://claude.ai/", "path"),
        ("https://claude.ai/a/../b", "'.'"),
        ("https://claude.ai/a/%2E/b", "'.'"),
        ("https://claude.ai/a b", "RFC 3986"),
        ("ftp://claude.ai/x", "https"),
        // The outbound policy, on the WHATWG parse.
        ("https://a.example.com:8443/x", "port"),
        ("https://0x7f.1/x", "IP address"),
        ("https://[::1]/x", "IP address"),
        ("https://localhost/x", "single-label"),
        ("https://metadata.internal/x", "'.internal'"),
        ("https://codex.example/x", "'.example'"),
    ] {
        let e = cimd::check_client_id_url(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    assert!(cimd::is_document_client_id(CLAUDE));
    assert!(cimd::is_document_client_id("http://x.example/a"));
    assert!(!cimd::is_document_client_id("AbC-_123"));
}

// ---------------------------------------------------------------------------
// The document

fn validate(doc: &Value) -> Result<cimd::DocumentClient, String> {
    cimd::validate_document(CLAUDE, doc.to_string().as_bytes(), T0)
}

#[test]
fn a_claude_document_makes_a_public_client_keyed_on_its_url() {
    let c = validate(&claude_doc()).unwrap();
    assert_eq!(c.client.client_id, CLAUDE);
    assert_eq!(c.client.client_name.as_deref(), Some("Claude"));
    assert_eq!(c.client.redirect_uris.len(), 2);
    assert_eq!(c.client.logo_uri, None, "no images from a document");
    assert_eq!(c.auth_methods, [cimd::DocumentAuth::None]);
    assert!(c.client.client_secret_hash.is_none());
}

#[test]
fn every_broken_document_is_refused_with_its_reason() {
    let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut d = claude_doc();
        f(d.as_object_mut().unwrap());
        d
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|d| {
                d.insert("client_id".into(), json!("https://claude.ai/oauth/other"));
            }),
            "differs",
        ),
        (
            with(&|d| {
                d.insert("client_id".into(), json!(format!("{CLAUDE}/")));
            }),
            "differs",
        ),
        (
            with(&|d| {
                d.remove("client_id");
            }),
            "no client_id",
        ),
        (
            with(&|d| {
                d.remove("client_name");
            }),
            "client_name",
        ),
        (
            with(&|d| {
                d.insert("client_name".into(), json!("a\u{202e}b"));
            }),
            "client_name",
        ),
        (
            with(&|d| {
                d.remove("redirect_uris");
            }),
            "redirect_uris",
        ),
        (
            with(&|d| {
                d.insert("redirect_uris".into(), json!([]));
            }),
            "redirect_uris",
        ),
        (
            with(&|d| {
                d.insert("redirect_uris".into(), json!(["http://evil.example/cb"]));
            }),
            "redirect_uris[0]",
        ),
        (
            with(&|d| {
                d.insert("redirect_uris".into(), json!(["javascript:alert(1)"]));
            }),
            "redirect_uris[0]",
        ),
        (
            with(&|d| {
                d.insert("client_secret".into(), json!("s"));
            }),
            "secret",
        ),
        (
            with(&|d| {
                d.insert("client_secret_expires_at".into(), json!(0));
            }),
            "secret",
        ),
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("tls_client_auth"),
                );
            }),
            "is supported here",
        ),
        // The draft's MUST NOTs: a symmetric method, even next to `none`.
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("client_secret_basic"),
                );
            }),
            "shared secret",
        ),
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_methods_supported".into(),
                    json!(["none", "client_secret_post"]),
                );
            }),
            "client_secret_post",
        ),
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_methods_supported".into(),
                    json!(["private_key_jwt", "client_secret_jwt"]),
                );
                d.insert("jwks".into(), json!({"keys": []}));
            }),
            "client_secret_jwt",
        ),
        // Private key members in an inline key set are refused, not stripped.
        (
            with(&|d| {
                d.insert(
                    "jwks".into(),
                    json!({"keys": [{"kty": "RSA", "n": "n", "e": "AQAB", "d": "PRIVATE"}]}),
                );
            }),
            "private member 'd'",
        ),
        (
            with(&|d| {
                d.insert(
                    "jwks".into(),
                    json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
                );
            }),
            "private member 'k'",
        ),
        // A jwks_uri this server would not fetch.
        (
            with(&|d| {
                d.insert("jwks_uri".into(), json!("https://127.0.0.1/jwks.json"));
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("private_key_jwt"),
                );
            }),
            "jwks_uri",
        ),
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_methods_supported".into(),
                    json!(["self_signed_tls_client_auth"]),
                );
            }),
            "is supported here",
        ),
        (
            with(&|d| {
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("private_key_jwt"),
                );
            }),
            "neither jwks nor jwks_uri",
        ),
        (
            with(&|d| {
                d.insert("grant_types".into(), json!(["client_credentials"]));
            }),
            "authorization_code",
        ),
        (json!(["not", "an", "object"]), "not a JSON object"),
    ];
    for (doc, why) in cases {
        let e = validate(&doc).unwrap_err();
        assert!(e.contains(why), "{doc}: {e}");
    }
    let e = cimd::validate_document(CLAUDE, b"<html>hi</html>", T0).unwrap_err();
    assert!(e.contains("not valid JSON"), "{e}");
    let big = vec![b' '; cimd::MAX_DOCUMENT_BYTES + 1];
    assert!(cimd::validate_document(CLAUDE, &big, T0)
        .unwrap_err()
        .contains("larger"));
}

#[test]
fn auth_methods_come_from_the_multi_valued_field_first() {
    let mut d = gpt_doc();
    d["client_id"] = json!(CLAUDE);
    let c = validate(&d).unwrap();
    assert_eq!(
        c.auth_methods,
        [cimd::DocumentAuth::None, cimd::DocumentAuth::PrivateKeyJwt],
        "the plural field wins over the singular private_key_jwt"
    );
    d.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_methods_supported");
    assert_eq!(
        validate(&d).unwrap().auth_methods,
        [cimd::DocumentAuth::PrivateKeyJwt]
    );
    d.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_method");
    assert_eq!(
        validate(&d).unwrap().auth_methods,
        [cimd::DocumentAuth::None],
        "the default is none"
    );
    // Unknown methods are dropped, not fatal, when one of ours remains.
    d["token_endpoint_auth_methods_supported"] = json!(["tls_client_auth", "none"]);
    assert_eq!(
        validate(&d).unwrap().auth_methods,
        [cimd::DocumentAuth::None]
    );
}

// ---------------------------------------------------------------------------
// Flows

#[test]
fn claude_web_completes_and_its_consent_page_names_the_verified_host() {
    let p = Platform::new();
    p.docs.serve(CLAUDE, &claude_doc(), Some("max-age=3600"));
    let page = authorize(&p, CLAUDE, CLAUDE_CB);
    let html = body_text(&page);
    assert!(html.contains("id=\"verified-host\">claude.ai<"), "{html}");
    assert!(html.contains("calls itself"));
    assert!(!html.contains("logo.png"), "no images from the document");
    assert!(
        !html.contains("loopback-warning"),
        "claude.ai redirects are not loopback"
    );
    let code = code_for(&p, CLAUDE, CLAUDE_CB);
    let (s, v) = redeem(&p, CLAUDE, CLAUDE_CB, &code, &[("resource", RESOURCE)]);
    assert_eq!(s, 200, "{v}");
    // The refresh token works for the same client id URL, and no other.
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", CODE),
        ],
    );
    assert_ne!(s, 200, "{v}");
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", CLAUDE),
        ],
    );
    assert_eq!(s, 200, "{v}");
}

#[test]
fn claude_code_uses_a_portless_loopback_redirect_on_any_port() {
    let p = Platform::new();
    p.docs.serve(
        CODE,
        &json!({
            "client_id": CODE,
            "client_name": "Claude Code",
            "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
        }),
        None,
    );
    let page = authorize(&p, CODE, "http://localhost:49152/callback");
    assert!(body_text(&page).contains("loopback-warning"));
    let redirect = "http://127.0.0.1:53682/callback";
    let code = code_for(&p, CODE, redirect);
    assert_eq!(redeem(&p, CODE, redirect, &code, &[]).0, 200);
    // The port is free; the path is not.
    let wrong = authorize(&p, CODE, "http://127.0.0.1:53682/callback/other");
    assert_eq!(wrong.status, 400);
    assert!(wrong.header_value("location").is_none());
    // A loopback host is not another host.
    assert_eq!(
        authorize(&p, CODE, "http://localhost.evil.example/callback").status,
        400
    );
}

#[test]
fn a_document_is_cached_for_its_lifetime_and_a_failure_never() {
    let p = Platform::new();
    p.docs.serve(CLAUDE, &claude_doc(), Some("max-age=120"));
    authorize(&p, CLAUDE, CLAUDE_CB);
    authorize(&p, CLAUDE, CLAUDE_CB);
    assert_eq!(p.docs.fetch_count(CLAUDE), 1);
    p.advance(121);
    authorize(&p, CLAUDE, CLAUDE_CB);
    assert_eq!(p.docs.fetch_count(CLAUDE), 2, "fetched again after max-age");

    p.docs.answer(CODE, Err(FetchError::Timeout));
    assert_eq!(authorize(&p, CODE, "http://localhost/callback").status, 400);
    assert_eq!(authorize(&p, CODE, "http://localhost/callback").status, 400);
    assert_eq!(p.docs.fetch_count(CODE), 2, "a failure is not cached");
}

#[test]
fn refusals_at_authorize_stay_on_our_page() {
    let p = Platform::new();
    let mut mismatched = claude_doc();
    mismatched["client_id"] = json!("https://claude.ai/oauth/elsewhere");
    p.docs.serve(CLAUDE, &mismatched, None);
    p.docs.answer(
        CODE,
        Ok(Fetched {
            status: 404,
            cache_control: None,
            content_type: Some("application/json".into()),
            body: b"nope".to_vec(),
        }),
    );
    p.docs.answer(
        GPT,
        Ok(Fetched {
            status: 302,
            cache_control: None,
            content_type: Some("application/json".into()),
            body: Vec::new(),
        }),
    );
    // Every fetch failure reads the same (the detail goes to the log only).
    let uniform = cimd::FETCH_FAILED;
    let cases = [
        (CLAUDE, "differs"),
        (CODE, uniform),
        (GPT, uniform),
        ("https://slow.example.com/doc", uniform),
        ("https://127.0.0.1/doc", "does not fetch"),
        ("http://claude.ai/oauth/x", "https"),
        ("https://claude.ai/oauth/x#f", "fragment"),
    ];
    for (id, why) in cases {
        let r = authorize(&p, id, CLAUDE_CB);
        assert_eq!(r.status, 400, "{id}");
        assert!(
            r.header_value("location").is_none(),
            "{id}: never redirected"
        );
        assert!(body_text(&r).contains(why), "{id}: {}", body_text(&r));
    }
    // An unlisted redirect URI of a good document.
    p.docs.serve(
        "https://vscode.dev/oauth/client-metadata.json",
        &json!({
            "client_id": "https://vscode.dev/oauth/client-metadata.json",
            "client_name": "Visual Studio Code",
            "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
        }),
        None,
    );
    let r = authorize(
        &p,
        "https://vscode.dev/oauth/client-metadata.json",
        "https://evil.example/redirect",
    );
    assert_eq!(r.status, 400);
    assert!(r.header_value("location").is_none());
}

#[test]
fn at_token_an_unfetchable_document_is_503_and_an_invalid_one_401() {
    let p = Platform::new();
    p.docs.answer(CLAUDE, Err(FetchError::Timeout));
    let (s, v, reply) = token(
        &p,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", CLAUDE),
        ],
    );
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"], "temporarily_unavailable");
    assert!(reply.header_value("retry-after").is_some());
    p.docs.answer(
        CLAUDE,
        Ok(Fetched {
            status: 502,
            cache_control: None,
            content_type: Some("application/json".into()),
            body: Vec::new(),
        }),
    );
    assert_eq!(
        token(
            &p,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", CLAUDE)
            ]
        )
        .0,
        503
    );
    // Too large reads like any other fetch failure.
    p.docs.answer(CLAUDE, Err(FetchError::TooLarge));
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLAUDE),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(v["error_description"], cimd::FETCH_FAILED);
    // A document served as something else than JSON: refused, and said so.
    p.docs.answer(
        CLAUDE,
        Ok(Fetched {
            status: 200,
            cache_control: None,
            content_type: Some("text/plain".into()),
            body: claude_doc().to_string().into_bytes(),
        }),
    );
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLAUDE),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{v}"
    );
    let mut secret = claude_doc();
    secret["client_secret"] = json!("x");
    p.docs.serve(CLAUDE, &secret, None);
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLAUDE),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn a_document_client_has_no_secret() {
    let p = Platform::new();
    p.docs.serve(CLAUDE, &claude_doc(), None);
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLAUDE),
            ("client_secret", "guess"),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:guess", urlencode(CLAUDE)))
    );
    let (s, v, _) = token(
        &p,
        Some(&basic),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------
// private_key_jwt

fn assertion(claims: Value, key: &Value) -> String {
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    // The core hands the platform only the public members of the key.
    let public = json!({"kty": key["kty"], "n": key["n"], "e": key["e"]});
    let sig = URL_SAFE_NO_PAD.encode(fake_sign(&public, signed.as_bytes()));
    format!("{signed}.{sig}")
}

fn claims(p: &Platform, jti: &str) -> Value {
    json!({
        "iss": GPT, "sub": GPT, "aud": format!("{ISSUER}/token"),
        "exp": p.now.get() + 60, "iat": p.now.get(), "jti": jti,
    })
}

fn gpt_platform() -> (Platform, String) {
    let p = Platform::new();
    p.docs.serve(GPT, &gpt_doc(), None);
    p.docs
        .serve(GPT_JWKS, &json!({"keys": [gpt_key()]}), Some("max-age=600"));
    let code = code_for(&p, GPT, GPT_CB);
    (p, code)
}

fn with_assertion(jwt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", jwt.to_owned()),
    ]
}

fn redeem_with(p: &Platform, code: &str, jwt: &str) -> (u16, Value) {
    let extra = with_assertion(jwt);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redeem(p, GPT, GPT_CB, code, &extra)
}

#[test]
fn chatgpt_authenticates_with_a_signed_assertion() {
    let (p, code) = gpt_platform();
    let jwt = assertion(claims(&p, "j1"), &gpt_key());
    let (s, v) = redeem_with(&p, &code, &jwt);
    assert_eq!(s, 200, "{v}");
    // The same assertion again is a replay, even for a refresh.
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let extra = with_assertion(&jwt);
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            (extra[0].0, &extra[0].1),
            (extra[1].0, &extra[1].1),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(v["error_description"].as_str().unwrap().contains("replay"));
    // client_id is optional next to an assertion: its iss names the client.
    let jwt = assertion(claims(&p, "j2"), &gpt_key());
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(p.docs.fetch_count(GPT_JWKS), 1, "the JWKS is cached");
}

#[test]
fn chatgpt_may_also_send_no_credential_because_its_document_lists_none() {
    let (p, code) = gpt_platform();
    assert_eq!(redeem(&p, GPT, GPT_CB, &code, &[]).0, 200);
}

#[test]
fn a_private_key_jwt_only_client_must_sign() {
    let p = Platform::new();
    let mut doc = gpt_doc();
    doc.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_methods_supported");
    p.docs.serve(GPT, &doc, None);
    p.docs.serve(GPT_JWKS, &json!({"keys": [gpt_key()]}), None);
    let code = code_for(&p, GPT, GPT_CB);
    let (s, v) = redeem(&p, GPT, GPT_CB, &code, &[]);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let jwt = assertion(claims(&p, "j"), &gpt_key());
    assert_eq!(redeem_with(&p, &code, &jwt).0, 200);
}

#[test]
fn every_bad_assertion_is_invalid_client() {
    let (p, code) = gpt_platform();
    let now = p.now.get();
    let other_key = json!({"kty": "RSA", "kid": "k1", "n": "zzz", "e": "AQAB"});
    let mut cases: Vec<(String, &str)> = Vec::new();
    let mut c = claims(&p, "a1");
    c["aud"] = json!("https://elsewhere.example/token");
    cases.push((assertion(c, &gpt_key()), "aud"));
    let mut c = claims(&p, "a2");
    c["exp"] = json!(now - 1);
    cases.push((assertion(c, &gpt_key()), "expired"));
    let mut c = claims(&p, "a3");
    c["exp"] = json!(now + 3600);
    cases.push((assertion(c, &gpt_key()), "ahead"));
    let mut c = claims(&p, "a4");
    c["iss"] = json!(CLAUDE);
    cases.push((assertion(c, &gpt_key()), "iss"));
    let mut c = claims(&p, "a5");
    c["sub"] = json!("someone");
    cases.push((assertion(c, &gpt_key()), "sub"));
    let mut c = claims(&p, "a6");
    c.as_object_mut().unwrap().remove("jti");
    cases.push((assertion(c, &gpt_key()), "jti"));
    cases.push((assertion(claims(&p, "a7"), &other_key), "signature"));
    cases.push(("not.a.jwt".to_owned(), "base64url"));
    cases.push(("onlyonepart".to_owned(), "signed JWT"));
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims(&p, "a8").to_string())
    );
    cases.push((none_alg, "not supported"));
    for (jwt, why) in cases {
        let (s, v) = redeem_with(&p, &code, &jwt);
        assert_eq!(
            (s, v["error"].as_str()),
            (401, Some("invalid_client")),
            "{why}: {v}"
        );
        assert!(
            v["error_description"].as_str().unwrap().contains(why),
            "{why}: {v}"
        );
    }
    // A wrong assertion type.
    let jwt = assertion(claims(&p, "a9"), &gpt_key());
    let (s, _) = redeem(
        &p,
        GPT,
        GPT_CB,
        &code,
        &[
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 401);
    // Nothing above spent the code: a good assertion still redeems it.
    assert_eq!(
        redeem_with(&p, &code, &assertion(claims(&p, "ok"), &gpt_key())).0,
        200
    );
}

#[test]
fn the_issuer_is_an_accepted_audience_and_so_is_the_revocation_endpoint_at_revoke() {
    let (p, code) = gpt_platform();
    let mut c = claims(&p, "i1");
    c["aud"] = json!([ISSUER]);
    let (s, v) = redeem_with(&p, &code, &assertion(c, &gpt_key()));
    assert_eq!(s, 200, "{v}");
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let mut c = claims(&p, "r1");
    c["aud"] = json!(format!("{ISSUER}/revoke"));
    let jwt = assertion(c, &gpt_key());
    let body = form(&[
        ("token", &rt),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &jwt),
    ]);
    let r = block_on(flow::revoke(&p.site(None), &p, None, FORM, &body)).unwrap();
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let (s, _, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", GPT),
        ],
    );
    assert_eq!(s, 400, "revoked");
}

/// How `/token` handles the replay register's answers when two requests carry
/// one assertion: the one answered "first" goes on, the one answered "replay" is
/// refused. The register here is the fake's map (`FakeDocuments::first_use`);
/// the real one, the `AssertionReplay` Durable Object, is raced in workerd by
/// e2e/cimd.test.mjs ("two concurrent uses of one jti").
#[test]
fn the_flow_refuses_the_request_the_register_answers_replay_and_lets_the_other_on() {
    let (p, code) = gpt_platform();
    let jwt = assertion(claims(&p, "race"), &gpt_key());
    // Two refresh attempts would contend on the grant; a live and a bogus code do
    // not, so only the jti register decides.
    let body = |c: &str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", c),
            ("redirect_uri", GPT_CB),
            ("code_verifier", VERIFIER),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ])
    };
    let (a, b) = (body(&code), body("mcpc.AAAAAAAAAAAAAAAAAAAAAA.x"));
    let site = p.site(None);
    let replies = join_all(vec![
        flow::token(&site, &p, None, FORM, &a),
        flow::token(&site, &p, None, FORM, &b),
    ]);
    let answers: Vec<(u16, Value)> = replies
        .iter()
        .map(|r| {
            let r = r.as_ref().unwrap();
            (r.status, serde_json::from_str(&body_text(r)).unwrap())
        })
        .collect();
    let replayed = |(status, v): &&(u16, Value)| {
        *status == 401
            && v["error"] == "invalid_client"
            && v["error_description"] == "this client_assertion was already used (jti replay)"
    };
    assert_eq!(answers.iter().filter(replayed).count(), 1, "{answers:?}");
    // The other passed client authentication: the live code redeems, the bogus
    // one is refused as a grant, not as a client.
    let (status, other) = answers.iter().find(|a| !replayed(a)).unwrap();
    match *status {
        200 => assert!(other["access_token"].is_string(), "{other}"),
        _ => assert_eq!(
            (*status, other["error"].as_str()),
            (400, Some("invalid_grant"))
        ),
    }
    assert_eq!(p.docs.used.borrow().len(), 1, "one jti recorded");
}

#[test]
fn assertions_are_never_accepted_for_registered_clients() {
    let p = Platform::new();
    let client = p.public_client();
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", "a.b.c"),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn the_replay_rule() {
    assert!(cimd::first_use_allowed(None, T0));
    assert!(!cimd::first_use_allowed(Some(T0 + 10), T0));
    assert!(cimd::first_use_allowed(Some(T0 - 1), T0));
}

#[test]
fn a_rotated_key_is_found_by_fetching_the_jwks_once_more() {
    let (p, code) = gpt_platform();
    // Warm the JWKS cache with the old key.
    let (s, v) = redeem_with(&p, &code, &assertion(claims(&p, "w"), &gpt_key()));
    assert_eq!(s, 200, "{v}");
    let rotated = json!({"kty": "RSA", "kid": "k2", "n": "new", "e": "AQAB"});
    p.docs.serve(GPT_JWKS, &json!({"keys": [rotated]}), None);
    // Within the minute after the last fetch, an unknown kid is refused
    // without fetching again.
    let unknown = {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k2"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims(&p, "k2-0").to_string());
        format!("{header}.{payload}.c2ln")
    };
    let rt0 = v["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (s, _, _) = token(
            &p,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt0),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &unknown),
            ],
        );
        assert_eq!(s, 401);
    }
    assert_eq!(
        p.docs.fetch_count(GPT_JWKS),
        1,
        "no refetch within the minute"
    );
    p.advance(cimd::JWKS_REFETCH_SECS);
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k2"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims(&p, "k2-1").to_string());
    let signed = format!("{header}.{payload}");
    let public = json!({"kty": "RSA", "n": "new", "e": "AQAB"});
    let jwt = format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(fake_sign(&public, signed.as_bytes()))
    );
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(p.docs.fetch_count(GPT_JWKS), 2);
}

#[test]
fn key_selection_follows_kid_kty_use_and_alg() {
    let rsa = json!({"kty": "RSA", "kid": "r", "n": "n", "e": "AQAB", "d": "PRIVATE"});
    let ec = json!({"kty": "EC", "kid": "e", "crv": "P-256", "x": "x", "y": "y"});
    let enc = json!({"kty": "RSA", "kid": "x", "n": "n2", "e": "AQAB", "use": "enc"});
    let set = json!({"keys": [rsa, ec, enc]});
    let k = cimd::select_key(&set, cimd::SigAlg::Rs256, None).unwrap();
    assert_eq!(
        k,
        json!({"kty": "RSA", "n": "n", "e": "AQAB"}),
        "only the public members"
    );
    let k = cimd::select_key(&set, cimd::SigAlg::Es256, Some("e")).unwrap();
    assert_eq!(k["crv"], "P-256");
    assert!(
        cimd::select_key(&set, cimd::SigAlg::Rs256, Some("x")).is_err(),
        "an encryption key"
    );
    assert!(
        cimd::select_key(&set, cimd::SigAlg::Es256, Some("r")).is_err(),
        "kty must fit alg"
    );
    let two = json!({"keys": [{"kty": "RSA", "n": "a", "e": "AQAB"}, {"kty": "RSA", "n": "b", "e": "AQAB"}]});
    assert!(cimd::select_key(&two, cimd::SigAlg::Rs256, None)
        .unwrap_err()
        .contains("several"));
    assert!(cimd::select_key(&json!({}), cimd::SigAlg::Rs256, None).is_err());
}

#[test]
fn assertions_with_critical_headers_or_no_signature_are_refused() {
    let crit = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","crit":["exp"]}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&crit)
        .unwrap_err()
        .contains("critical"));
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&unsigned)
        .unwrap_err()
        .contains("not signed"));
    let hs = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&hs)
        .unwrap_err()
        .contains("not supported"));
}

#[test]
fn fetches_to_one_host_are_metered_per_isolate() {
    let p = Platform::new();
    // Distinct URLs on one host (a random query defeats any cache): the host
    // sees at most FETCHES_PER_HOST fetches in a window, then none.
    let n = cimd::FETCHES_PER_HOST as usize;
    for i in 0..n + 5 {
        let r = authorize(
            &p,
            &format!("https://victim.acme-tools.com/x?r={i}"),
            CLAUDE_CB,
        );
        assert_eq!(r.status, 400);
        assert!(body_text(&r).contains(cimd::FETCH_FAILED), "{i}");
    }
    let fetched = (0..n + 5)
        .filter(|i| {
            p.docs
                .fetch_count(&format!("https://victim.acme-tools.com/x?r={i}"))
                > 0
        })
        .count();
    assert_eq!(fetched, n);
    // Another host is not affected; and the next window opens the host again.
    p.docs.serve(CLAUDE, &claude_doc(), None);
    assert_eq!(authorize(&p, CLAUDE, CLAUDE_CB).status, 200);
    p.advance(cimd::FETCH_WINDOW_SECS);
    let _ = authorize(&p, "https://victim.acme-tools.com/x?r=again", CLAUDE_CB);
    assert_eq!(
        p.docs
            .fetch_count("https://victim.acme-tools.com/x?r=again"),
        1
    );
}

#[test]
fn a_full_document_cache_drops_the_least_recently_used() {
    let mut cache = cimd::DocumentCache::default();
    let c = cimd::validate_document(CLAUDE, claude_doc().to_string().as_bytes(), T0).unwrap();
    cache.clients.put(CLAUDE, c.clone(), 60, T0);
    for i in 0..cimd::CACHE_ENTRIES {
        // The legitimate document is read between the attacker's long-lived puts.
        assert!(cache.clients.get(CLAUDE, T0 + 1).is_some(), "{i}");
        cache.clients.put(
            &format!("https://attacker.acme-tools.com/{i}"),
            c.clone(),
            86_400,
            T0,
        );
    }
    assert!(cache.clients.get(CLAUDE, T0 + 2).is_some());
}
