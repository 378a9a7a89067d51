//! The project's URL rules (src/urls.rs and the places that use them) held
//! against the `url` crate's own WHATWG parse of a corpus of hostile URLs:
//! mixed case, dots, IPv4 forms, IDN, percent-encoding, backslashes and
//! whitespace. Whatever our rules accept must be, in the browser's reading,
//! what the rule says; what the consent page shows must be the host the
//! browser visits; what the outbound policy lets through must be a public
//! name on port 443.

use mcp_oauth_worker::oauth::cimd;
use mcp_oauth_worker::oauth::redirect::{redirect_host, validate_redirect_uri};
use mcp_oauth_worker::urls;
use url::{Host, Url};

/// Host spellings an attacker might try.
const HOSTS: &[&str] = &[
    "claude.ai",
    "CLAUDE.AI",
    "ClAuDe.Ai",
    "claude.ai.",
    "claude..ai",
    ".claude.ai",
    "%63laude.ai",
    "%D1%81laude.ai",
    "xn--laude-0ye.ai",
    "%E2%80%AEclaude.ai",
    "cl%00aude.ai",
    "%2e%2e",
    "127.0.0.1",
    "127.1",
    "0x7f.1",
    "0x7F.0.0.1",
    "0177.0.0.1",
    "2130706433",
    "017700000001",
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "10.0.0.1",
    "169.254.169.254",
    "localhost",
    "LOCALHOST",
    "localhost.",
    "app.localhost",
    "metadata.google.internal",
    "printer.local",
    "a.test",
    "a.example",
    "a.invalid",
    "intranet",
    "example.com",
    "raw.githubusercontent.com",
    "a.example.com:443",
    "a.example.com:8443",
    "a.example.com:",
    "user@a.example.com",
    "a.example.com@evil.example.com",
    "a.example.com\\@evil.example.com",
    "evil.example.com\\a.example.com",
    "a.exa mple.com",
    "a.example.com\t",
    "\ta.example.com",
    "a.example.com%0a",
    "münchen.example.com",
    "xn--mnchen-3ya.example.com",
    "%E3%80%82example.com",
    "a\u{3002}example.com",
    "ＡＢＣ.example.com",
];

/// Shapes the host is placed in.
const SHAPES: &[&str] = &[
    "https://{}/cb",
    "http://{}/cb",
    "https://{}/oauth/client.json",
    "https://{}/a/../b",
    "https://{}/cb#frag",
    "https://{}\\cb",
    "HTTPS://{}/cb",
    "https:{}/cb",
    "https:/{}/cb",
    "https:///{}/cb",
    " https://{}/cb",
    "cursor://{}/cb",
];

fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for shape in SHAPES {
        for host in HOSTS {
            out.push(shape.replace("{}", host));
        }
    }
    out
}

fn is_public_name(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            let labels: Vec<&str> = d.split('.').collect();
            labels.len() >= 2
                && !urls::SPECIAL_USE_TLDS.contains(labels.last().unwrap_or(&""))
                && d.is_ascii()
        }
        _ => false,
    }
}

#[test]
fn accepted_redirect_uris_mean_in_the_browser_what_our_rules_say() {
    let mut accepted = 0;
    let mut refused = 0;
    for raw in corpus() {
        let ours = validate_redirect_uri(&raw);
        let Ok(_) = ours else {
            refused += 1;
            continue;
        };
        accepted += 1;
        let url = Url::parse(&raw).unwrap_or_else(|e| panic!("{raw:?}: we accepted, url says {e}"));
        assert!(url.fragment().is_none(), "{raw:?}: fragment");
        assert!(
            url.username().is_empty() && url.password().is_none(),
            "{raw:?}: userinfo"
        );
        match url.scheme() {
            "https" => assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{raw:?}"),
            "http" => assert!(
                matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
                "{raw:?}: http to {:?}",
                url.host_str()
            ),
            _ => {}
        }
        // The consent page names the host the browser visits.
        if matches!(url.scheme(), "http" | "https") {
            let shown = redirect_host(&raw);
            let visited = url.host_str().unwrap_or_default();
            assert!(
                shown == visited || shown.starts_with(&format!("{visited} (in Unicode: ")),
                "{raw:?}: shows {shown:?}, the browser visits {visited:?}"
            );
            assert!(
                shown.is_ascii() || shown.contains("(in Unicode: "),
                "{raw:?}"
            );
        }
    }
    // The corpus exercises both sides.
    assert!(accepted >= 20, "accepted {accepted}");
    assert!(refused >= 200, "refused {refused}");
}

#[test]
fn accepted_document_urls_are_public_names_on_port_443() {
    let mut accepted = 0;
    for raw in corpus() {
        let Ok(ours) = cimd::check_client_id_url(&raw) else {
            continue;
        };
        accepted += 1;
        let url = Url::parse(&raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert_eq!(ours, url, "{raw:?}: one parse");
        assert_eq!(url.scheme(), "https", "{raw:?}");
        assert_eq!(url.port_or_known_default(), Some(443), "{raw:?}");
        assert!(is_public_name(&url), "{raw:?}: host {:?}", url.host());
        assert!(
            url.username().is_empty() && url.password().is_none(),
            "{raw:?}"
        );
        assert!(url.fragment().is_none(), "{raw:?}");
    }
    assert!(accepted >= 10, "accepted {accepted}");
}

#[test]
fn every_ip_and_special_name_in_the_corpus_is_refused_as_a_fetch_target() {
    for raw in corpus() {
        let Ok(url) = Url::parse(&raw) else { continue };
        let refused = urls::client_fetch_target(&url).is_err();
        let must_refuse = url.scheme() != "https"
            || url.port().is_some()
            || !matches!(url.host(), Some(Host::Domain(_)))
            || !is_public_name(&url);
        if must_refuse {
            assert!(refused, "{raw:?} -> {url} must not be fetched");
        }
    }
}

#[test]
fn the_percent_encoded_look_alike_is_refused_and_its_punycode_shown_as_punycode() {
    // U+0441 CYRILLIC SMALL LETTER ES, percent-encoded UTF-8. IDNA runs without
    // Unicode tables (Cargo.toml), so a host that is not ASCII after
    // percent-decoding does not parse: refused, never shown as `claude.ai`.
    let raw = "https://%D1%81laude.ai/cb";
    assert!(Url::parse(raw).is_err());
    assert!(validate_redirect_uri(raw).is_err());
    assert!(cimd::client_id_host("https://%D1%81laude.ai/oauth/client.json").is_none());
    assert!(urls::check_client_id_url("https://%D1%81laude.ai/oauth/client.json", 2000).is_err());
    // The punycode a browser would visit parses, and is shown first.
    let puny = "https://xn--laude-0ye.ai/cb";
    assert!(validate_redirect_uri(puny).is_ok());
    let shown = redirect_host(puny);
    assert_eq!(shown, "xn--laude-0ye.ai (in Unicode: \u{441}laude.ai)");
    let id = "https://xn--laude-0ye.ai/oauth/client.json";
    assert_eq!(cimd::client_id_host(id).unwrap(), shown);
}

#[test]
fn an_idn_shows_its_punycode_first() {
    let shown = redirect_host("https://xn--bcher-kva.example.com/cb");
    assert_eq!(
        shown,
        "xn--bcher-kva.example.com (in Unicode: bücher.example.com)"
    );
    assert_eq!(redirect_host("https://%65vil.example/cb"), "evil.example");
    let long = format!("{}.login.attacker.example", "a".repeat(180));
    assert!(redirect_host(&format!("https://{long}/cb")).ends_with(".attacker.example"));
}
