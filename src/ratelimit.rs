//! Rate limits: which requests are counted, under which key, by which limiter,
//! and what a refused request is told. Pure; the call to Cloudflare's Workers
//! Rate Limiting binding lives in `cloudflare/ratelimit.rs`.
//!
//! Each [`Limiter`] is one `[[ratelimits]]` binding in `wrangler.toml`, whose
//! `simple.limit` and `simple.period` are the settings (the binding allows only
//! 10 or 60 seconds as the period). The Worker passes nothing but the key, which
//! is the documented way to call the binding, so the numbers live in one place.
//!
//! | limiter | counted per | what |
//! |---|---|---|
//! | `RL_REGISTER` | client IP | `POST /register` |
//! | `RL_TOKEN_IP` | client IP | `POST /token`, `POST /revoke`, `POST /introspect` |
//! | `RL_TOKEN_CLIENT` | `client_id` at one client IP | `POST /token`, `POST /revoke`, `POST /introspect` |
//! | `RL_BROWSER` | client IP | `/authorize` (GET and POST), `GET /callback` |
//! | `RL_BEARER_FAILURE` | client IP | refused bearer tokens at `/mcp` (counted after the refusal) |
//!
//! The client IP is `CF-Connecting-IP`, which Cloudflare sets and a client cannot
//! forge. An IPv6 address counts as its /64, the block one subscriber usually holds.
//!
//! A missing binding means no limit for that limiter (a deployment without the
//! bindings keeps working), and `/health` says so.

use crate::http::Reply;
use crate::oauth::metadata::with_cors;
use crate::routes::Route;

/// One counter with its own limit: a `[[ratelimits]]` binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    Register,
    TokenIp,
    TokenClient,
    Browser,
    BearerFailure,
}

/// Every limiter, in the order `/health` reports them.
pub const ALL_LIMITERS: [Limiter; 5] = [
    Limiter::Register,
    Limiter::TokenIp,
    Limiter::TokenClient,
    Limiter::Browser,
    Limiter::BearerFailure,
];

/// The period the shipped bindings use, and so the `Retry-After` of a refusal:
/// the binding counts in fixed windows of this length, so waiting one period
/// always finds a fresh window.
pub const PERIOD_SECS: u64 = 60;

impl Limiter {
    /// The binding's name in `wrangler.toml`.
    pub fn binding(self) -> &'static str {
        match self {
            Limiter::Register => "RL_REGISTER",
            Limiter::TokenIp => "RL_TOKEN_IP",
            Limiter::TokenClient => "RL_TOKEN_CLIENT",
            Limiter::Browser => "RL_BROWSER",
            Limiter::BearerFailure => "RL_BEARER_FAILURE",
        }
    }

    /// The limit per [`PERIOD_SECS`] that `wrangler.toml` ships with (documented
    /// in the README; the binding itself is what enforces it).
    pub fn default_limit(self) -> u32 {
        match self {
            // A person registers a handful of clients; re-registering the same
            // public client costs no write, but each distinct body costs one.
            Limiter::Register => 10,
            // Code redemptions, refreshes and revocations of every client behind
            // one address (an office NAT, a hosted MCP client's egress).
            Limiter::TokenIp => 120,
            // One app at one address: a runaway client cannot use up its
            // address's `TokenIp` budget for the other apps behind it. Never per
            // `client_id` alone: every user of a public app shares its id (the same
            // registration, or one metadata document URL), and anyone can name
            // it, so a count per id would let one network lock them all out.
            Limiter::TokenClient => 60,
            // A sign-in is three or four requests (authorize, consent, callback).
            Limiter::Browser => 60,
            // Guessing tokens; a client with an expired token fails once, then refreshes.
            Limiter::BearerFailure => 20,
        }
    }
}

/// One counter to increment: the limiter and the key counted under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub limiter: Limiter,
    pub key: String,
}

/// The platform's counters (Workers Rate Limiting bindings in the shell). `over` increments
/// every counter of `checks` and answers whether any of them is over its limit; a counter
/// that cannot be reached counts as not over (failure is open).
pub trait Counters {
    fn over<'a>(&'a self, checks: &'a [Check]) -> crate::outbound::LocalBoxFuture<'a, bool>;
}

