//! One browser and one deployment with `ADMIN_TOKEN` set, for the connected
//! apps (issue 13): clients that connect, token introspection, and a user on the
//! account page. The world of `tests/introspection.rs`, `tests/admin_api.rs`,
//! `tests/account_page.rs` and `tests/grant_index.rs`.

use base64::Engine;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::oauth::{account, flow, introspect};
use serde_json::{json, Value};

use super::*;

pub fn basic(client: &Client) -> String {
    let raw = format!("{}:s3cret", client.client_id);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// One browser and one deployment (with `ADMIN_TOKEN` set).
pub struct World {
    pub p: Platform,
    pub browser: Browser,
}

impl World {
    pub fn new() -> World {
        World {
            p: Platform::with_config(config_with(&[("ADMIN_TOKEN", ADMIN)])),
            browser: Browser::default(),
        }
    }

    pub fn cookies(&self) -> Option<String> {
        self.browser.cookies()
    }

    pub fn keep(&self, reply: Reply) -> Reply {
        self.browser.keep(reply)
    }

    pub fn confidential(&self, name: &str) -> Client {
        self.p.register(json!({
            "redirect_uris": [REDIRECT],
            "client_name": name,
            "token_endpoint_auth_method": "client_secret_basic",
        }))
    }

    pub fn public(&self, name: &str) -> Client {
        self.p.register(json!({
            "redirect_uris": [REDIRECT],
            "client_name": name,
            "token_endpoint_auth_method": "none",
        }))
    }

    pub fn callback(&self, to_provider: &Reply) -> Reply {
        self.browser.callback(&self.p, to_provider, "idp-code")
    }

    /// Authorize, consent, sign in, redeem: the client's first token pair.
    pub fn connect(&self, client: &Client) -> Value {
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

    pub fn auth_for(&self, client: &Client) -> Option<String> {
        client.client_secret_hash.as_ref().map(|_| basic(client))
    }

    pub fn token(&self, authorization: Option<&str>, pairs: &[(&str, &str)]) -> (u16, Value) {
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

    pub fn refresh(&self, client: &Client, refresh_token: &str) -> (u16, Value) {
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
    pub fn mcp(&self, access_token: &str) -> Result<(), AccessError> {
        mcp_caller(&self.p, access_token).map(|_| ())
    }

    pub fn introspect(&self, authorization: Option<&str>, pairs: &[(&str, &str)]) -> Reply {
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

    pub fn introspect_as(&self, client: &Client, token: &str) -> Value {
        let reply = self.introspect(Some(&basic(client)), &[("token", token)]);
        assert_eq!(reply.status, 200, "{}", body_text(&reply));
        json_of(&reply)
    }

    // --- the account page, as a browser

    pub fn account_sign_in(&self) {
        let site = self.p.site(None);
        let to_provider = self.keep(block_on(account::login(&site, &self.p)).unwrap());
        assert_eq!(to_provider.status, 302);
        let back = self.callback(&to_provider);
        assert_eq!(back.status, 302, "{}", body_text(&back));
        assert_eq!(location(&back), "/account");
    }

    pub fn account_page(&self) -> Reply {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        block_on(account::show(&site, &self.p, "")).unwrap()
    }

    pub fn account_revoke(&self, pairs: &[(&str, &str)]) -> Reply {
        let cookies = self.cookies();
        let site = self.p.site(cookies.as_deref());
        block_on(account::revoke(&site, &self.p, &form(pairs))).unwrap()
    }
}
