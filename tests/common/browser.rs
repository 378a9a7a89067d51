//! A browser walking the authorization flows through the core, as the Worker
//! runs them (`flow::authorize`, `flow::consent`, `flow::callback`), with its
//! cookie jar; the resource server's check of a `/mcp` request; and reading
//! replies (body, `Location`, form fields, query parameters).

use std::cell::RefCell;
use std::collections::BTreeMap;

use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::isolate::Isolate;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::{self, AccessError};
use mcp_oauth_worker::oauth::resource::{self, NotAuthenticated, Refusal};
use mcp_oauth_worker::user::UserContext;
use serde_json::Value;

use super::{block_on, NoHttp, Platform, CHALLENGE, ISSUER};

/// The `Content-Type` of a form post.
pub const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

/// The query of `GET /authorize` for `client_id` at `redirect`, with PKCE
/// (S256, [`CHALLENGE`]), `state` and, when given, `scope`.
pub fn authorize_query(
    client_id: &str,
    redirect: &str,
    state: &str,
    scope: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", state),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    serde_urlencoded::to_string(pairs).unwrap()
}

/// One browser: its cookies. Each step runs a flow over a platform with the
/// cookies the jar holds, and keeps the cookies of the answer.
#[derive(Default)]
pub struct Browser {
    jar: RefCell<Jar>,
}

impl Browser {
    /// The `Cookie` header this browser sends.
    pub fn cookies(&self) -> Option<String> {
        self.jar.borrow().header()
    }

    /// Takes in the cookies `reply` sets.
    pub fn take(&self, reply: &Reply) {
        self.jar.borrow_mut().take(reply);
    }

    /// Takes in the cookies `reply` sets, and hands it back.
    pub fn keep(&self, reply: Reply) -> Reply {
        self.take(&reply);
        reply
    }

    /// Drops every cookie (as another browser would have none).
    pub fn clear_cookies(&self) {
        self.jar.borrow_mut().0.clear();
    }

    /// `GET /authorize?<query>`.
    pub fn authorize(&self, p: &Platform, query: &str) -> Reply {
        let cookies = self.cookies();
        let site = p.site(cookies.as_deref());
        self.keep(block_on(flow::authorize(&site, p, p, query)).unwrap())
    }

    /// `POST /authorize` from the consent `page`: its ticket and CSRF token, and
    /// `action` (`approve` or `deny`).
    pub fn consent(&self, p: &Platform, page: &Reply, action: &str) -> Reply {
        let html = body_text(page);
        let body = form(&[
            ("ticket", &form_field(&html, "ticket")),
            ("csrf", &form_field(&html, "csrf")),
            ("action", action),
        ]);
        let cookies = self.cookies();
        let site = p.site(cookies.as_deref());
        self.keep(block_on(flow::consent(&site, p, p, &body)).unwrap())
    }

    /// The identity provider sends the browser back to `/callback` with
    /// `idp_code` and the state of the redirect `to_provider`.
    pub fn callback(&self, p: &Platform, to_provider: &Reply, idp_code: &str) -> Reply {
        let state = query_param(&location(to_provider), "state").expect("a state");
        let query =
            serde_urlencoded::to_string([("state", state.as_str()), ("code", idp_code)]).unwrap();
        let cookies = self.cookies();
        let site = p.site(cookies.as_deref());
        self.keep(block_on(flow::callback(&site, p, p, &NoHttp, &query)).unwrap())
    }

    /// `GET /authorize?<query>`, then the approval on the consent page (unless
    /// this browser approved exactly this before and goes straight on): the
    /// redirect to the identity provider.
    pub fn to_provider(&self, p: &Platform, query: &str) -> Reply {
        let page = self.authorize(p, query);
        let to_provider = if page.status == 302 {
            page
        } else {
            assert_eq!(page.status, 200, "{}", body_text(&page));
            self.consent(p, &page, "approve")
        };
        assert_eq!(to_provider.status, 302, "{}", body_text(&to_provider));
        to_provider
    }

    /// The whole walk: consent, sign-in at the provider, our callback. The
    /// redirect back to the client.
    pub fn back_to_client(&self, p: &Platform, query: &str) -> Reply {
        let to_provider = self.to_provider(p, query);
        let back = self.callback(p, &to_provider, "idp-code");
        assert_eq!(back.status, 302, "{}", body_text(&back));
        back
    }

    /// [`Browser::back_to_client`]: the code the client receives at `redirect`.
    pub fn code(&self, p: &Platform, query: &str, redirect: &str) -> String {
        let to = location(&self.back_to_client(p, query));
        assert!(to.starts_with(redirect), "{to}");
        query_param(&to, "code").expect("a code")
    }
}

/// A `/mcp` request with `Authorization: Bearer <access_token>`, checked as the
/// shell checks it (`resource::authenticate`: the header, the static token, the
/// record read through the store, audience, expiry, scope), in a fresh isolate
/// (no token accepted before).
pub fn mcp_caller(p: &Platform, access_token: &str) -> Result<UserContext, AccessError> {
    let header = format!("Bearer {access_token}");
    let isolate = Isolate::new();
    let checked = block_on(resource::authenticate(
        p,
        &isolate,
        &p.config,
        ISSUER,
        Some(&header),
        p.now.get(),
    ));
    match checked {
        Ok(user) => Ok(user),
        Err(NotAuthenticated::Refused(Refusal::Token(refused))) => Err(refused),
        Err(NotAuthenticated::Storage(fault)) => panic!("storage fault: {fault:?}"),
        Err(other) => panic!("a bearer header is not refused as {other:?}"),
    }
}

/// The cookies a browser holds for the server, from `Set-Cookie` headers.
#[derive(Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// Takes in every `Set-Cookie` of `reply` (a `Max-Age=0` deletes).
    pub fn take(&mut self, reply: &Reply) {
        for (name, value) in &reply.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let first = value.split(';').next().unwrap_or("");
            let (k, v) = first.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    /// The `Cookie` header the browser sends.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The value of a hidden form field in an HTML page.
pub fn form_field(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).expect("field present") + needle.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A reply's body as JSON (`Null` when it is not JSON).
pub fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

/// A string field of a JSON object (empty when absent).
pub fn s(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

/// The grant id of one of our tokens.
pub fn grant_of(token: &str) -> String {
    grant::parse_token(token).unwrap().1.to_owned()
}

pub fn body_text(reply: &Reply) -> String {
    String::from_utf8(reply.body.clone()).unwrap()
}

pub fn location(reply: &Reply) -> String {
    reply
        .header_value("Location")
        .unwrap_or_else(|| panic!("no Location in a {} reply", reply.status))
        .to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let found = parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    found
}
