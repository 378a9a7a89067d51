//! Discovery documents and challenges that point clients at them.
//!
//! - [RFC 8414 §2](https://datatracker.ietf.org/doc/html/rfc8414#section-2): authorization
//!   server metadata.
//! - [RFC 9728 §2–3](https://datatracker.ietf.org/doc/html/rfc9728#section-2): protected
//!   resource metadata, served path-suffixed for `/mcp`.
//! - [RFC 9728 §5.1](https://datatracker.ietf.org/doc/html/rfc9728#section-5.1) and
//!   [RFC 6750 §3](https://datatracker.ietf.org/doc/html/rfc6750#section-3): the
//!   `WWW-Authenticate: Bearer` challenge with `resource_metadata`.
//! - [RFC 9207 §3](https://datatracker.ietf.org/doc/html/rfc9207#section-3):
//!   `authorization_response_iss_parameter_supported`.
//! - MCP authorization spec: `code_challenge_methods_supported` must be present
//!   (clients refuse to go on without it); `offline_access` is never advertised.
//!
//! The issuer is used byte for byte (no trailing slash, no normalization) and
//! every endpoint is built by plain concatenation, because clients compare the
//! `issuer` and the `iss` parameter as strings (RFC 8414 §3.3, RFC 9207 §2.4).

use crate::http::Reply;
use crate::user::ALL_SCOPES;
use serde_json::{json, Value};
use std::cell::RefCell;

/// Where RFC 8414 §3 metadata is served.
pub const AUTHORIZATION_SERVER_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub use crate::challenge::{insufficient_scope_challenge, www_authenticate};
pub use crate::routes::{MCP_PATH, PROTECTED_RESOURCE_METADATA_PATH, SSE_PATH};
/// `resource_name` in the protected resource metadata (RFC 9728 §2).
pub const RESOURCE_NAME: &str = "MCP server";

/// Client authentication methods at the token and revocation endpoints.
/// `private_key_jwt` (RFC 7523) is for Client ID Metadata Document clients.
const AUTH_METHODS: [&str; 4] = [
    "none",
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];
/// JWS algorithms of `private_key_jwt` assertions (verified with WebCrypto).
const AUTH_SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];

/// The RFC 8414 §2 document for `issuer` (an origin such as `https://host`,
/// without a trailing slash).
pub fn authorization_server_metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        // RFC 7662 §2.1: clients that authenticate (and the operator's ADMIN_TOKEN).
        "introspection_endpoint_auth_methods_supported": &AUTH_METHODS[1..],
        "introspection_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        "scopes_supported": ALL_SCOPES,
        "authorization_response_iss_parameter_supported": true,
        // A client_id may be an https URL of a Client ID Metadata Document
        // (src/oauth/cimd.rs); Dynamic Client Registration stays available.
        "client_id_metadata_document_supported": true,
    })
}

/// The answer at `/.well-known/oauth-authorization-server` (and its OpenID
/// alias): the RFC 8414 document, without `registration_endpoint` when
/// registration is closed (`REGISTRATION=off`: clients must not be sent to a
/// door that is closed).
pub fn authorization_server_reply(issuer: &str, registration_open: bool) -> Reply {
    let mut document = authorization_server_metadata(issuer);
    if !registration_open {
        if let Some(fields) = document.as_object_mut() {
            fields.remove("registration_endpoint");
        }
    }
    public_document(&document)
}

/// The answer at `/.well-known/oauth-protected-resource` (RFC 9728 §3).
pub fn protected_resource_reply(resource: &str, issuer: &str) -> Reply {
    public_document(&protected_resource_metadata(resource, issuer))
}

/// A metadata document as served: readable from any origin, cached 5 minutes.
fn public_document(document: &Value) -> Reply {
    with_cors(Reply::json(200, document).header("Cache-Control", "max-age=300"))
}

/// The RFC 9728 §2 document for `resource`, which must be the URL users paste
/// (e.g. `https://host/mcp`) exactly: clients compare it with the server URL.
pub fn protected_resource_metadata(resource: &str, issuer: &str) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        // Never `offline_access`: clients would request it and fail.
        "scopes_supported": ALL_SCOPES,
        // RFC 6750 §2.1 only: tokens in a query string end up in logs.
        "bearer_methods_supported": ["header"],
        "resource_name": RESOURCE_NAME,
    })
}

/// The path-suffixed metadata URL for the `/mcp` resource (RFC 9728 §3.1).
pub fn resource_metadata_url(origin: &str) -> String {
    format!("{origin}{PROTECTED_RESOURCE_METADATA_PATH}{MCP_PATH}")
}

/// The resource identifier of the MCP endpoint (RFC 8707 §2).
pub fn mcp_resource(origin: &str) -> String {
    format!("{origin}{MCP_PATH}")
}

// ---- /sse alias (issue 11). A self-contained block: the MCP endpoint is also served at
// `/sse`, for configurations written for the old HTTP+SSE transport. Both URLs name ONE
// protected resource: a token bound (RFC 8707) to either is accepted at both, and /authorize
// and /token accept either as `resource`. Callers compare resources with `same_resource`.

/// Whether two resource identifiers name this server's one protected resource the same way:
/// byte-equal, or the `/mcp` and `/sse` URLs of the same origin.
pub fn same_resource(a: &str, b: &str) -> bool {
    fn base(r: &str) -> Option<&str> {
        r.strip_suffix(MCP_PATH)
            .or_else(|| r.strip_suffix(SSE_PATH))
    }
    a == b || matches!((base(a), base(b)), (Some(x), Some(y)) if x == y)
}
// ---- end of the /sse alias block