/// The counters a request is checked against before its handler runs. `ip` is
/// `CF-Connecting-IP`; `client_id` is what `oauth::client_auth::claimed_client_id` found (for /token
/// and /revoke). CORS preflights are never counted: browsers send them on their
/// own, and they cost nothing.
pub fn checks(route: Route, method: &str, ip: Option<&str>, client_id: Option<&str>) -> Vec<Check> {
    if !is_counted(route, method) {
        return Vec::new();
    }
    let by_ip = |limiter| Check {
        limiter,
        key: ip_key(ip),
    };
    match route {
        Route::Register => vec![by_ip(Limiter::Register)],
        // /introspect too: it may fetch a client's metadata document.
        Route::Token | Route::Revoke | Route::Introspect => {
            let mut checks = vec![by_ip(Limiter::TokenIp)];
            if let Some(id) = client_id {
                checks.push(Check {
                    limiter: Limiter::TokenClient,
                    key: format!("{} {}", client_key(id), ip_key(ip)),
                });
            }
            checks
        }
        // Browser pages: the sign-in, the development provider's page, and the
        // account page (its sign-in, list, revocations, sign-out).
        Route::Authorize | Route::Callback | Route::DevLogin | Route::Account => {
            vec![by_ip(Limiter::Browser)]
        }
        _ => Vec::new(),
    }
}

/// Whether a request to `route` is counted before its handler runs at all, so
/// the shell reads nothing (no header, no binding) for the other routes.
pub fn is_counted(route: Route, method: &str) -> bool {
    method != "OPTIONS"
        && matches!(
            route,
            Route::Register
                | Route::Token
                | Route::Revoke
                | Route::Introspect
                | Route::Authorize
                | Route::Callback
                | Route::DevLogin
                | Route::Account
        )
}

/// The counter of a refused bearer token at `/mcp`. A request without any
/// token is not counted: that is how every MCP client discovers the
/// authorization server, and it costs no storage read.
pub fn bearer_failure_check(ip: Option<&str>, token_presented: bool) -> Option<Check> {
    token_presented.then(|| Check {
        limiter: Limiter::BearerFailure,
        key: ip_key(ip),
    })
}

/// The key of a client address: the address itself for IPv4, the /64 for IPv6,
/// `unknown` when there is none (every such request shares one counter).
/// Read by hand rather than with `std::net`, whose parser and formatter cost
/// more wasm than this whole module.
pub fn ip_key(ip: Option<&str>) -> String {
    let Some(raw) = ip.map(str::trim).filter(|s| !s.is_empty()) else {
        return "unknown".to_owned();
    };
    if is_dotted_quad(raw) {
        return raw.to_owned();
    }
    if let Some(key) = ipv6_key(raw) {
        return key;
    }
    // Not an address (only possible outside Cloudflare): bounded, never trusted.
    format!("other:{}", short_hash(raw))
}

fn is_dotted_quad(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `a:b:c:d::/64` for an IPv6 address (`::` compression allowed), or the IPv4
/// address of an IPv4-mapped one; `None` for anything else.
fn ipv6_key(raw: &str) -> Option<String> {
    if raw.len() > 45 || !raw.contains(':') {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    if let Some(v4) = lower
        .strip_prefix("::ffff:")
        .filter(|v4| is_dotted_quad(v4))
    {
        return Some(v4.to_owned());
    }
    let groups = |part: &str| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        part.split(':')
            .map(|g| {
                (1..=4)
                    .contains(&g.len())
                    .then(|| u16::from_str_radix(g, 16).ok())
                    .flatten()
            })
            .collect()
    };
    let all = match lower.split_once("::") {
        None => groups(&lower).filter(|g| g.len() == 8)?,
        Some((head, tail)) => {
            let (mut head, tail) = (groups(head)?, groups(tail)?);
            if head.len() + tail.len() > 7 {
                return None;
            }
            head.resize(8 - tail.len(), 0);
            head.extend(tail);
            head
        }
    };
    Some(format!(
        "{:x}:{:x}:{:x}:{:x}::/64",
        all[0], all[1], all[2], all[3]
    ))
}

/// The key of a `client_id`. Ids this server issues are short base64url; any
/// other value is hashed, so a key stays short whatever the request carries.
pub fn client_key(client_id: &str) -> String {
    let plain = client_id.len() <= 64
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        client_id.to_owned()
    } else {
        format!("h:{}", short_hash(client_id))
    }
}

fn short_hash(value: &str) -> String {
    crate::oauth::crypto::hash_token(value)[..32].to_owned()
}

