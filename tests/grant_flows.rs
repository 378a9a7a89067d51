//! Whole flows through the core, as the Worker runs them but over the
//! in-memory platform of `tests/common`: authorize → consent → callback →
//! token → refresh → revoke, and the lifecycle rules that span several of them
//! (single-flight upstream refresh, the sign-in policy on refresh, remembered
//! consent, key rotation, durable effects, several sign-ins in one browser).

mod common;

use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::crypto;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::{self, AccessError};
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::user::UserContext;
use serde_json::Value;

/// One browser (its cookie jar) talking to one deployment.
struct World {
    p: Platform,
    browser: Browser,
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

impl World {
    fn new() -> World {
        World::with(Platform::new())
    }

    fn with(p: Platform) -> World {
        World {
            p,
            browser: Browser::default(),
        }
    }

    fn authorize_query(&self, client: &Client, scope: &str) -> String {
        authorize_query(&client.client_id, REDIRECT, "client-state", Some(scope))
    }

    fn authorize(&self, query: &str) -> Reply {
        self.browser.authorize(&self.p, query)
    }

    fn consent(&self, page: &Reply, action: &str) -> Reply {
        self.browser.consent(&self.p, page, action)
    }

    /// The identity provider sends the browser back with `idp_code`.
    fn callback(&self, to_provider: &Reply, idp_code: &str) -> Reply {
        self.browser.callback(&self.p, to_provider, idp_code)
    }

    /// Consent, sign-in and callback: the code the client receives.
    fn code_for(&self, client: &Client, scope: &str) -> String {
        let back = self
            .browser
            .back_to_client(&self.p, &self.authorize_query(client, scope));
        let to = location(&back);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("client-state"));
        assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
        query_param(&to, "code").expect("a code")
    }

    fn token(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        let site = self.p.site(None);
        let reply = block_on(flow::token(&site, &self.p, None, FORM, &form(pairs))).unwrap();
        (reply.status, serde_json::from_slice(&reply.body).unwrap())
    }

    fn redeem(&self, client: &Client, code: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &client.client_id),
        ])
    }

    fn tokens(&self, client: &Client) -> Value {
        let code = self.code_for(client, "mcp");
        let (status, body) = self.redeem(client, &code);
        assert_eq!(status, 200, "{body}");
        body
    }

    fn refresh(&self, client: &Client, refresh_token: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.client_id),
        ])
    }

    fn revoke(&self, client: &Client, token: &str) -> u16 {
        let site = self.p.site(None);
        let body = form(&[("token", token), ("client_id", &client.client_id)]);
        block_on(flow::revoke(&site, &self.p, None, FORM, &body))
            .unwrap()
            .status
    }

    /// A `/mcp` request with this access token (see `common::mcp_caller`).
    fn mcp(&self, access_token: &str) -> Result<UserContext, AccessError> {
        mcp_caller(&self.p, access_token)
    }
}

fn s(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

fn grant_of(token: &str) -> String {
    grant::parse_token(token).unwrap().1.to_owned()
}

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

mod storage_budget {
    use super::*;

    #[test]
    fn code_redemption_and_refresh_each_write_kv_at_most_once() {
        let w = World::new();
        let client = w.p.public_client();
        let code = w.code_for(&client, "mcp");
        w.p.reset_counts();
        let (status, pair) = w.redeem(&client, &code);
        assert_eq!(status, 200);
        let c = w.p.counts.get();
        assert!(
            c.kv_writes <= 1,
            "code redemption wrote KV {} times",
            c.kv_writes
        );
        assert_eq!(c.kv_deletes, 0);

        w.p.reset_counts();
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        let c = w.p.counts.get();
        assert!(c.kv_writes <= 1, "a refresh wrote KV {} times", c.kv_writes);
    }

    #[test]
    fn authorize_and_callback_write_no_kv() {
        let w = World::new();
        let client = w.p.public_client();
        w.p.reset_counts();
        let _ = w.code_for(&client, "mcp");
        assert_eq!(w.p.counts.get().kv_writes, 0);
    }

    #[test]
    fn a_command_that_only_reads_stores_nothing() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        let before = w.p.object_writes(&grant);
        // Another client cannot revoke it: nothing changes, nothing is written.
        let other = w.p.public_client();
        assert_eq!(w.revoke(&other, &s(&pair, "refresh_token")), 200);
        assert_eq!(w.p.object_writes(&grant), before);
    }
}

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

mod remembered_consent {
    use super::*;

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

mod durable_effects {
    use super::*;

    #[test]
    fn a_revocation_whose_deletes_fail_is_finished_by_the_next_command() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let access = s(&pair, "access_token");
        let grant = grant_of(&access);
        w.p.failing_deletes.set(1);
        assert_eq!(w.revoke(&client, &s(&pair, "refresh_token")), 200);
        // Committed: the grant is revoked, its record's delete still pending.
        let state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        assert!(state["revoked_at"].is_u64());
        // The record's delete, then the grant's removal from its user's and
        // client's indexes (issue 13), all pending together.
        let pending = state["pending_effects"].as_array().unwrap();
        assert_eq!(pending.len(), 3);
        assert!(pending[0]["delete"].is_object());
        assert!(pending[1]["index"].is_array() && pending[2]["index"].is_array());
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        // The next command about the grant applies it first.
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 400);
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_none());
        let state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        assert!(state["pending_effects"].as_array().unwrap().is_empty());
    }

    #[test]
    fn deletes_left_pending_keep_an_alarm_until_done() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let access = s(&pair, "access_token");
        let grant = grant_of(&access);
        w.p.failing_deletes.set(2);
        assert_eq!(w.revoke(&client, &s(&pair, "refresh_token")), 200);
        assert_eq!(w.p.alarm_in(&grant), Some(30), "a retry is scheduled");
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        w.p.fire_alarm(&grant); // the second injected failure
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        assert_eq!(w.p.alarm_in(&grant), Some(30), "retried again later");
        w.p.fire_alarm(&grant);
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_none());
    }

    #[test]
    fn a_token_issuance_whose_record_cannot_be_written_commits_nothing() {
        let w = World::new();
        let client = w.p.public_client();
        let code = w.code_for(&client, "mcp");
        w.p.failing_puts.set(1);
        let (status, err) = w.redeem(&client, &code);
        assert_eq!(
            (status, s(&err, "error")),
            (503, "temporarily_unavailable".into())
        );
        // The code was not spent: the client's retry works.
        let (status, pair) = w.redeem(&client, &code);
        assert_eq!(status, 200, "{pair}");
        assert!(w.mcp(&s(&pair, "access_token")).is_ok());
    }

    #[test]
    fn a_grant_state_that_no_longer_decodes_is_an_error_not_an_empty_grant() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let grant = grant_of(&s(&pair, "refresh_token"));
        w.p.set_object_state(&grant, "{\"not\": \"a grant\"}");
        let site = w.p.site(None);
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &s(&pair, "refresh_token")),
            ("client_id", &client.client_id),
        ]);
        let result = block_on(flow::token(&site, &w.p, None, FORM, &body));
        assert!(
            result.is_err(),
            "a fault, answered 500, never 'no such grant'"
        );
        assert_eq!(
            w.p.object_state(&grant).as_deref(),
            Some("{\"not\": \"a grant\"}"),
            "and nothing overwrote it"
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