/// CORS headers for the public endpoints (metadata, `/register`, `/token`,
/// `/revoke`, `/mcp`), which browser-based clients such as MCP Inspector call
/// directly. `*` is safe: none of them rely on cookies, and credentials travel
/// in `Authorization`, which a page can only send for itself.
pub fn cors_headers() -> Vec<(String, String)> {
    [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
        (
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID",
        ),
        (
            "Access-Control-Expose-Headers",
            "WWW-Authenticate, Mcp-Session-Id",
        ),
        ("Access-Control-Max-Age", "86400"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Adds the CORS headers ([`cors_headers`]) browser-based clients (MCP Inspector) need.
pub fn with_cors(mut reply: Reply) -> Reply {
    for (k, v) in cors_headers() {
        reply = reply.header(&k, &v);
    }
    reply
}

/// A document rendered once and reused while the issuer stays the same.
///
/// The metadata documents depend on nothing but the issuer, so the shell keeps
/// the finished response per isolate instead of rebuilding a JSON value, four
/// URLs and its headers on every request. One entry only: without `PUBLIC_URL`
/// the issuer is the request's own origin (taken from its `Host`), and a
/// client sending odd hosts must not be able to grow a cache; a different
/// issuer simply renders again and replaces the entry.
pub struct PerIssuer<T> {
    entry: RefCell<Option<(String, T)>>,
}

impl<T: Clone> PerIssuer<T> {
    pub const fn new() -> Self {
        PerIssuer {
            entry: RefCell::new(None),
        }
    }

    /// The document for `issuer`, rendered by `render` only when the cached
    /// one is for another issuer (or there is none yet).
    pub fn get_or_render(&self, issuer: &str, render: impl FnOnce() -> T) -> T {
        self.use_or_render(issuer, render, T::clone)
    }

    /// Like [`PerIssuer::get_or_render`], but lends the document to `f`
    /// instead of cloning it.
    pub fn use_or_render<R>(
        &self,
        issuer: &str,
        render: impl FnOnce() -> T,
        f: impl FnOnce(&T) -> R,
    ) -> R {
        if let Some((cached_issuer, doc)) = self.entry.borrow().as_ref() {
            if cached_issuer == issuer {
                return f(doc);
            }
        }
        let doc = render();
        let out = f(&doc);
        *self.entry.borrow_mut() = Some((issuer.to_owned(), doc));
        out
    }
}

impl<T: Clone> Default for PerIssuer<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_and_sse_urls_of_one_origin_are_the_same_resource() {
        assert!(same_resource("https://h/mcp", "https://h/mcp"));
        assert!(same_resource("https://h/mcp", "https://h/sse"));
        assert!(same_resource("https://h/sse", "https://h/mcp"));
        assert!(!same_resource("https://h/mcp", "https://other/mcp"));
        assert!(!same_resource("https://h/mcp", "https://other/sse"));
        assert!(!same_resource("https://h/mcp", "https://h/mcp/"));
        assert!(!same_resource("https://h/mcp", "https://h"));
        assert!(!same_resource("https://h/mcp", "https://h/other"));
        assert!(!same_resource("https://h/mcp", "https://h.evil/sse"));
    }

    #[test]
    fn closed_registration_is_not_advertised() {
        let open = authorization_server_reply("https://h", true);
        let closed = authorization_server_reply("https://h", false);
        let field = |r: &Reply| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v.get("registration_endpoint").cloned()
        };
        assert_eq!(field(&open), Some(json!("https://h/register")));
        assert_eq!(field(&closed), None);
        for reply in [
            &open,
            &closed,
            &protected_resource_reply("https://h/mcp", "https://h"),
        ] {
            assert_eq!(reply.header_value("Cache-Control"), Some("max-age=300"));
            assert_eq!(reply.header_value("Access-Control-Allow-Origin"), Some("*"));
        }
    }

    #[test]
    fn documents_render_once_per_issuer() {
        let cache = PerIssuer::new();
        let renders = std::cell::Cell::new(0);
        let render = |issuer: &str| {
            renders.set(renders.get() + 1);
            authorization_server_metadata(issuer)
        };
        let a = cache.get_or_render("https://a.example", || render("https://a.example"));
        let again = cache.get_or_render("https://a.example", || render("https://a.example"));
        assert_eq!(a, again);
        assert_eq!(renders.get(), 1, "the second request reuses the document");
        assert_eq!(a["issuer"], "https://a.example");
    }

    #[test]
    fn another_issuer_renders_its_own_document() {
        let cache = PerIssuer::new();
        let a = cache.get_or_render("https://a.example", || {
            authorization_server_metadata("https://a.example")
        });
        let b = cache.get_or_render("https://b.example", || {
            authorization_server_metadata("https://b.example")
        });
        assert_eq!(a["token_endpoint"], "https://a.example/token");
        assert_eq!(b["token_endpoint"], "https://b.example/token");
        // And back: never a document for the wrong issuer.
        let a2 = cache.get_or_render("https://a.example", || {
            authorization_server_metadata("https://a.example")
        });
        assert_eq!(a2["issuer"], "https://a.example");
    }

    #[test]
    fn quoted_values_cannot_break_out_of_the_header() {
        let v = www_authenticate(
            "https://h/x",
            Some(("invalid_token", "a\"b\\c\r\nSet-Cookie: x")),
        );
        assert_eq!(
            v,
            "Bearer error=\"invalid_token\", error_description=\"a\\\"b\\\\c??Set-Cookie: x\", resource_metadata=\"https://h/x\", scope=\"mcp github:repos\""
        );
    }
}
