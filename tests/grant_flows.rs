//! Whole flows through the core, as the Worker runs them but over the
//! in-memory platform of `tests/common`: authorize → consent → callback →
//! token → refresh → revoke, and the rules that span several of them (key
//! rotation, scope, several sign-ins in one browser, open redirects, the
//! per-isolate access cache, admission). The upstream refresh, remembered
//! consent and what the flows store have their own `tests/grant_*.rs` files.

mod common;

use common::flow_world::World;
use common::*;
use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::user::UserContext;
use serde_json::Value;

mod full_cycle {
    use super::*;

    #[test]
    fn authorize_consent_callback_token_refresh_revoke() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        assert_eq!(s(&pair, "token_type"), "Bearer");
        assert_eq!(s(&pair, "scope"), "mcp");
        let who = w.mcp(&s(&pair, "access_token")).unwrap();
        assert_eq!(who.user.login, "ada");
        assert_eq!(who.client_id.as_deref(), Some(client.client_id.as_str()));

        w.p.advance(10);
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200, "{next}");
        assert_ne!(s(&next, "refresh_token"), s(&pair, "refresh_token"));
        assert!(w.mcp(&s(&next, "access_token")).is_ok());

        assert_eq!(w.revoke(&client, &s(&next, "refresh_token")), 200);
        assert_eq!(
            w.mcp(&s(&next, "access_token")).err(),
            Some(AccessError::Invalid)
        );
        assert_eq!(
            w.mcp(&s(&pair, "access_token")).err(),
            Some(AccessError::Invalid)
        );
        let (status, err) = w.refresh(&client, &s(&next, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
    }

    #[test]
    fn nothing_secret_is_stored_in_the_clear() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let (_, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        let stored = w.p.everything_stored();
        for secret in [
            s(&pair, "access_token"),
            s(&pair, "refresh_token"),
            s(&next, "access_token"),
            s(&next, "refresh_token"),
            "up-access-1".into(),
            "up-refresh-1".into(),
        ] {
            let secret_part = secret.rsplit('.').next().unwrap().to_owned();
            assert!(
                !stored.contains(&secret_part),
                "{secret} stored in the clear"
            );
        }
    }
}

mod key_rotation {
    use super::*;

    const NEW_SECRET: &str = "rotated-server-secret-0123456789abcdef";

    #[test]
    fn rotating_secret_key_with_the_previous_one_kept_signs_nobody_out() {
        let mut w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let code = w.code_for(&client, "mcp");
        w.p.config = config_with(&[("SECRET_KEY", NEW_SECRET), ("SECRET_KEY_PREVIOUS", SECRET)]);
        assert!(w.mcp(&s(&pair, "access_token")).is_ok());
        let (status, _) = w.redeem(&client, &code);
        assert_eq!(status, 200, "a code issued before the rotation");
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200, "{next}");
        // New values are made with the new key: they work once the old is dropped.
        w.p.config = config_with(&[("SECRET_KEY", NEW_SECRET)]);
        assert!(w.mcp(&s(&next, "access_token")).is_ok());
        let (status, _) = w.refresh(&client, &s(&next, "refresh_token"));
        assert_eq!(status, 200);
    }

    #[test]
    fn values_no_key_opens_are_invalid_never_a_server_error() {
        let mut w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let code = w.code_for(&client, "mcp");
        w.p.config = config_with(&[("SECRET_KEY", NEW_SECRET)]);
        let (status, err) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
        let (status, err) = w.redeem(&client, &code);
        assert_eq!((status, s(&err, "error")), (400, "invalid_grant".into()));
        assert_eq!(
            w.mcp(&s(&pair, "access_token")).err(),
            Some(AccessError::Invalid)
        );
    }
}

mod scope {
    use super::*;

