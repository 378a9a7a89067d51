//! One browser and one deployment with `ADMIN_TOKEN` set, as the storage fault
//! walk of `tests/storage_faults.rs` drives it: each step of a flow on its own
//! (consent page, provider, callback, token), and the alarms that are due.

use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::account;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::register::Client;
use serde_json::Value;
use std::ops::Deref;

use super::apps_world;
use super::*;

/// The world of the connected apps (`apps_world::World`: one browser, one
/// deployment with `ADMIN_TOKEN` set), with each step of a flow on its own.
pub struct World(apps_world::World);

impl Deref for World {
    type Target = apps_world::World;
    fn deref(&self) -> &apps_world::World {
        &self.0
    }
}

impl World {
    pub fn new() -> World {
        World(apps_world::World::new())
    }

    pub fn authorize_query(client: &Client) -> String {
        authorize_query(&client.client_id, REDIRECT, "st", Some("mcp"))
    }

    /// `GET /authorize`: the consent page.
    pub fn consent_page(&self, client: &Client) -> Reply {
        let page = self
            .browser
            .authorize(&self.p, &World::authorize_query(client));
        assert_eq!(page.status, 200, "{}", body_text(&page));
        page
    }

    pub fn consent_body(page: &Reply) -> Vec<u8> {
        let html = body_text(page);
        form(&[
            ("ticket", &form_field(&html, "ticket")),
            ("csrf", &form_field(&html, "csrf")),
            ("action", "approve"),
        ])
    }

    pub fn to_provider(&self, client: &Client) -> Reply {
        let page = self.consent_page(client);
        let r = self.browser.consent(&self.p, &page, "approve");
        assert_eq!(r.status, 302, "{}", body_text(&r));
        r
    }

    pub fn callback_query(to_provider: &Reply) -> String {
        let state = query_param(&location(to_provider), "state").expect("a state");
        serde_urlencoded::to_string([("state", state.as_str()), ("code", "idp-code")]).unwrap()
    }

    pub fn code_for(&self, client: &Client) -> String {
        let back = self.callback(&self.to_provider(client));
        query_param(&location(&back), "code").expect("a code")
    }

    pub fn redeem_pairs<'a>(client: &'a Client, code: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client.client_id.as_str()),
        ]
    }

    pub fn refresh_pairs<'a>(client: &'a Client, refresh: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client.client_id.as_str()),
        ]
    }

    pub fn token(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        let site = self.p.site(None);
        let r = block_on(flow::token(&site, &self.p, None, FORM, &form(pairs))).unwrap();
        (r.status, json_of(&r))
    }

    pub fn connect(&self, client: &Client) -> Value {
        let code = self.code_for(client);
        let (status, pair) = self.token(&World::redeem_pairs(client, &code));
        assert_eq!(status, 200, "{pair}");
        pair
    }

    pub fn account_csrf(&self) -> String {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        let page = block_on(account::show(&site, &self.p, "")).unwrap();
        form_field(&body_text(&page), "csrf")
    }

    pub fn state(&self, grant_id: &str) -> Option<Value> {
        self.p
            .object_state(grant_id)
            .and_then(|j| serde_json::from_str(&j).ok())
    }

    /// Runs the alarms that are due soon (effect retries), as the platform
    /// would: an alarm that was never set never runs.
    pub fn run_due_alarms(&self) {
        for _ in 0..4 {
            let due: Vec<String> = self
                .p
                .grant_ids()
                .into_iter()
                .filter(|g| {
                    self.p.alarm_in(g).is_some_and(|secs| {
                        secs <= mcp_oauth_worker::oauth::grant::object::EFFECT_RETRY_SECS
                    })
                })
                .collect();
            if due.is_empty() {
                return;
            }
            self.p
                .advance(mcp_oauth_worker::oauth::grant::object::EFFECT_RETRY_SECS + 1);
            for g in due {
                self.p.take_alarm(&g);
                self.p.fire_alarm(&g);
            }
        }
    }
}
