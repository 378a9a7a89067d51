//! RFC 7662 token introspection through the core, over the in-memory platform of `tests/common`:
//! what a client learns about its own live tokens, and why everything else is
//! just `{"active": false}` (issue 13).

mod common;

use common::apps_world::*;
use common::*;
use mcp_oauth_worker::oauth::flow;
use serde_json::json;

#[test]
fn a_live_access_token_is_described_in_full() {
    let w = World::new();
    let client = w.confidential("Robot");
    let pair = w.connect(&client);
    let info = w.introspect_as(&client, &s(&pair, "access_token"));
    assert_eq!(
        info,
        json!({
            "active": true,
            "scope": "mcp",
            "client_id": client.client_id,
            "sub": "test:ada-id",
            "aud": RESOURCE,
            "exp": T0 + w.p.config.access_token_ttl,
            "iat": T0,
            "token_type": "access_token",
        })
    );
}

#[test]
fn a_live_refresh_token_is_described_and_the_call_writes_nothing() {
    let w = World::new();
    let client = w.confidential("Robot");
    let pair = w.connect(&client);
    let grant = grant_of(&s(&pair, "refresh_token"));
    let writes = w.p.object_writes(&grant);
    w.p.reset_counts();
    let info = w.introspect_as(&client, &s(&pair, "refresh_token"));
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["aud"], RESOURCE);
    assert_eq!(info["iat"], T0);
    let c = w.p.counts.get();
    assert_eq!((c.kv_writes, c.kv_deletes, c.index_calls), (0, 0, 0));
    assert_eq!(w.p.object_writes(&grant), writes, "read-only");
}

#[test]
fn a_refresh_token_rotated_away_is_inactive_and_asking_is_not_theft() {
    let w = World::new();
    let client = w.confidential("Robot");
    let pair = w.connect(&client);
    w.p.advance(10);
    let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
    assert_eq!(status, 200);
    w.p.advance(3600);
    assert_eq!(
        w.introspect_as(&client, &s(&pair, "refresh_token")),
        json!({"active": false})
    );
    // Introspecting the spent token did not end the grant.
    assert_eq!(
        w.introspect_as(&client, &s(&next, "refresh_token"))["active"],
        true
    );
    assert_eq!(w.refresh(&client, &s(&next, "refresh_token")).0, 200);
}

#[test]
fn revoked_expired_and_unknown_tokens_are_inactive_and_nothing_else() {
    let w = World::new();
    let client = w.confidential("Robot");
    let pair = w.connect(&client);
    let inactive = json!({"active": false});
    for junk in [
        "",
        "nope",
        "mcpa.short.x",
        "mcpc.aaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ] {
        if junk.is_empty() {
            continue;
        }
        assert_eq!(w.introspect_as(&client, junk), inactive, "{junk}");
    }
    // Expired access token.
    w.p.advance(w.p.config.access_token_ttl + 1);
    assert_eq!(
        w.introspect_as(&client, &s(&pair, "access_token")),
        inactive
    );
    // Revoked (RFC 7009): both tokens.
    let (_, next) = w.refresh(&client, &s(&pair, "refresh_token"));
    let site = w.p.site(None);
    let body = form(&[("token", &s(&next, "refresh_token"))]);
    let r = block_on(flow::revoke(
        &site,
        &w.p,
        Some(&basic(&client)),
        FORM,
        &body,
    ))
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        w.introspect_as(&client, &s(&next, "access_token")),
        inactive
    );
    assert_eq!(
        w.introspect_as(&client, &s(&next, "refresh_token")),
        inactive
    );
}

#[test]
fn another_clients_token_is_inactive_to_a_client_but_not_to_the_admin() {
    let w = World::new();
    let mine = w.confidential("Mine");
    let theirs = w.confidential("Theirs");
    let pair = w.connect(&theirs);
    assert_eq!(
        w.introspect_as(&mine, &s(&pair, "access_token")),
        json!({"active": false})
    );
    let admin = format!("Bearer {ADMIN}");
    let r = w.introspect(Some(&admin), &[("token", &s(&pair, "access_token"))]);
    assert_eq!(json_of(&r)["active"], true);
    assert_eq!(json_of(&r)["client_id"], theirs.client_id.as_str());
}

#[test]
fn public_clients_and_wrong_credentials_are_refused() {
    let w = World::new();
    let public = w.public("Public");
    let pair = w.connect(&public);
    let r = w.introspect(
        None,
        &[
            ("token", &s(&pair, "access_token")),
            ("client_id", &public.client_id),
        ],
    );
    assert_eq!(r.status, 401);
    assert_eq!(json_of(&r)["error"], "invalid_client");
    let r = w.introspect(
        Some("Bearer wrong-admin-token-0123456789abcdef"),
        &[("token", &s(&pair, "access_token"))],
    );
    assert_eq!(r.status, 401);
    let r = w.introspect(None, &[("token", &s(&pair, "access_token"))]);
    assert_eq!(r.status, 401);
    // CORS like /token.
    assert_eq!(r.header_value("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn a_missing_token_is_invalid_request() {
    let w = World::new();
    let client = w.confidential("Robot");
    let r = w.introspect(Some(&basic(&client)), &[]);
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["error"], "invalid_request");
}

#[test]
fn the_admin_token_is_ignored_when_none_is_configured() {
    let w = World {
        p: Platform::new(),
        browser: Browser::default(),
    };
    let client = w.confidential("Robot");
    let pair = w.connect(&client);
    let r = w.introspect(
        Some(&format!("Bearer {ADMIN}")),
        &[("token", &s(&pair, "access_token"))],
    );
    assert_eq!(r.status, 401);
}
