//! Redirect URIs, a pure leaf of the authorization server. which ones a client may register
//! (RFC 6749 §3.1.2, OAuth 2.1), how a presented one matches a registered one
//! (exactly, or on any port for loopback: RFC 8252 §7.3), and how the consent
//! page names them. Each test names the rule it checks.

use mcp_oauth_worker::oauth::error::ErrorCode;
use mcp_oauth_worker::oauth::redirect::{
    redirect_host, redirect_uri_matches, validate_redirect_uri,
};

fn accepted(uri: &str) -> bool {
    validate_redirect_uri(uri).is_ok()
}

fn refusal(uri: &str) -> String {
    match validate_redirect_uri(uri) {
        Ok(_) => panic!("{uri} was accepted"),
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{uri}");
            e.description
        }
    }
}

fn matches(registered: &[&str], presented: &str) -> bool {
    let registered: Vec<String> = registered.iter().map(|s| s.to_string()).collect();
    redirect_uri_matches(&registered, presented)
}

#[test]
fn real_clients_redirect_uris_are_accepted() {
    for uri in [
        "https://claude.ai/api/mcp/auth_callback",
        "https://claude.com/api/mcp/auth_callback",
        "https://chatgpt.com/connector/oauth/8f3e2c1a",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "http://127.0.0.1:33418/",
        "https://vscode.dev/redirect",
        "vscode://vscode.github-authentication/did-authenticate",
        "http://localhost:6274/oauth/callback",
        "http://localhost:6274/oauth/callback/debug",
        "http://localhost:3334/oauth/callback",
        "http://localhost/callback",
        "http://[::1]:8080/cb",
        "com.example.app:/oauth2redirect/example-provider",
    ] {
        assert!(accepted(uri), "{uri}: {:?}", validate_redirect_uri(uri));
    }
}

#[test]
fn the_uri_is_kept_exactly_as_written() {
    let uri = "https://Claude.AI/api/mcp/auth_callback?b=2&a=1";
    assert_eq!(
        validate_redirect_uri(uri).map(|u| u.into_string()),
        Ok(uri.to_owned())
    );
}

#[test]
fn rfc6749_3_1_2_must_be_absolute() {
    assert!(refusal("/callback").contains("absolute"));
    assert!(refusal("callback").contains("absolute"));
    assert!(refusal("").contains("empty"));
}

#[test]
fn rfc6749_3_1_2_must_not_include_a_fragment() {
    assert!(refusal("https://app.example/cb#frag").contains("fragment"));
    assert!(refusal("https://app.example/cb#").contains("fragment"));
}

#[test]
fn userinfo_is_refused() {
    assert!(refusal("https://good.example@evil.com/cb").contains("user information"));
    assert!(refusal("https://user:pw@good.example/cb").contains("user information"));
    assert!(refusal("https://@good.example/cb").contains("user information"));
    assert!(refusal("http://localhost@evil.com/cb").contains("user information"));
}

#[test]
fn script_and_local_schemes_are_refused_in_any_case() {
    for uri in [
        "javascript://x/%0aalert(1)",
        "JavaScript://x/%0aalert(1)",
        "data://text/html,x",
        "file:///etc/passwd",
        "vbscript://x/msgbox",
        "blob://https://x/1",
        "about://blank/",
    ] {
        let why = refusal(uri);
        assert!(why.contains("scheme"), "{uri}: {why}");
    }
    // Opaque forms are refused too, if only for lack of a path.
    assert!(!accepted("javascript:alert(1)"));
    assert!(!accepted("data:text/html,<script>x</script>"));
    assert!(!accepted("about:blank"));
}