/// The answer to a request over a limit: 429 with `Retry-After`; an HTML page
/// on the endpoints a browser shows, a JSON error (RFC 6749 §5.2 shape, with
/// CORS so browser-based clients can read it) everywhere else.
pub fn refused(route: Route) -> Reply {
    let retry = PERIOD_SECS.to_string();
    let reply = match route {
        Route::Authorize | Route::Callback | Route::DevLogin | Route::Account => crate::web::message_page(
            429,
            "Too many requests",
            &format!(
                "Too many sign-in requests came from your network. Wait {PERIOD_SECS} seconds, then start again from your MCP client."
            ),
        ),
        _ => {
            let reply = Reply::json(
                429,
                &serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": format!(
                        "too many requests; retry after {PERIOD_SECS} seconds"
                    ),
                }),
            )
            .no_store();
            // `/mcp` adds the CORS headers to every answer itself.
            if route == Route::Mcp {
                reply
            } else {
                with_cors(reply)
            }
        }
    };
    reply.header("Retry-After", &retry)
}

/// The `/health` warning for limiters whose binding is missing, if any.
pub fn missing_bindings_warning(missing: &[&str]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "rate limiting is off for {}: add the [[ratelimits]] bindings of wrangler.toml",
        missing.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiters(checks: &[Check]) -> Vec<Limiter> {
        checks.iter().map(|c| c.limiter).collect()
    }

    #[test]
    fn each_route_is_counted_by_its_limiters() {
        let ip = Some("203.0.113.7");
        assert_eq!(
            limiters(&checks(Route::Register, "POST", ip, None)),
            [Limiter::Register]
        );
        assert_eq!(
            limiters(&checks(Route::Token, "POST", ip, Some("abc"))),
            [Limiter::TokenIp, Limiter::TokenClient]
        );
        assert_eq!(
            limiters(&checks(Route::Revoke, "POST", ip, Some("abc"))),
            [Limiter::TokenIp, Limiter::TokenClient]
        );
        assert_eq!(
            limiters(&checks(Route::Authorize, "GET", ip, None)),
            [Limiter::Browser]
        );
        assert_eq!(
            limiters(&checks(Route::Authorize, "POST", ip, None)),
            [Limiter::Browser]
        );
        assert_eq!(
            limiters(&checks(Route::Callback, "GET", ip, None)),
            [Limiter::Browser]
        );
        for route in [
            Route::Health,
            Route::Mcp,
            Route::AuthorizationServerMetadata,
            Route::ProtectedResourceMetadata,
        ] {
            assert!(checks(route, "GET", ip, None).is_empty(), "{route:?}");
        }
    }

    #[test]
    fn token_requests_without_a_client_id_are_counted_per_ip_only() {
        assert_eq!(
            limiters(&checks(Route::Token, "POST", Some("198.51.100.1"), None)),
            [Limiter::TokenIp]
        );
    }

    #[test]
    fn only_the_limited_routes_are_counted_before_their_handler() {
        for route in [
            Route::Register,
            Route::Token,
            Route::Revoke,
            Route::Authorize,
            Route::Callback,
            Route::DevLogin,
            Route::Account,
        ] {
            assert!(is_counted(route, "POST"), "{route:?}");
            assert!(!is_counted(route, "OPTIONS"), "{route:?}");
        }
        for route in [Route::Health, Route::Mcp, Route::ProtectedResourceMetadata] {
            assert!(!is_counted(route, "GET"), "{route:?}");
        }
    }

    #[test]
    fn preflights_are_never_counted() {
        assert!(checks(Route::Register, "OPTIONS", Some("198.51.100.1"), None).is_empty());
        assert!(checks(Route::Token, "OPTIONS", Some("198.51.100.1"), Some("c")).is_empty());
    }

    #[test]
    fn keys_are_the_address_and_the_client_at_the_address() {
        let c = checks(Route::Token, "POST", Some("198.51.100.1"), Some("client-1"));
        assert_eq!(c[0].key, "198.51.100.1");
        assert_eq!(c[1].key, "client-1 198.51.100.1");
        // A shared app named from another network is another counter.
        let elsewhere = checks(Route::Token, "POST", Some("203.0.113.9"), Some("client-1"));
        assert_ne!(elsewhere[1].key, c[1].key);
    }

    #[test]
    fn ipv6_addresses_count_as_their_slash_64() {
        assert_eq!(
            ip_key(Some("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            ip_key(Some("2001:db8:1:2::1")),
            ip_key(Some("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            ip_key(Some("2001:db8:1:2::1")),
            ip_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(ip_key(Some("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(ip_key(Some("2001:DB8:1:2::")), "2001:db8:1:2::/64");
        assert_eq!(ip_key(Some("::1")), "0:0:0:0::/64");
        assert_eq!(ip_key(Some("fe80:0:0:0:1:2:3:4")), "fe80:0:0:0::/64");
        assert_eq!(ip_key(Some("198.51.100.7")), "198.51.100.7");
        for bogus in [
            "1:2:3",
            "1::2::3",
            "12345::1",
            "g::1",
            "1:2:3:4:5:6:7:8:9",
            "1.2.3",
        ] {
            assert!(ip_key(Some(bogus)).starts_with("other:"), "{bogus}");
        }
    }

    #[test]
    fn missing_or_bogus_addresses_get_bounded_keys() {
        assert_eq!(ip_key(None), "unknown");
        assert_eq!(ip_key(Some("  ")), "unknown");
        let k = ip_key(Some(&"x".repeat(10_000)));
        assert!(k.starts_with("other:") && k.len() < 64, "{k}");
    }

    #[test]
    fn long_or_odd_client_ids_are_hashed() {
        assert_eq!(client_key("AbC-_09"), "AbC-_09");
        let long = client_key(&"a".repeat(5000));
        assert!(long.starts_with("h:") && long.len() == 34);
        assert!(client_key("a b").starts_with("h:"));
        assert_ne!(client_key("a b"), client_key("a c"));
    }

    #[test]
    fn bearer_failures_are_counted_only_when_a_token_was_presented() {
        assert_eq!(bearer_failure_check(Some("192.0.2.9"), false), None);
        let c = bearer_failure_check(Some("192.0.2.9"), true).unwrap();
        assert_eq!(c.limiter, Limiter::BearerFailure);
        assert_eq!(c.key, "192.0.2.9");
    }

    #[test]
    fn api_refusals_are_json_429_with_retry_after_and_cors() {
        for route in [Route::Register, Route::Token, Route::Revoke, Route::Mcp] {
            let r = refused(route);
            assert_eq!(r.status, 429);
            assert_eq!(r.header_value("Retry-After"), Some("60"));
            let cors = r.header_value("Access-Control-Allow-Origin");
            assert_eq!(cors, (route != Route::Mcp).then_some("*"), "{route:?}");
            assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["error"], "temporarily_unavailable");
        }
    }

    #[test]
    fn browser_refusals_are_html_pages() {
        for route in [Route::Authorize, Route::Callback] {
            let r = refused(route);
            assert_eq!(r.status, 429);
            assert_eq!(r.header_value("Retry-After"), Some("60"));
            assert!(r
                .header_value("Content-Type")
                .unwrap()
                .starts_with("text/html"));
            assert!(String::from_utf8_lossy(&r.body).contains("Too many requests"));
        }
    }

    #[test]
    fn health_warns_about_missing_bindings_only() {
        assert_eq!(missing_bindings_warning(&[]), None);
        let w = missing_bindings_warning(&["RL_REGISTER", "RL_BROWSER"]).unwrap();
        assert!(w.contains("RL_REGISTER, RL_BROWSER") && w.contains("wrangler.toml"));
    }

    /// The shipped `wrangler.toml` is what enforces the limits; the defaults
    /// documented here and in the README must be the ones it ships.
    #[test]
    fn wrangler_toml_ships_the_documented_defaults() {
        let toml = include_str!("../wrangler.toml");
        for limiter in ALL_LIMITERS {
            let name = format!("name = \"{}\"", limiter.binding());
            let at = toml.find(&name).unwrap_or_else(|| panic!("{name} missing"));
            let simple = toml[at..]
                .lines()
                .find(|l| l.starts_with("simple"))
                .unwrap();
            let expected = format!(
                "simple = {{ limit = {}, period = {PERIOD_SECS} }}",
                limiter.default_limit()
            );
            assert_eq!(simple, expected, "{}", limiter.binding());
        }
    }

    #[test]
    fn binding_names_are_distinct() {
        let mut names: Vec<_> = ALL_LIMITERS.iter().map(|l| l.binding()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_LIMITERS.len());
    }
}