    #[test]
    fn a_refresh_may_not_narrow_to_an_empty_scope() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        for empty in ["", "   "] {
            let (status, err) = w.token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &s(&pair, "refresh_token")),
                ("client_id", &client.client_id),
                ("scope", empty),
            ]);
            assert_eq!((status, s(&err, "error")), (400, "invalid_scope".into()));
        }
    }

    #[test]
    fn a_token_without_the_base_scope_is_refused_at_mcp() {
        let w = World::new();
        let client = w.p.public_client();
        let code = w.code_for(&client, "mcp github:repos");
        let (_, pair) = w.redeem(&client, &code);
        let (status, narrowed) = w.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &s(&pair, "refresh_token")),
            ("client_id", &client.client_id),
            ("scope", "github:repos"),
        ]);
        assert_eq!(status, 200);
        assert_eq!(
            w.mcp(&s(&narrowed, "access_token")).err(),
            Some(AccessError::MissingScope)
        );
    }
}

mod one_browser {
    use super::*;

    #[test]
    fn two_consent_pages_open_at_once_both_complete() {
        let w = World::new();
        let a = w.p.public_client();
        let b = w.p.public_client();
        let page_a = w.authorize(&w.authorize_query(&a, "mcp"));
        let page_b = w.authorize(&w.authorize_query(&b, "mcp"));
        let to_a = w.consent(&page_a, "approve");
        assert_eq!(to_a.status, 302, "{}", body_text(&to_a));
        let to_b = w.consent(&page_b, "approve");
        assert_eq!(to_b.status, 302, "{}", body_text(&to_b));
        // Two sign-ins in flight; they come back in the other order.
        let back_b = w.callback(&to_b, "idp-code");
        let back_a = w.callback(&to_a, "idp-code");
        assert_eq!(back_b.status, 302, "{}", body_text(&back_b));
        assert_eq!(back_a.status, 302, "{}", body_text(&back_a));
        assert!(query_param(&location(&back_a), "code").is_some());
        assert!(query_param(&location(&back_b), "code").is_some());
    }

    #[test]
    fn a_consent_from_another_browser_is_refused() {
        let w = World::new();
        let client = w.p.public_client();
        let page = w.authorize(&w.authorize_query(&client, "mcp"));
        w.browser.clear_cookies();
        let reply = w.consent(&page, "approve");
        assert_eq!(reply.status, 403);
    }
}

mod open_redirect {
    use super::*;

    #[test]
    fn errors_before_any_interaction_stay_on_our_page() {
        let w = World::new();
        let client = w.p.public_client();
        for query in [
            // Plain PKCE, no PKCE, a scope the client did not register, a
            // foreign resource, a bad response type. (An unknown scope is
            // dropped, not refused: issue 19.)
            w.authorize_query(&client, "mcp")
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            w.authorize_query(&client, "mcp")
                .replace(&format!("code_challenge={CHALLENGE}"), ""),
            w.authorize_query(
                &w.p.register(serde_json::json!({
                    "redirect_uris": [REDIRECT],
                    "client_name": "Test App",
                    "token_endpoint_auth_method": "none",
                    "scope": "mcp",
                })),
                "github:repos",
            ),
            format!(
                "{}&resource=https%3A%2F%2Fother.example%2Fmcp",
                w.authorize_query(&client, "mcp")
            ),
            w.authorize_query(&client, "mcp")
                .replace("response_type=code", "response_type=token"),
        ] {
            let reply = w.authorize(&query);
            assert_eq!(reply.status, 400, "{query}");
            assert!(reply.header_value("Location").is_none(), "{query}");
            let html = body_text(&reply);
            assert!(
                html.contains("app.example"),
                "names the application's host: {html}"
            );
        }
    }

    #[test]
    fn a_deny_goes_back_to_the_client_with_state_and_iss() {
        let w = World::new();
        let client = w.p.public_client();
        let page = w.authorize(&w.authorize_query(&client, "mcp"));
        let reply = w.consent(&page, "deny");
        assert_eq!(reply.status, 302);
        let to = location(&reply);
        assert!(to.starts_with(REDIRECT));
        assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_param(&to, "state").as_deref(), Some("client-state"));
        assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
    }
}