#[test]
fn oauth21_http_only_for_loopback() {
    assert!(refusal("http://app.example/cb").contains("loopback"));
    assert!(refusal("http://localhost.evil.com/cb").contains("loopback"));
    assert!(refusal("http://127.0.0.2/cb").contains("loopback"));
    assert!(refusal("http://127.1/cb").contains("loopback"));
    assert!(refusal("http://LOCALHOST/cb").contains("loopback"));
    assert!(refusal("http://[::2]/cb").contains("loopback"));
    assert!(accepted("http://127.0.0.1/cb"));
    assert!(accepted("http://[::1]/cb"));
    assert!(accepted("http://localhost:1/cb"));
}

#[test]
fn opaque_uris_without_a_path_are_refused() {
    assert!(refusal("urn:ietf:wg:oauth:2.0:oob").contains("hierarchical"));
    assert!(refusal("myapp:callback").contains("hierarchical"));
}

#[test]
fn whitespace_control_and_non_ascii_characters_are_refused() {
    assert!(refusal("https://app.example/c b").contains("whitespace"));
    assert!(refusal(" https://app.example/cb").contains("whitespace"));
    assert!(refusal("https://app.example/cb\n").contains("whitespace"));
    assert!(refusal("https://app.example/cb\u{0}").contains("control"));
    assert!(refusal("https://app.example/caf\u{e9}").contains("non-ASCII"));
    assert!(refusal("https://app.example\\@evil.com/").contains("U+005C"));
    assert!(refusal("https://app.example/<script>").contains("U+003C"));
    assert!(refusal("https://app.example/%zz").contains('%'));
}

#[test]
fn dot_segments_are_refused() {
    assert!(refusal("https://good.example/cb/../x").contains("'..'"));
    assert!(refusal("https://good.example/cb/%2e%2e/x").contains("'..'"));
}

#[test]
fn length_is_capped_at_2000() {
    let base = "https://app.example/";
    let ok = format!("{base}{}", "a".repeat(2000 - base.len()));
    let long = format!("{ok}a");
    assert!(accepted(&ok));
    assert!(refusal(&long).contains("2000"));
}

#[test]
fn registered_uris_match_by_exact_string() {
    let claude = ["https://claude.ai/api/mcp/auth_callback"];
    assert!(matches(&claude, "https://claude.ai/api/mcp/auth_callback"));
    assert!(matches(
        &["cursor://anysphere.cursor-mcp/oauth/callback"],
        "cursor://anysphere.cursor-mcp/oauth/callback"
    ));
    assert!(!matches(&[], "https://claude.ai/api/mcp/auth_callback"));
}

#[test]
fn attacker_variants_of_a_registered_uri_do_not_match() {
    let reg = ["https://good.example/cb"];
    for presented in [
        "https://good.example.evil.com/cb",
        "https://good.example/cb/../x",
        "https://good.example/cb/x",
        "https://good.example/c",
        "https://good.example/cb/",
        "https://good.example/cb?x=1",
        "https://good.example/cb?",
        "https://good.example@evil.com/cb",
        "https://good.example/cb#x",
        "https://GOOD.example/cb",
        "https://good.example/CB",
        "https://good.example:443/cb",
        "https://good.example:8443/cb",
        "http://good.example/cb",
        "https://good.example/cb%2F..%2Fx",
        " https://good.example/cb",
    ] {
        assert!(!matches(&reg, presented), "{presented} matched");
    }
}

#[test]
fn rfc8252_7_3_loopback_matches_any_port() {
    // Claude Code registers without a port and listens on a random one.
    assert!(matches(
        &["http://localhost/callback"],
        "http://localhost:51234/callback"
    ));
    // VS Code registers a port and may fall back to another.
    assert!(matches(
        &["http://127.0.0.1:33418/"],
        "http://127.0.0.1:49152/"
    ));
    assert!(matches(&["http://127.0.0.1:33418/"], "http://127.0.0.1/"));
    // mcp-remote uses 3334 or a random port.
    assert!(matches(
        &["http://localhost:3334/oauth/callback"],
        "http://localhost:40123/oauth/callback"
    ));
    assert!(matches(&["http://[::1]/cb"], "http://[::1]:8080/cb"));
    assert!(matches(
        &["http://localhost/cb?x=1"],
        "http://localhost:9/cb?x=1"
    ));
}

