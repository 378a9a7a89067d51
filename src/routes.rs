//! The route table: which paths exist, which methods each accepts, and how large
//! a body each may carry. Pure, so the 404/405/413 rules are tested natively.

use crate::http::HttpError;

/// Where RFC 9728 §3 metadata is served; clients probe `{this}/mcp` first.
pub const PROTECTED_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// The MCP endpoint, the protected resource.
pub const MCP_PATH: &str = "/mcp";
/// The old URL of the MCP endpoint, served exactly like [`MCP_PATH`] (docs/mcp.md).
pub const SSE_PATH: &str = "/sse";

/// Every endpoint the Worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    /// RFC 8414 metadata, and its OpenID Connect discovery alias.
    AuthorizationServerMetadata,
    /// RFC 9728 metadata, at the bare and the path-suffixed (`/mcp`) location.
    ProtectedResourceMetadata,
    /// RFC 9728 metadata of the `/sse` URL of the MCP endpoint (`resource` = `<origin>/sse`).
    SseResourceMetadata,
    Register,
    /// GET shows the consent page; POST is the consent form's answer.
    Authorize,
    Callback,
    Token,
    Revoke,
    /// The MCP endpoint (Streamable HTTP), at `/mcp` and at its old URL `/sse`.
    Mcp,
    /// The built-in development sign-in page.
    DevLogin,
    /// RFC 7662 token introspection.
    Introspect,
    /// The connected-applications page and its sign-in, revoke and sign-out.
    Account,
    /// The admin API (404 unless `ADMIN_TOKEN` is set; methods checked there,
    /// so a disabled API does not reveal its routes by a 405).
    Admin,
}

impl Route {
    /// Routes a person opens in a browser: their failures are answered as pages.
    pub fn is_page(self) -> bool {
        matches!(
            self,
            Route::Authorize | Route::Callback | Route::DevLogin | Route::Account
        )
    }
}

/// Bodies larger than this are refused before they are read, on every route.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

struct Entry {
    path: &'static str,
    route: Route,
    methods: &'static [&'static str],
    body_limit: usize,
}

/// Form posts (/token, /revoke, consent) are small; 16 KiB is generous.
const FORM_LIMIT: usize = 16 * 1024;
/// JSON-RPC messages to /mcp, batches included.
pub const MCP_BODY_LIMIT: usize = 256 * 1024;

const fn entry(
    path: &'static str,
    route: Route,
    methods: &'static [&'static str],
    body_limit: usize,
) -> Entry {
    Entry {
        path,
        route,
        methods,
        body_limit,
    }
}

const TABLE: &[Entry] = &[
    entry("/health", Route::Health, &["GET", "HEAD"], 0),
    entry(
        "/.well-known/oauth-authorization-server",
        Route::AuthorizationServerMetadata,
        &["GET", "HEAD", "OPTIONS"],
        0,
    ),
    entry(
        "/.well-known/openid-configuration",
        Route::AuthorizationServerMetadata,
        &["GET", "HEAD", "OPTIONS"],
        0,
    ),
    entry(
        "/.well-known/oauth-protected-resource",
        Route::ProtectedResourceMetadata,
        &["GET", "HEAD", "OPTIONS"],
        0,
    ),
    entry(
        "/.well-known/oauth-protected-resource/mcp",
        Route::ProtectedResourceMetadata,
        &["GET", "HEAD", "OPTIONS"],
        0,
    ),
    entry(
        "/.well-known/oauth-protected-resource/sse",
        Route::SseResourceMetadata,
        &["GET", "HEAD", "OPTIONS"],
        0,
    ),
    entry(
        "/register",
        Route::Register,
        &["POST", "OPTIONS"],
        crate::oauth::register::MAX_REGISTRATION_BODY,
    ),
    entry("/authorize", Route::Authorize, &["GET", "POST"], FORM_LIMIT),
    entry("/callback", Route::Callback, &["GET"], 0),
    entry("/token", Route::Token, &["POST", "OPTIONS"], FORM_LIMIT),
    entry("/revoke", Route::Revoke, &["POST", "OPTIONS"], FORM_LIMIT),
    entry(
        "/mcp",
        Route::Mcp,
        &["GET", "POST", "DELETE", "OPTIONS"],
        MCP_BODY_LIMIT,
    ),
    // Configurations written for the old HTTP+SSE transport point at /sse; it serves
    // Streamable HTTP exactly like /mcp (GET gets a 405 naming /mcp, see docs/mcp.md).
    entry(
        "/sse",
        Route::Mcp,
        &["GET", "POST", "DELETE", "OPTIONS"],
        MCP_BODY_LIMIT,
    ),
    entry("/dev/login", Route::DevLogin, &["GET", "POST"], FORM_LIMIT),
    // Issue 13: introspection, the account page, the admin API.
    entry(
        "/introspect",
        Route::Introspect,
        &["POST", "OPTIONS"],
        FORM_LIMIT,
    ),
    entry("/account", Route::Account, &["GET"], 0),
    entry("/account/login", Route::Account, &["GET"], 0),
    entry("/account/revoke", Route::Account, &["POST"], FORM_LIMIT),
    entry("/account/logout", Route::Account, &["POST"], FORM_LIMIT),
    entry("/admin/grants", Route::Admin, ADMIN_METHODS, ADMIN_LIMIT),
    entry(
        "/admin/users/revoke",
        Route::Admin,
        ADMIN_METHODS,
        ADMIN_LIMIT,
    ),
    entry("/admin/clients", Route::Admin, ADMIN_METHODS, ADMIN_LIMIT),
    entry(
        "/admin/clients/delete",
        Route::Admin,
        ADMIN_METHODS,
        ADMIN_LIMIT,
    ),
];

