//! The account page through the core, over the in-memory platform of `tests/common`:
//! its own sign-in, the connections it lists, and revoking one or all of them
//! behind a CSRF check (issue 13).

mod common;

use common::apps_world::*;
use common::*;
use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::{account, flow};

fn grant_ids(html: &str) -> Vec<String> {
    html.split("data-grant=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn the_sign_in_is_told_apart_at_the_callback_and_stores_nothing() {
    let w = World::new();
    let site = w.p.site(None);
    let to_provider = w.keep(block_on(account::login(&site, &w.p)).unwrap());
    let state = query_param(&location(&to_provider), "state").unwrap();
    assert!(state.starts_with("account."));
    let cookie = to_provider.header_value("Set-Cookie").unwrap();
    assert!(cookie.starts_with("__Host-account-state="), "{cookie}");
    w.p.reset_counts();
    let back = w.callback(&to_provider);
    assert_eq!(location(&back), "/account");
    let c = w.p.counts.get();
    assert_eq!((c.kv_writes, c.grant_calls, c.index_calls), (0, 0, 0));
    let session = back
        .headers
        .iter()
        .find(|(k, v)| k == "Set-Cookie" && v.starts_with("__Host-account="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/",
        "Max-Age=900",
    ] {
        assert!(session.contains(attr), "{session}");
    }
}

#[test]
fn a_sign_in_from_another_browser_is_refused() {
    let w = World::new();
    let site = w.p.site(None);
    let to_provider = block_on(account::login(&site, &w.p)).unwrap(); // cookie not kept
    let back = w.callback(&to_provider);
    assert_eq!(back.status, 400);
    assert_eq!(location(&w.account_page()), "/account/login");
}

#[test]
fn a_user_sees_both_connections_revokes_one_and_the_other_keeps_working() {
    let w = World::new();
    let one = w.public("First <App>");
    let two = w.confidential("Second App");
    let p1 = w.connect(&one);
    let p2 = w.connect(&two);
    w.account_sign_in();
    let page = w.account_page();
    assert_eq!(page.status, 200);
    assert!(page
        .header_value("Content-Security-Policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = body_text(&page);
    assert!(html.contains("First &#60;App&#62;") && !html.contains("First <App>"));
    assert!(html.contains("Second App"));
    assert!(html.contains("app.example"));
    assert!(html.contains(RESOURCE));
    let grants = grant_ids(&html);
    assert_eq!(grants.len(), 2);
    let g1 = grant_of(&s(&p1, "access_token"));
    assert!(grants.contains(&g1));

    let csrf = form_field(&html, "csrf");
    let r = w.account_revoke(&[("csrf", &csrf), ("grant", &g1)]);
    assert_eq!(r.status, 302);
    assert_eq!(location(&r), "/account?revoked=1");
    assert_eq!(w.mcp(&s(&p1, "access_token")), Err(AccessError::Invalid));
    assert_eq!(w.refresh(&one, &s(&p1, "refresh_token")).0, 400);
    assert!(w.mcp(&s(&p2, "access_token")).is_ok());
    assert_eq!(w.refresh(&two, &s(&p2, "refresh_token")).0, 200);
    let html = body_text(&w.account_page());
    assert_eq!(grant_ids(&html), vec![grant_of(&s(&p2, "access_token"))]);
}

#[test]
fn revoke_all_ends_every_grant_of_the_user() {
    let w = World::new();
    let one = w.public("One");
    let two = w.public("Two");
    let p1 = w.connect(&one);
    let p2 = w.connect(&two);
    w.account_sign_in();
    let csrf = form_field(&body_text(&w.account_page()), "csrf");
    let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
    assert_eq!(location(&r), "/account?revoked=2");
    for pair in [&p1, &p2] {
        assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
    }
}

#[test]
fn a_forged_or_missing_csrf_value_revokes_nothing() {
    let w = World::new();
    let one = w.public("One");
    let p1 = w.connect(&one);
    let g1 = grant_of(&s(&p1, "access_token"));
    w.account_sign_in();
    for csrf in ["", "guessed"] {
        let r = w.account_revoke(&[("csrf", csrf), ("grant", &g1)]);
        assert_eq!(r.status, 403);
    }
    let r = w.account_revoke(&[("grant", &g1)]);
    assert_eq!(r.status, 400);
    assert!(w.mcp(&s(&p1, "access_token")).is_ok());
}

#[test]
fn without_a_session_nothing_is_revoked() {
    let w = World::new();
    let one = w.public("One");
    let p1 = w.connect(&one);
    w.account_sign_in();
    let csrf = form_field(&body_text(&w.account_page()), "csrf");
    w.p.advance(account::SESSION_TTL_SECS + 1);
    let r = w.account_revoke(&[
        ("csrf", &csrf),
        ("grant", &grant_of(&s(&p1, "access_token"))),
    ]);
    assert_eq!(r.status, 401);
    assert!(w.mcp(&s(&p1, "access_token")).is_ok());
}

#[test]
fn a_user_cannot_revoke_someone_elses_grant() {
    let w = World::new();
    let one = w.public("One");
    let ada = w.connect(&one);
    *w.p.provider.user.borrow_mut() = user("mallory");
    let own = w.connect(&one);
    w.account_sign_in();
    let html = body_text(&w.account_page());
    assert_eq!(
        grant_ids(&html),
        vec![grant_of(&s(&own, "access_token"))],
        "mallory sees her own grant and none of ada's"
    );
    let csrf = form_field(&html, "csrf");
    let r = w.account_revoke(&[
        ("csrf", &csrf),
        ("grant", &grant_of(&s(&ada, "access_token"))),
    ]);
    assert_eq!(location(&r), "/account?revoked=0");
    assert!(w.mcp(&s(&ada, "access_token")).is_ok());
}

#[test]
fn users_not_allowed_get_no_session() {
    let w = World {
        p: Platform::with_config(config_with(&[("ALLOWED_USERS", "someone-else")])),
        browser: Browser::default(),
    };
    let site = w.p.site(None);
    let to_provider = w.keep(block_on(account::login(&site, &w.p)).unwrap());
    let back = w.callback(&to_provider);
    assert_eq!(back.status, 403);
    assert!(account::session(&w.p.site(w.cookies().as_deref())).is_none());
}

#[test]
fn the_consent_page_and_message_pages_link_to_the_account_page() {
    let html = body_text(&mcp_oauth_worker::web::message_page(400, "x", "y"));
    assert!(html.contains("href=\"/account\""));
    let w = World::new();
    let client = w.public("App");
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let site = w.p.site(None);
    let page = block_on(flow::authorize(&site, &w.p, &w.p, &query)).unwrap();
    assert!(body_text(&page).contains("href=\"/account\""));
}