/// `/mcp`'s check through the per-isolate copies of accepted tokens
/// (`resource::authenticate` with an `Isolate`): what it saves, and what it
/// may never do (outlive a token, serve another resource, keep a refusal, or
/// keep an answer read before a revocation was seen).
mod access_cache {
    use super::*;
    use mcp_oauth_worker::isolate::Isolate;
    use mcp_oauth_worker::oauth::resource::{self, NotAuthenticated, Refusal};
    use mcp_oauth_worker::oauth::store::{
        GrantObjects, IndexObjects, KeyPage, Kv, Store, StoreError,
    };
    use mcp_oauth_worker::outbound::LocalBoxFuture;

    fn check(
        store: &dyn Store,
        p: &Platform,
        cache: &Isolate,
        issuer: &str,
        token: &str,
    ) -> Result<UserContext, Refusal> {
        let header = format!("Bearer {token}");
        block_on(resource::authenticate(
            store,
            cache,
            &p.config,
            issuer,
            Some(&header),
            p.now.get(),
        ))
        .map_err(|e| match e {
            NotAuthenticated::Refused(refusal) => refusal,
            NotAuthenticated::Storage(fault) => panic!("storage fault: {fault:?}"),
        })
    }

    fn signed_in() -> (World, Client, Value) {
        let w = World::new();
        let client = w.p.public_client();
        let tokens = w.tokens(&client);
        (w, client, tokens)
    }

