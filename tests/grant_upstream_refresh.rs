//! Refreshing through the whole flows, over the in-memory platform of `tests/common`:
//! the upstream refresh (single flight, an unreachable or refusing provider, a
//! new upstream answer kept when our rotation cannot commit) and the sign-in
//! policy applied again at every refresh (allowed users, the grant's maximum
//! lifetime).

mod common;

use common::flow_world::World;
use common::*;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::AccessError;
use serde_json::Value;

mod upstream_refresh {
    use super::*;

    #[test]
    fn concurrent_refreshes_spend_the_upstream_refresh_token_once() {
        let w = World::new();
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let rt = s(&pair, "refresh_token");
        let site = w.p.site(None);
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client.client_id),
        ]);
        let replies = join_all(
            (0..6)
                .map(|_| flow::token(&site, &w.p, None, FORM, &body))
                .collect(),
        );
        let bodies: Vec<Value> = replies
            .into_iter()
            .map(|r| {
                let r = r.unwrap();
                assert_eq!(r.status, 200, "{}", body_text(&r));
                serde_json::from_slice(&r.body).unwrap()
            })
            .collect();
        assert_eq!(w.p.provider.refresh_calls.get(), 1, "one upstream refresh");
        assert!(bodies.iter().all(|b| b == &bodies[0]), "one pair for all");
        // The upstream answer is what the new access token carries.
        let who = w.mcp(&s(&bodies[0], "access_token")).unwrap();
        assert_eq!(who.upstream_token.unwrap().expose(), "up-access-2");
    }

    #[test]
    fn an_unreachable_provider_changes_nothing_and_the_same_token_works_later() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Down;
        let site = w.p.site(None);
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &s(&pair, "refresh_token")),
            ("client_id", &client.client_id),
        ]);
        let reply = block_on(flow::token(&site, &w.p, None, FORM, &body)).unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header_value("Retry-After"), Some("5"));
        let err: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(s(&err, "error"), "temporarily_unavailable");

        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200, "{next}");
    }

    #[test]
    fn a_new_upstream_answer_is_kept_when_our_rotation_cannot_commit() {
        let w = World::new();
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        // Upstream answers (spending up-refresh-1), then the access record's
        // KV write fails: our rotation is not committed...
        w.p.failing_puts.set(1);
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(
            (status, s(&err, "error")),
            (503, "temporarily_unavailable".into())
        );
        assert_eq!(w.p.provider.refresh_calls.get(), 1);
        // ...but the upstream answer is: the retry never presents up-refresh-1
        // again (the provider would refuse a spent one and end the grant).
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200, "{next}");
        let spent = w.p.provider.spent_refresh_tokens.borrow().clone();
        assert_eq!(spent, ["up-refresh-1", "up-refresh-2"]);
    }

    #[test]
    fn a_provider_that_refuses_ends_the_grant() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Revoked;
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
        assert_eq!(
            w.mcp(&s(&pair, "access_token")).err(),
            Some(AccessError::Invalid)
        );
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Nothing;
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 400, "the grant stays ended");
    }
}

mod sign_in_policy {
    use super::*;

    #[test]
    fn a_user_removed_from_allowed_users_cannot_refresh_and_loses_access() {
        let mut w = World::with(Platform::with_config(config_with(&[(
            "ALLOWED_USERS",
            "ada",
        )])));
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        w.p.config = config_with(&[("ALLOWED_USERS", "grace")]);
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
        assert_eq!(
            w.mcp(&s(&pair, "access_token")).err(),
            Some(AccessError::Invalid),
            "the grant's access tokens end too"
        );
    }

    #[test]
    fn allowed_users_accepts_stable_ids_that_survive_a_rename() {
        let w = World::with(Platform::with_config(config_with(&[(
            "ALLOWED_USERS",
            "Test:ADA-id",
        )])));
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        w.p.provider.user.borrow_mut().login = "ada-renamed".into();
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        // Someone else who took the old login is not let in by it.
        let w2 = World::with(Platform::with_config(config_with(&[(
            "ALLOWED_USERS",
            "test:ada-id",
        )])));
        *w2.p.provider.user.borrow_mut() = user("mallory");
        w2.p.provider.user.borrow_mut().login = "ada".into();
        let client = w2.p.public_client();
        let page = w2.authorize(&w2.authorize_query(&client, "mcp"));
        let to_provider = w2.consent(&page, "approve");
        let back = w2.callback(&to_provider, "idp-code");
        assert_eq!(back.status, 403);
    }

    #[test]
    fn a_grant_ends_at_its_maximum_lifetime_however_often_it_refreshes() {
        let w = World::with(Platform::with_config(config_with(&[
            ("GRANT_MAX_LIFETIME", "7200"),
            ("ACCESS_TOKEN_TTL", "3600"),
        ])));
        let client = w.p.public_client();
        let mut pair = w.tokens(&client);
        w.p.advance(3000);
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        // The access token never outlives the grant.
        assert!(next["expires_in"].as_u64().unwrap() <= 7200 - 3000);
        pair = next;
        w.p.advance(4300);
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
    }

    #[test]
    fn a_retry_in_the_grace_window_past_the_maximum_lifetime_is_refused() {
        let w = World::with(Platform::with_config(config_with(&[
            ("GRANT_MAX_LIFETIME", "3600"),
            ("ACCESS_TOKEN_TTL", "3600"),
        ])));
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        w.p.advance(3590);
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        // A retry of the same refresh, inside the 60 s grace but past the end.
        w.p.advance(20);
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        // (The grant's own end, never past the maximum lifetime, refuses it
        // before the grace window is looked at.)
        assert_eq!(
            (status, s(&err, "error")),
            (400, "invalid_grant".into()),
            "{err}"
        );
    }

    #[test]
    fn a_retry_in_the_grace_window_re_checks_allowed_users() {
        let mut w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        w.p.config.allowed_users = vec!["someone-else".into()];
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(
            (status, s(&err, "error")),
            (400, "invalid_grant".into()),
            "{err}"
        );
    }
}

#[test]
fn sign_in_policy_a_refresh_at_the_very_end_of_a_grant_is_refused() {
    let w = World::with(Platform::with_config(config_with(&[(
        "GRANT_MAX_LIFETIME",
        "7200",
    )])));
    let client = w.p.public_client();
    let pair = w.tokens(&client);
    // Exactly at the end: nothing of the grant is valid any more.
    let created = w.p.now.get();
    w.p.now.set(created + 7200);
    let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
    assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
}