#[test]
fn loopback_rule_frees_the_port_and_the_loopback_spelling_only() {
    let reg = ["http://localhost/callback"];
    // Issue 19: the three loopback hosts are one host (redirect.rs says why).
    for presented in [
        "http://127.0.0.1:51234/callback",
        "http://[::1]:51234/callback",
        "http://localhost:51234/callback",
    ] {
        assert!(matches(&reg, presented), "{presented} did not match");
    }
    for presented in [
        "http://127.0.0.2:51234/callback",
        "https://localhost:51234/callback",
        "http://localhost:51234/callback/",
        "http://localhost:51234/Callback",
        "http://localhost:51234/callback?x=1",
        "http://localhost:51234/callback#x",
        "http://localhost:51234@evil.com/callback",
        "http://localhost.evil.com:51234/callback",
        "http://localhost:/callback",
        "http://localhost:65536/callback",
        "http://localhost:+80/callback",
        "http://LOCALHOST:51234/callback",
    ] {
        assert!(!matches(&reg, presented), "{presented} matched");
    }
    // The loopback rule does not extend to https or other hosts.
    assert!(!matches(
        &["https://localhost/cb"],
        "https://localhost:8443/cb"
    ));
    assert!(!matches(
        &["https://good.example/cb"],
        "https://good.example:8443/cb"
    ));
    // 127.0.0.1 registered admits localhost too (issue 19), with the same path.
    assert!(matches(
        &["http://127.0.0.1:33418/"],
        "http://localhost:33418/"
    ));
    assert!(!matches(
        &["http://127.0.0.1:33418/"],
        "http://localhost:33418"
    ));
}

#[test]
fn cursor_registration_matches_each_of_its_uris() {
    let reg = [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://cursor.com/oauth/callback",
        "http://localhost:8765/callback",
    ];
    assert!(matches(
        &reg,
        "cursor://anysphere.cursor-mcp/oauth/callback"
    ));
    assert!(matches(&reg, "https://cursor.com/oauth/callback"));
    assert!(matches(&reg, "http://localhost:8766/callback"));
    assert!(!matches(
        &reg,
        "cursor://anysphere.cursor-mcp/oauth/callback2"
    ));
    assert!(!matches(&reg, "cursor://evil/oauth/callback"));
}

#[test]
fn consent_page_shows_the_host_or_the_app_scheme() {
    assert_eq!(
        redirect_host("https://claude.ai/api/mcp/auth_callback"),
        "claude.ai"
    );
    assert_eq!(
        redirect_host("http://localhost:6274/oauth/callback"),
        "localhost"
    );
    assert_eq!(redirect_host("http://[::1]:8080/cb"), "[::1]");
    assert_eq!(
        redirect_host("cursor://anysphere.cursor-mcp/oauth/callback"),
        "cursor://anysphere.cursor-mcp"
    );
    assert_eq!(redirect_host("com.example.app:/cb"), "com.example.app:/cb");
    // An internationalized host is shown as the punycode the browser
    // visits, its Unicode beside it and marked, so a look-alike (Cyrillic
    // "а" here) cannot pass as the name it imitates.
    assert_eq!(
        redirect_host("https://xn--pple-43d.com/cb"),
        "xn--pple-43d.com (in Unicode: \u{0430}pple.com)"
    );
    // Percent-encoding is decoded, as the browser does before it connects.
    assert_eq!(redirect_host("https://%63laude.ai/cb"), "claude.ai");
    // Raw Unicode is outside RFC 3986: registration refuses it (percent-encoded,
    // it is accepted and shown in punycode, tests/url_rules.rs).
    assert!(validate_redirect_uri("https://\u{0430}pple.com/cb").is_err());
}