    #[test]
    fn a_token_checked_a_moment_ago_costs_no_read_until_the_cache_time_is_up() {
        let (w, _, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let cache = Isolate::new();
        w.p.reset_counts();
        let first = check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        assert_eq!(w.p.counts.get().kv_reads, 1);
        let ttl = w.p.config.mcp_cache_ttl;
        assert_eq!(ttl, 5, "the default MCP_CACHE_TTL");
        w.p.advance(ttl - 1);
        let again = check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        assert_eq!(w.p.counts.get().kv_reads, 1, "answered from the cache");
        assert_eq!(again.user, first.user);
        assert_eq!(again.scopes, first.scopes);
        w.p.advance(1);
        check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        assert_eq!(
            w.p.counts.get().kv_reads,
            2,
            "read again once the cache time is up"
        );
    }

    #[test]
    fn with_mcp_cache_ttl_0_every_request_reads_the_record() {
        let w = World::with(Platform::with_config(config_with(&[(
            "MCP_CACHE_TTL",
            "0",
        )])));
        let client = w.p.public_client();
        let access = s(&w.tokens(&client), "access_token");
        let cache = Isolate::new();
        w.p.reset_counts();
        for _ in 0..3 {
            check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        }
        assert_eq!(w.p.counts.get().kv_reads, 3);
        assert!(cache.accepted_tokens() == 0);
    }

    #[test]
    fn a_revocation_seen_here_takes_effect_at_once_and_elsewhere_within_the_cache_time() {
        let (w, client, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let other = s(&w.tokens(&client), "access_token");
        // The isolate the flows run in (`Site::isolate`), and another one.
        let here = &w.p.isolate;
        let elsewhere = Isolate::new();
        for token in [&access, &other] {
            check(&w.p, &w.p, here, ISSUER, token).unwrap();
        }
        check(&w.p, &w.p, &elsewhere, ISSUER, &access).unwrap();
        assert_eq!(
            here.accepted_tokens_of(&grant_of(&access), w.p.now.get()),
            1
        );
        // The real revoke flow, in this isolate: it forgets the grant itself.
        assert_eq!(w.revoke(&client, &access), 200);
        assert_eq!(
            here.accepted_tokens_of(&grant_of(&access), w.p.now.get()),
            0
        );
        w.p.reset_counts();
        assert_eq!(
            check(&w.p, &w.p, here, ISSUER, &access).unwrap_err(),
            Refusal::Token(AccessError::Invalid)
        );
        assert_eq!(
            w.p.counts.get().kv_reads,
            1,
            "read again, not answered from the copy"
        );
        // Another grant's token stays trusted without a read.
        w.p.reset_counts();
        check(&w.p, &w.p, here, ISSUER, &other).unwrap();
        assert_eq!(w.p.counts.get().kv_reads, 0);
        // An isolate that did not see the revocation trusts its copy, for a bounded time.
        assert!(check(&w.p, &w.p, &elsewhere, ISSUER, &access).is_ok());
        w.p.advance(w.p.config.mcp_cache_ttl);
        assert_eq!(
            check(&w.p, &w.p, &elsewhere, ISSUER, &access).unwrap_err(),
            Refusal::Token(AccessError::Invalid)
        );
    }

    #[test]
    fn a_refresh_seen_here_forgets_the_rotated_grant() {
        let (w, client, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let other = s(&w.tokens(&client), "access_token");
        let here = &w.p.isolate;
        for token in [&access, &other] {
            check(&w.p, &w.p, here, ISSUER, token).unwrap();
        }
        let grant = grant_of(&access);
        assert_eq!(here.accepted_tokens_of(&grant, w.p.now.get()), 1);
        // A real refresh through the token flow, in this isolate.
        let (status, rotated) = w.refresh(&client, &s(&tokens, "refresh_token"));
        assert_eq!(status, 200, "{rotated}");
        assert_eq!(
            grant_of(&s(&rotated, "access_token")),
            grant,
            "same grant, rotated"
        );
        assert_eq!(
            here.accepted_tokens_of(&grant, w.p.now.get()),
            0,
            "the rotated grant's access record is gone"
        );
        // The old token is checked against storage again, not answered from the copy.
        w.p.reset_counts();
        let _ = check(&w.p, &w.p, here, ISSUER, &access);
        assert_eq!(w.p.counts.get().kv_reads, 1);
        // Only that grant was forgotten.
        w.p.reset_counts();
        check(&w.p, &w.p, here, ISSUER, &other).unwrap();
        assert_eq!(w.p.counts.get().kv_reads, 0);
    }

    #[test]
    fn a_cached_token_never_outlives_its_expiry() {
        let (w, _, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let lifetime = tokens["expires_in"].as_u64().unwrap();
        let cache = Isolate::new();
        w.p.advance(lifetime - 2);
        check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        w.p.advance(1);
        check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        w.p.advance(1);
        assert_eq!(
            check(&w.p, &w.p, &cache, ISSUER, &access).unwrap_err(),
            Refusal::Token(AccessError::Invalid),
            "expired, though checked {}s ago",
            1
        );
    }

    #[test]
    fn a_token_cached_for_one_resource_is_still_refused_at_another() {
        let (w, _, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let cache = Isolate::new();
        let other = "https://other.example";
        assert_eq!(
            check(&w.p, &w.p, &cache, other, &access).unwrap_err(),
            Refusal::Token(AccessError::WrongResource)
        );
        check(&w.p, &w.p, &cache, ISSUER, &access).unwrap();
        assert_eq!(
            check(&w.p, &w.p, &cache, other, &access).unwrap_err(),
            Refusal::Token(AccessError::WrongResource),
            "the cached acceptance is for {ISSUER} only"
        );
    }

    #[test]
    fn refusals_are_never_kept() {
        let (w, _, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let cache = Isolate::new();
        let wrong = format!("{}x", &access[..access.len() - 1]);
        for token in [wrong.as_str(), "junk"] {
            assert!(check(&w.p, &w.p, &cache, ISSUER, token).is_err());
        }
        assert!(cache.accepted_tokens() == 0);
    }

    /// A store whose read is overtaken by a revocation seen in this isolate.
    struct RevokedDuringTheRead<'a> {
        p: &'a Platform,
        cache: &'a Isolate,
    }

    impl Kv for RevokedDuringTheRead<'_> {
        fn get<'a>(
            &'a self,
            key: &'a str,
        ) -> LocalBoxFuture<'a, Result<Option<String>, StoreError>> {
            Box::pin(async move {
                let value = self.p.get(key).await;
                self.cache.forget_all();
                value
            })
        }
        fn put<'a>(
            &'a self,
            key: &'a str,
            value: &'a str,
            ttl: u64,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            self.p.put(key, value, ttl)
        }
        fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            self.p.delete(key)
        }
        fn list_page<'a>(
            &'a self,
            prefix: &'a str,
            cursor: Option<&'a str>,
            limit: usize,
        ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>> {
            self.p.list_page(prefix, cursor, limit)
        }
    }
    impl GrantObjects for RevokedDuringTheRead<'_> {
        fn grant<'a>(
            &'a self,
            grant_id: &'a str,
            command: &'a mcp_oauth_worker::oauth::grant::command::GrantCommand,
        ) -> LocalBoxFuture<
            'a,
            Result<mcp_oauth_worker::oauth::grant::command::GrantAnswer, StoreError>,
        > {
            self.p.grant(grant_id, command)
        }
    }
    impl IndexObjects for RevokedDuringTheRead<'_> {
        fn index<'a>(
            &'a self,
            _: &'a str,
            _: &'a mcp_oauth_worker::oauth::index::IndexCommand,
        ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
            Box::pin(async { Err(StoreError("this store keeps no grant index".into())) })
        }
    }

    #[test]
    fn an_answer_read_before_a_revocation_was_seen_is_not_kept() {
        let (w, _, tokens) = signed_in();
        let access = s(&tokens, "access_token");
        let cache = Isolate::new();
        let store = RevokedDuringTheRead {
            p: &w.p,
            cache: &cache,
        };
        // The request that started first may still be answered with what it read...
        check(&store, &w.p, &cache, ISSUER, &access).unwrap();
        // ...but it leaves nothing for later requests to trust.
        assert!(cache.accepted_tokens() == 0);
    }
}