const ADMIN_METHODS: &[&str] = &["GET", "POST"];
/// Admin requests are a small JSON object.
const ADMIN_LIMIT: usize = 4 * 1024;

/// A request matched to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    /// Largest body, in bytes, this route accepts.
    pub body_limit: usize,
}

/// Finds the route for `method` and `path`.
pub fn resolve(method: &str, path: &str) -> Result<Matched, HttpError> {
    let entry = TABLE
        .iter()
        .find(|e| e.path == path)
        .ok_or_else(|| HttpError::NotFound {
            path: path.chars().take(200).collect(),
        })?;
    if !entry.methods.contains(&method) {
        return Err(HttpError::MethodNotAllowed {
            method: method.to_owned(),
            allow: entry.methods,
        });
    }
    Ok(Matched {
        route: entry.route,
        body_limit: entry.body_limit,
    })
}

/// Checks a declared or measured body length against the route's limit.
pub fn check_body_len(matched: &Matched, len: usize) -> Result<(), HttpError> {
    if len > matched.body_limit {
        return Err(HttpError::PayloadTooLarge {
            limit: matched.body_limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_get_and_head() {
        assert_eq!(resolve("GET", "/health").unwrap().route, Route::Health);
        assert_eq!(resolve("HEAD", "/health").unwrap().route, Route::Health);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert!(matches!(
            resolve("GET", "/nope"),
            Err(HttpError::NotFound { .. })
        ));
        assert!(matches!(
            resolve("GET", "/health/"),
            Err(HttpError::NotFound { .. })
        ));
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        match resolve("POST", "/health") {
            Err(HttpError::MethodNotAllowed { allow, .. }) => assert_eq!(allow, &["GET", "HEAD"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issue_13_routes() {
        assert_eq!(
            resolve("POST", "/introspect").unwrap().route,
            Route::Introspect
        );
        assert!(resolve("GET", "/introspect").is_err());
        assert_eq!(resolve("GET", "/account").unwrap().route, Route::Account);
        assert!(resolve("GET", "/account/revoke").is_err());
        // Admin methods are checked behind the ADMIN_TOKEN gate, so a disabled
        // API answers 404 to every method.
        for method in ["GET", "POST"] {
            assert_eq!(
                resolve(method, "/admin/users/revoke").unwrap().route,
                Route::Admin
            );
        }
    }

    #[test]
    fn sse_is_the_mcp_endpoint_with_its_own_resource_metadata() {
        for method in ["GET", "POST", "DELETE", "OPTIONS"] {
            assert_eq!(
                resolve(method, "/sse").unwrap(),
                resolve(method, "/mcp").unwrap()
            );
        }
        assert_eq!(
            resolve("GET", "/.well-known/oauth-protected-resource/sse")
                .unwrap()
                .route,
            Route::SseResourceMetadata
        );
        assert!(matches!(
            resolve("GET", "/sse/"),
            Err(HttpError::NotFound { .. })
        ));
        assert!(matches!(
            resolve("GET", "/messages"),
            Err(HttpError::NotFound { .. })
        ));
    }

    #[test]
    fn bodies_over_the_route_limit_are_refused() {
        let m = resolve("GET", "/health").unwrap();
        assert!(check_body_len(&m, 0).is_ok());
        assert!(matches!(
            check_body_len(&m, 1),
            Err(HttpError::PayloadTooLarge { limit: 0 })
        ));
    }
}
