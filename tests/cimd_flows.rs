//! Client ID Metadata Document clients through the flows, over the in-memory
//! platform of `tests/common`: a Claude-like web client and a Claude Code-like
//! loopback client complete, every refusal at `/authorize` and `/token`, and how
//! documents are cached and their fetches metered.

mod common;

use base64::Engine;
use common::cimd_clients::*;
use common::*;
use mcp_oauth_worker::oauth::cimd::{self, FetchError, Fetched};
use serde_json::json;

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