/// Issue 19: the operator's admission policy and block list at `/authorize`.
mod admission {
    use super::*;
    use mcp_oauth_worker::oauth::policy::{Block, BlockKind, BlockList};

    fn block(w: &World, kind: BlockKind, value: &str) {
        let list = BlockList(vec![Block {
            kind,
            value: value.into(),
            added_at: 1,
            reason: None,
        }]);
        w.p.kv_set("policy:blocked", &list.to_json().to_string());
    }

    #[test]
    fn a_blocked_client_sees_our_page_naming_it_and_the_operator_a_log_line() {
        let w = World::new();
        let client = w.p.public_client();
        block(&w, BlockKind::ClientId, &client.client_id);
        let reply = w.authorize(&w.authorize_query(&client, "mcp"));
        assert_eq!(reply.status, 403);
        assert!(reply.header_value("Location").is_none());
        let html = body_text(&reply);
        assert!(
            html.contains("Test App") && html.contains(&client.client_id),
            "{html}"
        );
        assert!(html.contains("operator has not allowed"), "{html}");
        let log = reply.log.clone().unwrap_or_default();
        assert!(
            log.contains(&format!("client_id={}", client.client_id)),
            "{log}"
        );
    }

    #[test]
    fn a_blocked_id_whose_record_was_deleted_is_still_named_as_blocked() {
        let w = World::new();
        let client = w.p.public_client();
        let query = w.authorize_query(&client, "mcp");
        block(&w, BlockKind::ClientId, &client.client_id);
        w.p.kv_del(&format!("client:{}", client.client_id));
        let reply = w.authorize(&query);
        assert_eq!(reply.status, 403);
        assert!(body_text(&reply).contains(&client.client_id));
    }

    #[test]
    fn an_unblocked_client_is_not_refused() {
        let w = World::new();
        let client = w.p.public_client();
        block(&w, BlockKind::ClientId, "someone-else");
        let reply = w.authorize(&w.authorize_query(&client, "mcp"));
        assert_eq!(reply.status, 200, "{}", body_text(&reply));
        assert!(reply.log.is_none());
    }
}
