//! Issue 13 through the core, over the in-memory platform of `tests/common`:
//! RFC 7662 introspection, the admin API, the account page, and the grant
//! index behind the last two (kept outside KV, self-correcting).

mod common;

use base64::Engine;
use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::keys::{client_index, user_index};
use mcp_oauth_worker::oauth::grant::{self, AccessError};
use mcp_oauth_worker::oauth::index::IndexCommand;
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::oauth::store::IndexObjects;
use mcp_oauth_worker::oauth::{account, admin, flow, introspect};
use serde_json::{json, Value};

const ADMIN: &str = "admin-token-0123456789abcdef-0123456789";
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn s(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

fn basic(client: &Client) -> String {
    let raw = format!("{}:s3cret", client.client_id);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// One browser and one deployment (with `ADMIN_TOKEN` set).
struct World {
    p: Platform,
    browser: Browser,
}

impl World {
    fn new() -> World {
        World {
            p: Platform::with_config(config_with(&[("ADMIN_TOKEN", ADMIN)])),
            browser: Browser::default(),
        }
    }

    fn cookies(&self) -> Option<String> {
        self.browser.cookies()
    }

    fn keep(&self, reply: Reply) -> Reply {
        self.browser.keep(reply)
    }

    fn confidential(&self, name: &str) -> Client {
        self.p.register(json!({
            "redirect_uris": [REDIRECT],
            "client_name": name,
            "token_endpoint_auth_method": "client_secret_basic",
        }))
    }

    fn public(&self, name: &str) -> Client {
        self.p.register(json!({
            "redirect_uris": [REDIRECT],
            "client_name": name,
            "token_endpoint_auth_method": "none",
        }))
    }

    fn callback(&self, to_provider: &Reply) -> Reply {
        self.browser.callback(&self.p, to_provider, "idp-code")
    }

    /// Authorize, consent, sign in, redeem: the client's first token pair.
    fn connect(&self, client: &Client) -> Value {
        let query = authorize_query(&client.client_id, REDIRECT, "st", Some("mcp"));
        let code = self.browser.code(&self.p, &query, REDIRECT);
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let auth = self.auth_for(client);
        if auth.is_none() {
            pairs.push(("client_id", client.client_id.as_str()));
        }
        let (status, body) = self.token(auth.as_deref(), &pairs);
        assert_eq!(status, 200, "{body}");
        body
    }

    fn auth_for(&self, client: &Client) -> Option<String> {
        client.client_secret_hash.as_ref().map(|_| basic(client))
    }

    fn token(&self, authorization: Option<&str>, pairs: &[(&str, &str)]) -> (u16, Value) {
        let site = self.p.site(None);
        let reply = block_on(flow::token(
            &site,
            &self.p,
            authorization,
            FORM,
            &form(pairs),
        ))
        .unwrap();
        (reply.status, json_of(&reply))
    }

    fn refresh(&self, client: &Client, refresh_token: &str) -> (u16, Value) {
        let auth = self.auth_for(client);
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if auth.is_none() {
            pairs.push(("client_id", client.client_id.as_str()));
        }
        self.token(auth.as_deref(), &pairs)
    }

    /// A `/mcp` request with this access token (see `common::mcp_caller`).
    fn mcp(&self, access_token: &str) -> Result<(), AccessError> {
        mcp_caller(&self.p, access_token).map(|_| ())
    }

    fn introspect(&self, authorization: Option<&str>, pairs: &[(&str, &str)]) -> Reply {
        let site = self.p.site(None);
        block_on(introspect::introspect(
            &site,
            &self.p,
            authorization,
            FORM,
            &form(pairs),
        ))
        .unwrap()
    }

    fn introspect_as(&self, client: &Client, token: &str) -> Value {
        let reply = self.introspect(Some(&basic(client)), &[("token", token)]);
        assert_eq!(reply.status, 200, "{}", body_text(&reply));
        json_of(&reply)
    }

    // --- the account page, as a browser

    fn account_sign_in(&self) {
        let site = self.p.site(None);
        let to_provider = self.keep(block_on(account::login(&site, &self.p)).unwrap());
        assert_eq!(to_provider.status, 302);
        let back = self.callback(&to_provider);
        assert_eq!(back.status, 302, "{}", body_text(&back));
        assert_eq!(location(&back), "/account");
    }

    fn account_page(&self) -> Reply {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        block_on(account::show(&site, &self.p, "")).unwrap()
    }

    fn account_revoke(&self, pairs: &[(&str, &str)]) -> Reply {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        block_on(account::revoke(&site, &self.p, &form(pairs))).unwrap()
    }
}

fn grant_of(token: &str) -> String {
    grant::parse_token(token).unwrap().1.to_owned()
}

// ---------------------------------------------------------------------------

mod introspection {
    use super::*;

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
}

mod the_index {
    use super::*;

    #[test]
    fn redemption_lists_the_grant_without_a_second_kv_write_and_refresh_touches_no_index() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        assert_eq!(
            w.p.index_grants(&client_index(&client.client_id)),
            vec![grant]
        );
        w.p.reset_counts();
        assert_eq!(w.refresh(&client, &s(&pair, "refresh_token")).0, 200);
        let c = w.p.counts.get();
        assert_eq!((c.kv_writes, c.index_calls), (1, 0));
    }

    #[test]
    fn an_index_that_cannot_be_reached_does_not_hold_back_tokens_and_is_caught_up_by_the_alarm() {
        let w = World::new();
        let client = w.public("App");
        w.p.failing_index_calls.set(1);
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        assert!(w.mcp(&s(&pair, "access_token")).is_ok());
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        assert_eq!(w.p.alarm_in(&grant), Some(30), "a retry is scheduled");
        w.p.fire_alarm(&grant);
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        assert_eq!(
            w.p.index_grants(&client_index(&client.client_id)),
            vec![grant]
        );
    }

    #[test]
    fn a_grant_that_ends_leaves_its_indexes() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let site = w.p.site(None);
        let body = form(&[
            ("token", &s(&pair, "access_token")),
            ("client_id", &client.client_id),
        ]);
        block_on(flow::revoke(&site, &w.p, None, FORM, &body)).unwrap();
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        assert!(w
            .p
            .index_grants(&client_index(&client.client_id))
            .is_empty());
    }

    #[test]
    fn a_grant_that_expires_leaves_its_indexes_when_its_alarm_fires() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        w.p.advance(w.p.config.refresh_token_ttl + 120);
        w.p.fire_alarm(&grant);
        assert!(w.p.object_state(&grant).is_none());
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
    }

    #[test]
    fn a_stale_entry_is_dropped_by_the_next_reader() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        // The grant ends but its index removal is lost for now.
        w.p.failing_index_calls.set(1);
        let site = w.p.site(None);
        let body = form(&[
            ("token", &s(&pair, "access_token")),
            ("client_id", &client.client_id),
        ]);
        block_on(flow::revoke(&site, &w.p, None, FORM, &body)).unwrap();
        assert_eq!(w.p.index_grants(&user_index("test:ada-id")), vec![grant]);
        // The account page asks the grant, which reports it ended.
        w.account_sign_in();
        let page = body_text(&w.account_page());
        assert!(page.contains("No application is connected"), "{page}");
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
    }
}

