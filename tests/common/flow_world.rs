//! One browser (its cookie jar) talking to one deployment, through the whole
//! flows as the Worker runs them (authorize, consent, callback, token, revoke,
//! `/mcp`): the world of `tests/grant_flows.rs` and the `tests/grant_*` files
//! split from it.

use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::user::UserContext;
use serde_json::Value;

use super::*;

/// One browser (its cookie jar) talking to one deployment.
pub struct World {
    pub p: Platform,
    pub browser: Browser,
}

impl World {
    pub fn new() -> World {
        World::with(Platform::new())
    }

    pub fn with(p: Platform) -> World {
        World {
            p,
            browser: Browser::default(),
        }
    }

    pub fn authorize_query(&self, client: &Client, scope: &str) -> String {
        authorize_query(&client.client_id, REDIRECT, "client-state", Some(scope))
    }

    pub fn authorize(&self, query: &str) -> Reply {
        self.browser.authorize(&self.p, query)
    }

    pub fn consent(&self, page: &Reply, action: &str) -> Reply {
        self.browser.consent(&self.p, page, action)
    }

    /// The identity provider sends the browser back with `idp_code`.
    pub fn callback(&self, to_provider: &Reply, idp_code: &str) -> Reply {
        self.browser.callback(&self.p, to_provider, idp_code)
    }

    /// Consent, sign-in and callback: the code the client receives.
    pub fn code_for(&self, client: &Client, scope: &str) -> String {
        let back = self
            .browser
            .back_to_client(&self.p, &self.authorize_query(client, scope));
        let to = location(&back);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("client-state"));
        assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
        query_param(&to, "code").expect("a code")
    }

    pub fn token(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        let site = self.p.site(None);
        let reply = block_on(flow::token(&site, &self.p, None, FORM, &form(pairs))).unwrap();
        (reply.status, serde_json::from_slice(&reply.body).unwrap())
    }

    pub fn redeem(&self, client: &Client, code: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &client.client_id),
        ])
    }

    pub fn tokens(&self, client: &Client) -> Value {
        let code = self.code_for(client, "mcp");
        let (status, body) = self.redeem(client, &code);
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn refresh(&self, client: &Client, refresh_token: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.client_id),
        ])
    }

    pub fn revoke(&self, client: &Client, token: &str) -> u16 {
        let site = self.p.site(None);
        let body = form(&[("token", token), ("client_id", &client.client_id)]);
        block_on(flow::revoke(&site, &self.p, None, FORM, &body))
            .unwrap()
            .status
    }

    /// A `/mcp` request with this access token (see `common::mcp_caller`).
    pub fn mcp(&self, access_token: &str) -> Result<UserContext, AccessError> {
        mcp_caller(&self.p, access_token)
    }
}
