//! Remembered consent through the whole flows, over the in-memory platform of `tests/common`:
//! an approval is remembered for what was approved only, and never for a
//! redirect that another app on the machine could take (public clients without
//! an https redirect, loopback, IP literals, special names).

mod common;

use common::flow_world::World;
use common::*;
use serde_json::Value;

#[test]
fn an_approval_is_remembered_for_what_was_approved_only() {
    let w = World::new();
    let client = w.p.register(serde_json::json!({
        "redirect_uris": [REDIRECT],
        "client_name": "Test App",
        "token_endpoint_auth_method": "none",
    }));
    let _ = w.code_for(&client, "mcp");
    // The same request again: no consent page, straight to the provider.
    let again = w.authorize(&w.authorize_query(&client, "mcp"));
    assert_eq!(again.status, 302, "{}", body_text(&again));
    assert!(location(&again).starts_with("https://idp.example/"));
    // A scope the person never saw: the consent page again.
    let wider = w.authorize(&w.authorize_query(&client, "mcp github:repos"));
    assert_eq!(wider.status, 200);
    assert!(body_text(&wider).contains("github:repos"));
}

/// Approves once with `redirect`, then asks again: whether the second request
/// went straight to the provider (the approval stood in for the consent page).
fn skips_consent_the_second_time(metadata: &Value, redirect: &str) -> bool {
    let w = World::new();
    let client = w.p.register(metadata.clone());
    let query = w.authorize_query(&client, "mcp").replace(
        &serde_urlencoded::to_string([("redirect_uri", REDIRECT)]).unwrap(),
        &serde_urlencoded::to_string([("redirect_uri", redirect)]).unwrap(),
    );
    let page = w.authorize(&query);
    assert_eq!(page.status, 200, "{}", body_text(&page));
    assert_eq!(w.consent(&page, "approve").status, 302);
    let again = w.authorize(&query);
    assert!([200, 302].contains(&again.status), "{}", body_text(&again));
    again.status == 302
}

#[test]
fn a_public_client_gets_the_consent_page_every_time_unless_its_redirect_is_https() {
    // RFC 8252 §8.6: anyone can name a public client; a loopback listener or a
    // private-use scheme may be an impersonator, an https redirect may not.
    let loopback = "http://127.0.0.1:7777/callback";
    let scheme = "cursor://anysphere.cursor-mcp/oauth/callback";
    let client = serde_json::json!({
        "redirect_uris": [REDIRECT, loopback, scheme],
        "client_name": "Test App",
        "token_endpoint_auth_method": "none",
    });
    assert!(skips_consent_the_second_time(&client, REDIRECT), "https");
    assert!(
        !skips_consent_the_second_time(&client, loopback),
        "loopback"
    );
    assert!(
        !skips_consent_the_second_time(&client, scheme),
        "private-use scheme"
    );
}

#[test]
fn https_to_loopback_an_ip_literal_or_a_special_name_is_never_remembered() {
    for redirect in [
        "https://127.0.0.1:9443/cb",
        "https://localhost/cb",
        "https://[::1]:8443/cb",
        "https://203.0.113.7/cb",
        "https://intranet/cb",
        "https://app.internal/cb",
        "https://app.example/cb",
    ] {
        for method in ["none", "client_secret_post"] {
            let client = serde_json::json!({
                "redirect_uris": [redirect],
                "client_name": "App",
                "token_endpoint_auth_method": method,
            });
            assert!(
                !skips_consent_the_second_time(&client, redirect),
                "{redirect} ({method})"
            );
        }
    }
}

#[test]
fn a_confidential_client_with_a_loopback_redirect_sees_the_consent_page_too() {
    // Issue 18: remembered consent only for https to a registrable public
    // host, whoever the client is.
    let loopback = "http://127.0.0.1:7777/callback";
    let client = serde_json::json!({
        "redirect_uris": [loopback],
        "client_name": "Server App",
        "token_endpoint_auth_method": "client_secret_post",
    });
    assert!(!skips_consent_the_second_time(&client, loopback));
    let https = serde_json::json!({
        "redirect_uris": [REDIRECT],
        "client_name": "Server App",
        "token_endpoint_auth_method": "client_secret_post",
    });
    assert!(skips_consent_the_second_time(&https, REDIRECT));
}

#[test]
fn an_approval_for_one_client_does_not_cover_another() {
    let w = World::new();
    let a = w.p.public_client();
    let b = w.p.public_client();
    let _ = w.code_for(&a, "mcp");
    let other = w.authorize(&w.authorize_query(&b, "mcp"));
    assert_eq!(other.status, 200, "consent page for the other client");
}
