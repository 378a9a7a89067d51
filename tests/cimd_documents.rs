//! Client ID Metadata Documents, the rules before any flow: which client_id
//! URLs are document URLs (the draft's rules), and the document validator with
//! every refusal and its reason.

mod common;

use common::cimd_clients::*;
use common::*;
use mcp_oauth_worker::oauth::cimd::{self};
use serde_json::{json, Value};

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
