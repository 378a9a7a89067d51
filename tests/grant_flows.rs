//! Whole flows through the core, as the Worker runs them but over the
//! in-memory platform of `tests/common`: authorize → consent → callback →
//! token → refresh → revoke, and the lifecycle rules that span several of them
//! (single-flight upstream refresh, the sign-in policy on refresh, remembered
//! consent, key rotation, durable effects, several sign-ins in one browser).

mod common;

use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::crypto;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::{self, AccessError};
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::oauth::store::keys;
use mcp_oauth_worker::user::UserContext;
use serde_json::Value;

/// One browser (its cookie jar) talking to one deployment.
struct World {
    p: Platform,
    jar: std::cell::RefCell<Jar>,
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

impl World {
    fn new() -> World {
        World::with(Platform::new())
    }

    fn with(p: Platform) -> World {
        World {
            p,
            jar: Default::default(),
        }
    }

    fn cookies(&self) -> Option<String> {
        self.jar.borrow().header()
    }

    fn keep(&self, reply: Reply) -> Reply {
        self.jar.borrow_mut().take(&reply);
        reply
    }

    fn authorize_query(&self, client: &Client, scope: &str) -> String {
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "client-state"),
            ("scope", scope),
        ])
        .unwrap()
    }

    fn authorize(&self, query: &str) -> Reply {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        let reply = block_on(flow::authorize(&site, &self.p, &*self.p.provider, query)).unwrap();
        self.keep(reply)
    }

    fn consent(&self, page: &Reply, action: &str) -> Reply {
        let html = body_text(page);
        let body = form(&[
            ("ticket", &form_field(&html, "ticket")),
            ("csrf", &form_field(&html, "csrf")),
            ("action", action),
        ]);
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        let reply = block_on(flow::consent(&site, &self.p, &*self.p.provider, &body)).unwrap();
        self.keep(reply)
    }

    /// The identity provider sends the browser back with `idp_code`.
    fn callback(&self, to_provider: &Reply, idp_code: &str) -> Reply {
        let state = query_param(&location(to_provider), "state").expect("a state");
        let query =
            serde_urlencoded::to_string([("state", state.as_str()), ("code", idp_code)]).unwrap();
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        let reply = block_on(flow::callback(
            &site,
            &self.p,
            &*self.p.provider,
            &NoHttp,
            &query,
        ))
        .unwrap();
        self.keep(reply)
    }

    /// Consent, sign-in and callback: the code the client receives.
    fn code_for(&self, client: &Client, scope: &str) -> String {
        let page = self.authorize(&self.authorize_query(client, scope));
        assert_eq!(page.status, 200, "{}", body_text(&page));
        let to_provider = self.consent(&page, "approve");
        assert_eq!(to_provider.status, 302);
        let back = self.callback(&to_provider, "idp-code");
        assert_eq!(back.status, 302, "{}", body_text(&back));
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

    /// What /mcp does: one KV read, then the record's checks.
    fn mcp(&self, access_token: &str) -> Result<UserContext, AccessError> {
        let record = self
            .p
            .kv_get(&keys::access(&crypto::hash_token(access_token)));
        grant::authenticate(
            record.as_deref(),
            access_token,
            &[RESOURCE],
            self.p.now.get(),
            &self.p.config.keyring,
        )
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