mod admin_api {
    use super::*;

    fn gate(w: &World, path: &str, authorization: Option<&str>) -> Option<Reply> {
        let site = w.p.site(None);
        admin::gate(&site, path, authorization).err()
    }

    fn bearer() -> String {
        format!("Bearer {ADMIN}")
    }

    #[test]
    fn without_an_admin_token_the_api_does_not_exist() {
        let w = World {
            p: Platform::new(),
            browser: Browser::default(),
        };
        let r = gate(&w, "/admin/clients", Some(&bearer())).unwrap();
        assert_eq!(r.status, 404);
    }

    #[test]
    fn no_token_or_a_wrong_one_is_401() {
        let w = World::new();
        assert_eq!(gate(&w, "/admin/clients", None).unwrap().status, 401);
        let wrong = format!("Bearer {ADMIN}x");
        assert_eq!(
            gate(&w, "/admin/clients", Some(&wrong)).unwrap().status,
            401
        );
        assert_eq!(gate(&w, "/admin/clients", Some(ADMIN)).unwrap().status, 401);
        assert!(gate(&w, "/admin/clients", Some(&bearer())).is_none());
        // The scheme is case-insensitive (RFC 7235 §2.1).
        assert!(gate(&w, "/admin/clients", Some(&format!("bearer {ADMIN}"))).is_none());
    }

    #[test]
    fn revoking_a_user_ends_all_their_grants_and_no_one_elses() {
        let w = World::new();
        let a = w.public("A");
        let b = w.confidential("B");
        let pa = w.connect(&a);
        let pb = w.connect(&b);
        *w.p.provider.user.borrow_mut() = user("grace");
        let pg = w.connect(&a);
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
        assert_eq!(json_of(&list)["grants"].as_array().unwrap().len(), 2);

        let r = block_on(admin::revoke_user(&w.p, br#"{"user_id":"test:ada-id"}"#)).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["revoked_grants"], 2);
        for (client, pair) in [(&a, &pa), (&b, &pb)] {
            assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
            assert_eq!(w.refresh(client, &s(pair, "refresh_token")).0, 400);
        }
        assert!(w.mcp(&s(&pg, "access_token")).is_ok(), "grace keeps hers");
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
        assert!(json_of(&list)["grants"].as_array().unwrap().is_empty());
    }

    #[test]
    fn deleting_a_client_ends_its_grants_and_its_registration() {
        let w = World::new();
        let doomed = w.public("Doomed");
        let kept = w.public("Kept");
        let pd = w.connect(&doomed);
        let pk = w.connect(&kept);
        let body = json!({ "client_id": doomed.client_id }).to_string();
        let r = block_on(admin::delete_client(&w.p, body.as_bytes())).unwrap();
        assert_eq!(r.status, 200, "{}", body_text(&r));
        assert_eq!(json_of(&r)["client_deleted"], true);
        assert_eq!(json_of(&r)["revoked_grants"], 1);
        assert!(w.p.kv_get(&keys::client(&doomed.client_id)).is_none());
        assert_eq!(w.mcp(&s(&pd, "access_token")), Err(AccessError::Invalid));
        let (status, err) = w.refresh(&doomed, &s(&pd, "refresh_token"));
        assert_eq!((status, s(&err, "error")), (401, "invalid_client".into()));
        assert!(w.mcp(&s(&pk, "access_token")).is_ok());
        assert_eq!(w.refresh(&kept, &s(&pk, "refresh_token")).0, 200);
    }

    #[test]
    fn clients_are_listed_a_page_at_a_time() {
        let w = World::new();
        let ids: Vec<String> = (0..5)
            .map(|i| w.public(&format!("App {i}")).client_id)
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("limit=2&cursor={}", urlencoding(c)),
                None => "limit=2".to_owned(),
            };
            let r = block_on(admin::list_clients(&w.p, &query)).unwrap();
            assert_eq!(r.status, 200);
            let page = json_of(&r);
            let clients = page["clients"].as_array().unwrap();
            assert!(clients.len() <= 2);
            seen.extend(clients.iter().map(|c| s(c, "client_id")));
            pages += 1;
            match page["cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(seen, expected);
        let r = block_on(admin::list_clients(&w.p, "limit=0")).unwrap();
        assert_eq!(r.status, 400);
        let r = block_on(admin::list_clients(&w.p, "limit=101")).unwrap();
        assert_eq!(r.status, 400);
    }

    fn urlencoding(v: &str) -> String {
        serde_urlencoded::to_string([("x", v)]).unwrap()[2..].to_owned()
    }

    #[test]
    fn bad_bodies_are_400_with_a_reason() {
        let w = World::new();
        for body in [&b"not json"[..], br#"{"user":"x"}"#, br#"{"user_id":""}"#] {
            let r = block_on(admin::revoke_user(&w.p, body)).unwrap();
            assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
            assert_eq!(json_of(&r)["error"], "invalid_request");
        }
        let r = block_on(admin::user_grants(&w.p, "")).unwrap();
        assert_eq!(r.status, 400);
    }
}

mod account_page {
    use super::*;

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
}

mod upgrade {
    use super::*;

    #[test]
    fn a_grant_from_before_the_index_is_listed_at_its_first_refresh() {
        let w = World::new();
        let client = w.public("Old");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        // As stored before issue 13: no `indexed` flag, no index entries.
        let mut state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        state.as_object_mut().unwrap().remove("indexed");
        w.p.set_object_state(&grant, &state.to_string());
        for index in [user_index("test:ada-id"), client_index(&client.client_id)] {
            let remove = IndexCommand::Remove(grant.clone());
            block_on(w.p.index(&index, &remove)).unwrap();
        }
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        w.p.reset_counts();
        assert_eq!(w.refresh(&client, &s(&next, "refresh_token")).0, 200);
        assert_eq!(w.p.counts.get().index_calls, 0, "only once");
    }
}

mod index_object {
    use super::*;

    #[test]
    fn lists_its_grants_drops_entries_past_their_end_and_is_idempotent() {
        let p = Platform::new();
        let now = p.now.get();
        for (grant_id, ends_at) in [
            ("live-grant-aaaaaaaaaa", now + 1000),
            ("gone-grant-aaaaaaaaaa", now - 1),
        ] {
            let add = IndexCommand::Add(grant_id.into(), ends_at);
            block_on(p.index("user:u", &add)).unwrap();
            // Adding twice (a retried effect) changes nothing.
            block_on(p.index("user:u", &add)).unwrap();
        }
        let listed = block_on(p.index("user:u", &IndexCommand::Page(None, 25))).unwrap();
        assert_eq!(listed, [format!("{}.live-grant-aaaaaaaaaa", now + 1000)]);
        assert_eq!(
            p.index_grants("user:u").len(),
            1,
            "the ended entry is deleted"
        );
        let remove = IndexCommand::Remove("nobody".into());
        assert!(block_on(p.index("user:u", &remove)).is_ok());
    }
}

/// Issue 21: the account page and the admin API read a user's grants a page
/// at a time, with a bounded number of calls per request, show what they
/// could read when one call fails, and "revoke all" continues where it
/// stopped.
mod paging {
    use super::*;
    use mcp_oauth_worker::oauth::connections::PAGE_SIZE;

    /// `n` grants of one user (one client), one second apart.
    fn many(w: &World, n: usize) -> Vec<Value> {
        let client = w.public("Many");
        (0..n)
            .map(|_| {
                w.p.advance(1);
                w.connect(&client)
            })
            .collect()
    }

    fn page_at(w: &World, query: &str) -> Reply {
        let cookies = w.cookies();
        let site = w.p.site(cookies.as_deref());
        block_on(account::show(&site, &w.p, query)).unwrap()
    }

    fn shown(html: &str) -> Vec<String> {
        html.split("data-grant=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
            .collect()
    }

    fn next_link(html: &str) -> Option<String> {
        let at = html.find("id=\"next\" href=\"/account?cursor=")?;
        let rest = &html[at + "id=\"next\" href=\"/account?cursor=".len()..];
        Some(rest.split('"').next()?.to_owned())
    }

    /// The step numbers of the grant-status calls a request makes.
    fn status_steps(w: &World, run: impl Fn() -> Reply) -> Vec<u32> {
        w.p.faults.arm(None);
        run();
        let steps =
            w.p.faults
                .trace
                .borrow()
                .iter()
                .enumerate()
                .filter(|(_, op)| op.starts_with("grant.call status"))
                .map(|(i, _)| i as u32 + 1)
                .collect();
        w.p.faults.disarm();
        steps
    }

    #[test]
    fn the_account_page_shows_a_page_at_a_time_newest_first_with_bounded_calls() {
        let w = World::new();
        let pairs = many(&w, 2 * PAGE_SIZE + 5);
        w.account_sign_in();
        let mut seen: Vec<String> = Vec::new();
        let mut query = String::new();
        let mut pages = 0;
        loop {
            w.p.counts.set(Counts::default());
            let page = page_at(&w, &query);
            assert_eq!(page.status, 200, "{}", body_text(&page));
            let c = w.p.counts.get();
            assert!(c.grant_calls as usize <= PAGE_SIZE, "{c:?}");
            assert!(c.index_calls <= 2, "{c:?}");
            let html = body_text(&page);
            let rows = shown(&html);
            pages += 1;
            seen.extend(rows.iter().cloned());
            match next_link(&html) {
                Some(cursor) => {
                    assert_eq!(rows.len(), PAGE_SIZE);
                    query = format!("cursor={cursor}");
                    if pages > 1 {
                        assert!(
                            html.contains("id=\"first\""),
                            "a later page links the first"
                        );
                    }
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        // Every grant once, newest first across pages.
        let newest_first: Vec<String> = pairs
            .iter()
            .rev()
            .map(|p| grant_of(&s(p, "access_token")))
            .collect();
        assert_eq!(seen, newest_first);
    }

    #[test]
    fn a_bad_cursor_is_a_clear_400_page() {
        let w = World::new();
        many(&w, 1);
        w.account_sign_in();
        for bad in [
            "cursor=x",
            "cursor=12",
            "cursor=.aaaaaaaaaaaaaaaaaaaa",
            "cursor=0.aaaaaaaaaaaaaaaaaaaa",
            "cursor=12.short",
            "cursor=-1.aaaaaaaaaaaaaaaaaaaa",
            "cursor=99999999999999999999999.aaaaaaaaaaaaaaaaaaaa",
            "cursor=12.aaaaaaaaaaaaaaaaaaa%3Cb%3E",
        ] {
            let page = page_at(&w, bad);
            assert_eq!(page.status, 400, "{bad}");
            assert!(body_text(&page).contains("Open /account"), "{bad}");
        }
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id&cursor=x")).unwrap();
        assert_eq!(list.status, 400);
        assert_eq!(json_of(&list)["error"], "invalid_request");
    }

    #[test]
    fn a_grant_that_cannot_be_read_is_left_out_with_a_notice_not_a_failed_page() {
        let w = World::new();
        let pairs = many(&w, 3);
        w.account_sign_in();
        let steps = status_steps(&w, || page_at(&w, ""));
        assert_eq!(steps.len(), 3);
        w.p.faults.arm(Some((steps[1], Fault::Fail)));
        let page = page_at(&w, "");
        w.p.faults.disarm();
        assert_eq!(page.status, 200, "{}", body_text(&page));
        let html = body_text(&page);
        assert!(html.contains("id=\"partial\""), "{html}");
        assert!(html.contains("1 connection on this page could not be read"));
        assert_eq!(shown(&html).len(), 2);
        assert!(html.contains("id=\"revoke-all\""));
        // Nothing was lost: the next view shows all three again.
        let html = body_text(&page_at(&w, ""));
        assert!(!html.contains("id=\"partial\""));
        assert_eq!(shown(&html).len(), 3);
        // The admin list says the same in JSON.
        let steps = status_steps(&w, || {
            block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap()
        });
        w.p.faults.arm(Some((steps[0], Fault::Fail)));
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
        w.p.faults.disarm();
        assert_eq!(list.status, 200);
        let list = json_of(&list);
        assert_eq!(list["grants"].as_array().unwrap().len(), 2);
        assert_eq!(
            list["unavailable"],
            json!([grant_of(&s(&pairs[2], "access_token"))])
        );
    }

    #[test]
    fn revoke_all_ends_a_batch_per_request_and_continues_where_it_stopped() {
        let w = World::new();
        let pairs = many(&w, PAGE_SIZE + 5);
        w.account_sign_in();
        let csrf = form_field(&body_text(&w.account_page()), "csrf");
        w.p.counts.set(Counts::default());
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        assert_eq!(location(&r), format!("/account?revoked={PAGE_SIZE}&left=1"));
        assert!(w.p.counts.get().grant_calls as usize <= PAGE_SIZE);
        let html = body_text(&page_at(&w, &format!("revoked={PAGE_SIZE}&left=1")));
        assert!(html.contains("Some connections remain"), "{html}");
        assert_eq!(shown(&html).len(), 5);
        // One of the remaining five cannot be ended just now (step 5: after
        // the sign-out check and the index page, each a call and its read).
        w.p.faults.arm(Some((5, Fault::Fail)));
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        let trace = w.p.faults.trace.borrow().clone();
        w.p.faults.disarm();
        assert_eq!(trace[4], "grant.call end", "{trace:?}");
        assert_eq!(location(&r), "/account?revoked=4&left=1&failed=1");
        let html = body_text(&page_at(&w, "revoked=4&left=1&failed=1"));
        assert!(html.contains("1 could not be revoked just now"), "{html}");
        assert!(html.contains("id=\"revoke-all\""));
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        assert_eq!(location(&r), "/account?revoked=1");
        for pair in &pairs {
            assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
        }
        assert!(body_text(&w.account_page()).contains("id=\"empty\""));
    }

    #[test]
    fn the_admin_api_pages_the_list_and_revokes_a_batch_per_call() {
        let w = World::new();
        let pairs = many(&w, PAGE_SIZE + 3);
        let first = json_of(&block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap());
        assert_eq!(first["grants"].as_array().unwrap().len(), PAGE_SIZE);
        let next = first["next"].as_str().expect("a next cursor").to_owned();
        let second = json_of(
            &block_on(admin::user_grants(
                &w.p,
                &format!("user_id=test%3Aada-id&cursor={next}"),
            ))
            .unwrap(),
        );
        assert_eq!(second["grants"].as_array().unwrap().len(), 3);
        assert!(second["next"].is_null());

        let body = br#"{"user_id":"test:ada-id"}"#;
        let r = json_of(&block_on(admin::revoke_user(&w.p, body)).unwrap());
        assert_eq!(
            (r["revoked_grants"].clone(), r["complete"].clone()),
            (json!(PAGE_SIZE), json!(false))
        );
        // A grant that cannot be ended: a retryable 503, and the retry finishes.
        w.p.faults.arm(Some((3, Fault::Fail)));
        let r = block_on(admin::revoke_user(&w.p, body));
        let trace = w.p.faults.trace.borrow().clone();
        w.p.faults.disarm();
        assert_eq!(trace[2], "grant.call end", "{trace:?}");
        assert_eq!(
            r.map(|r| r.status).unwrap_or_else(|e| e.to_reply().status),
            503
        );
        let r = json_of(&block_on(admin::revoke_user(&w.p, body)).unwrap());
        assert_eq!(r["complete"], true, "{r}");
        for pair in &pairs {
            assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
        }
    }
}
