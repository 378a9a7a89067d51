//! The pure leaves of the authorization server: errors, redirect URIs, PKCE,
//! client registration and discovery metadata. Each test names the rule it checks.

use mcp_oauth_worker::http::Reply;
use serde_json::{json, Value};

fn body_json(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

mod errors {
    use super::*;
    use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
    use mcp_oauth_worker::urls::append_query;

    #[test]
    fn error_codes_are_the_exact_rfc_strings() {
        let expected = [
            (OAuthError::invalid_request("x"), "invalid_request"),
            (OAuthError::invalid_client("x"), "invalid_client"),
            (OAuthError::invalid_grant("x"), "invalid_grant"),
            (OAuthError::unauthorized_client("x"), "unauthorized_client"),
            (
                OAuthError::unsupported_grant_type("x"),
                "unsupported_grant_type",
            ),
            (OAuthError::invalid_scope("x"), "invalid_scope"),
            (OAuthError::invalid_target("x"), "invalid_target"),
            (OAuthError::access_denied("x"), "access_denied"),
            (
                OAuthError::unsupported_response_type("x"),
                "unsupported_response_type",
            ),
            (OAuthError::server_error("x"), "server_error"),
            (
                OAuthError::temporarily_unavailable("x"),
                "temporarily_unavailable",
            ),
            (
                OAuthError::invalid_redirect_uri("x"),
                "invalid_redirect_uri",
            ),
            (
                OAuthError::invalid_client_metadata("x"),
                "invalid_client_metadata",
            ),
            (OAuthError::invalid_token("x"), "invalid_token"),
            (OAuthError::insufficient_scope("x"), "insufficient_scope"),
        ];
        for (error, code) in expected {
            assert_eq!(error.code.as_str(), code);
        }
        assert_eq!(
            ErrorCode::Extension("slow_down".into()).as_str(),
            "slow_down"
        );
    }

    #[test]
    fn rfc6749_5_2_error_body_is_exactly_error_and_description() {
        let reply = OAuthError::invalid_grant("authorization code has expired").to_json_reply();
        assert_eq!(reply.status, 400);
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            r#"{"error":"invalid_grant","error_description":"authorization code has expired"}"#
        );
        assert_eq!(reply.header_value("content-type"), Some("application/json"));
    }

    #[test]
    fn rfc6749_5_1_error_responses_are_not_cached() {
        let reply = OAuthError::invalid_request("x").to_json_reply();
        assert_eq!(reply.header_value("cache-control"), Some("no-store"));
        assert_eq!(reply.header_value("pragma"), Some("no-cache"));
    }

    #[test]
    fn status_is_400_except_for_client_token_and_server_conditions() {
        let status = |e: OAuthError| e.to_json_reply().status;
        assert_eq!(status(OAuthError::invalid_request("x")), 400);
        assert_eq!(status(OAuthError::invalid_scope("x")), 400);
        assert_eq!(status(OAuthError::invalid_target("x")), 400);
        assert_eq!(status(OAuthError::invalid_client_metadata("x")), 400);
        assert_eq!(status(OAuthError::invalid_client("x")), 401);
        assert_eq!(status(OAuthError::invalid_token("x")), 401);
        assert_eq!(status(OAuthError::insufficient_scope("x")), 403);
        assert_eq!(status(OAuthError::server_error("x")), 500);
        assert_eq!(status(OAuthError::temporarily_unavailable("x")), 503);
    }

    #[test]
    fn invalid_client_after_basic_auth_carries_a_basic_challenge() {
        let e = OAuthError::invalid_client("client authentication failed");
        let with = e.to_json_reply_for_basic_auth();
        assert_eq!(with.status, 401);
        assert_eq!(
            with.header_value("www-authenticate"),
            Some("Basic realm=\"oauth\"")
        );
        assert_eq!(
            body_json(&with),
            json!({"error": "invalid_client", "error_description": "client authentication failed"})
        );
        // Without a Basic attempt there is no challenge to answer.
        assert_eq!(e.to_json_reply().header_value("www-authenticate"), None);
        // Other errors never get one.
        let other = OAuthError::invalid_grant("x").to_json_reply_for_basic_auth();
        assert_eq!(other.header_value("www-authenticate"), None);
    }

    #[test]
    fn rfc6749_4_1_2_1_error_redirect_adds_error_description_state_and_iss() {
        let e = OAuthError::access_denied("the user denied access");
        assert_eq!(
            e.redirect_location(
                "https://claude.ai/api/mcp/auth_callback",
                Some("xyz"),
                "https://mcp.example.com"
            ),
            "https://claude.ai/api/mcp/auth_callback?error=access_denied&error_description=the+user+denied+access&state=xyz&iss=https%3A%2F%2Fmcp.example.com"
        );
    }

    #[test]
    fn error_redirect_without_state_omits_it() {
        let e = OAuthError::invalid_scope("scope 'admin' is not supported");
        let loc = e.redirect_location(
            "cursor://anysphere.cursor-mcp/oauth/callback",
            None,
            "https://i",
        );
        assert_eq!(
            loc,
            "cursor://anysphere.cursor-mcp/oauth/callback?error=invalid_scope&error_description=scope+%27admin%27+is+not+supported&iss=https%3A%2F%2Fi"
        );
    }

    #[test]
    fn rfc6749_3_1_2_existing_query_is_retained_unchanged() {
        let loc = append_query(
            "https://app.example/cb?tenant=a%2Fb&x=1",
            &[("code", "c&d"), ("state", "s t")],
        );
        assert_eq!(
            loc,
            "https://app.example/cb?tenant=a%2Fb&x=1&code=c%26d&state=s+t"
        );
    }

    #[test]
    fn state_is_percent_encoded_so_it_cannot_inject_parameters() {
        let loc = append_query("https://a.example/cb", &[("state", "x&code=evil#frag")]);
        assert_eq!(loc, "https://a.example/cb?state=x%26code%3Devil%23frag");
    }

    #[test]
    fn private_use_scheme_without_authority_is_not_rewritten() {
        let loc = append_query("com.example.app:/oauth2redirect", &[("code", "abc")]);
        assert_eq!(loc, "com.example.app:/oauth2redirect?code=abc");
    }

    #[test]
    fn descriptions_never_carry_quotes_or_line_breaks() {
        let e = OAuthError::invalid_request("bad \"value\"\r\nX-Injected: 1");
        assert_eq!(e.description, "bad 'value'  X-Injected: 1");
        assert_eq!(e.to_string(), e.description);
    }
}

mod redirect_uris {
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
}

mod pkce {
    use mcp_oauth_worker::oauth::error::ErrorCode;
    use mcp_oauth_worker::oauth::pkce::{challenge_for, verify, CodeChallenge, CodeVerifier};

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn verifier(s: &str) -> CodeVerifier {
        match CodeVerifier::new(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn challenge(s: &str) -> CodeChallenge {
        match CodeChallenge::from_request(Some(s), Some("S256")) {
            Ok(c) => c,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn rfc7636_appendix_b_s256_challenge() {
        assert_eq!(challenge_for(&verifier(RFC_VERIFIER)), RFC_CHALLENGE);
    }

    #[test]
    fn rfc7636_4_6_verifier_matching_its_challenge_is_accepted() {
        assert!(verify(&verifier(RFC_VERIFIER), &challenge(RFC_CHALLENGE)));
    }

    #[test]
    fn rfc7636_4_6_any_other_verifier_is_rejected() {
        let mut other = RFC_VERIFIER.to_owned();
        other.replace_range(42.., "l");
        assert!(!verify(&verifier(&other), &challenge(RFC_CHALLENGE)));
        // The challenge itself is not a valid verifier for itself (that is `plain`).
        assert!(!verify(&verifier(RFC_CHALLENGE), &challenge(RFC_CHALLENGE)));
    }

    #[test]
    fn oauth21_missing_challenge_is_refused() {
        for c in [None, Some("")] {
            let e = CodeChallenge::from_request(c, Some("S256")).err();
            assert!(e.is_some_and(|e| e.code == ErrorCode::InvalidRequest
                && e.description.contains("code_challenge is required")));
        }
    }

    #[test]
    fn rfc7636_4_3_missing_method_means_plain_and_is_refused() {
        let e = CodeChallenge::from_request(Some(RFC_CHALLENGE), None).err();
        assert!(e.is_some_and(
            |e| e.code == ErrorCode::InvalidRequest && e.description.contains("plain")
        ));
    }

    #[test]
    fn plain_is_refused_with_a_clear_description() {
        let e = CodeChallenge::from_request(Some(RFC_VERIFIER), Some("plain")).err();
        assert_eq!(
            e.map(|e| (e.code, e.description)),
            Some((
                ErrorCode::InvalidRequest,
                "code_challenge_method plain is not supported; use S256".to_owned()
            ))
        );
    }

    #[test]
    fn unknown_or_miscased_methods_are_refused() {
        for m in ["s256", "SHA256", "S512"] {
            assert!(
                CodeChallenge::from_request(Some(RFC_CHALLENGE), Some(m)).is_err(),
                "{m}"
            );
        }
    }

    #[test]
    fn rfc7636_4_2_challenge_is_43_base64url_characters() {
        for bad in [
            &RFC_CHALLENGE[..42],
            &format!("{RFC_CHALLENGE}A"),
            &format!("{RFC_CHALLENGE}="),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
        ] {
            let e = CodeChallenge::from_request(Some(bad), Some("S256")).err();
            assert!(
                e.is_some_and(|e| e.code == ErrorCode::InvalidRequest),
                "{bad}"
            );
        }
        assert_eq!(challenge(RFC_CHALLENGE).as_str(), RFC_CHALLENGE);
        assert_eq!(challenge(RFC_CHALLENGE).method(), "S256");
    }

    #[test]
    fn rfc7636_4_1_verifier_is_43_to_128_unreserved_characters() {
        assert!(CodeVerifier::new("a".repeat(43)).is_ok());
        assert!(CodeVerifier::new("a".repeat(128)).is_ok());
        assert!(CodeVerifier::new("aZ09-._~".repeat(16)).is_ok());
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+", "a".repeat(42)),
            format!("{}=", "a".repeat(42)),
            format!("{} ", "a".repeat(42)),
            format!("{}é", "a".repeat(42)),
            String::new(),
        ] {
            let e = CodeVerifier::new(bad.clone()).err();
            assert!(
                e.is_some_and(|e| e.code == ErrorCode::InvalidRequest),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_verifier_is_a_secret_in_debug_output() {
        assert_eq!(
            format!("{:?}", verifier(RFC_VERIFIER)),
            "CodeVerifier([redacted])"
        );
        assert_eq!(verifier(RFC_VERIFIER).secret(), RFC_VERIFIER);
    }

    #[test]
    fn stored_challenges_are_revalidated_when_read_back() {
        let stored = serde_json::to_string(&challenge(RFC_CHALLENGE)).unwrap_or_default();
        assert_eq!(stored, format!("\"{RFC_CHALLENGE}\""));
        let back: Result<CodeChallenge, _> = serde_json::from_str(&stored);
        assert_eq!(back.ok(), Some(challenge(RFC_CHALLENGE)));
        let tampered: Result<CodeChallenge, _> = serde_json::from_str("\"short\"");
        assert!(tampered.is_err());
    }

    #[test]
    fn a_client_verifier_from_random_bytes_yields_a_usable_challenge() {
        let v = CodeVerifier::from_random_bytes(&[42; 32]);
        let c = challenge(&challenge_for(&v));
        assert!(verify(&v, &c));
    }
}

mod registration {
    use super::*;
    use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
    use mcp_oauth_worker::oauth::register::{
        client_secret_hash, registration_response, validate, Client, GrantType,
        RegistrationRequest, TokenEndpointAuthMethod, ValidatedRegistration, MAX_REGISTRATION_BODY,
    };

    fn register(body: Value) -> Result<ValidatedRegistration, OAuthError> {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        RegistrationRequest::from_json(&bytes).and_then(validate)
    }

    fn refused(body: Value) -> OAuthError {
        match register(body.clone()) {
            Ok(v) => panic!("{body} was accepted: {v:?}"),
            Err(e) => e,
        }
    }

    fn metadata_error(body: Value) -> String {
        let e = refused(body);
        assert_eq!(
            e.code,
            ErrorCode::InvalidClientMetadata,
            "{}",
            e.description
        );
        e.description
    }

    fn redirect_error(body: Value) -> String {
        let e = refused(body);
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{}", e.description);
        e.description
    }

    fn ok(body: Value) -> ValidatedRegistration {
        match register(body.clone()) {
            Ok(v) => v,
            Err(e) => panic!("{body} was refused: {e}"),
        }
    }

    #[test]
    fn real_clients_registrations_are_accepted() {
        let claude = ok(json!({
            "client_name": "Claude",
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp"
        }));
        assert!(claude.is_public());
        ok(json!({
            "client_name": "ChatGPT",
            "redirect_uris": ["https://chatgpt.com/connector/oauth/8f3e2c1a"],
            "token_endpoint_auth_method": "client_secret_post"
        }));
        let cursor = ok(json!({
            "client_name": "Cursor",
            "redirect_uris": [
                "cursor://anysphere.cursor-mcp/oauth/callback",
                "https://cursor.com/oauth/callback",
                "http://localhost:8765/callback"
            ],
            "token_endpoint_auth_method": "none"
        }));
        assert_eq!(cursor.redirect_uris.len(), 3);
        ok(json!({
            "client_name": "Visual Studio Code",
            "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]
        }));
        ok(json!({
            "client_name": "MCP Inspector",
            "redirect_uris": ["http://localhost:6274/oauth/callback", "http://localhost:6274/oauth/callback/debug"],
            "token_endpoint_auth_method": "none",
            "client_uri": "https://github.com/modelcontextprotocol/inspector",
            "scope": "mcp github:repos"
        }));
        ok(json!({
            "client_name": "MCP CLI Proxy",
            "redirect_uris": ["http://localhost:3334/oauth/callback"],
            "token_endpoint_auth_method": "none",
            "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
            "software_version": "0.1.29"
        }));
        ok(json!({
            "client_name": "Claude Code",
            "redirect_uris": ["http://localhost/callback"],
            "token_endpoint_auth_method": "none"
        }));
    }

    #[test]
    fn rfc7591_2_unknown_fields_are_ignored() {
        let v = ok(json!({
            "redirect_uris": ["https://app.example/cb"],
            "contacts": ["a@example.com"],
            "jwks_uri": "https://app.example/jwks",
            "client_name#ja-Jpan-JP": "クライアント名",
            "x-vendor": {"nested": [1, 2]}
        }));
        assert_eq!(v.redirect_uris[0].as_str(), "https://app.example/cb");
    }

    #[test]
    fn rfc7591_2_defaults_auth_method_is_client_secret_basic() {
        let v = ok(json!({"redirect_uris": ["https://app.example/cb"]}));
        assert_eq!(
            v.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert!(!v.is_public());
    }

    #[test]
    fn refresh_token_is_always_granted_alongside_authorization_code() {
        let expected = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        let default = ok(json!({"redirect_uris": ["https://app.example/cb"]}));
        assert_eq!(default.grant_types, expected);
        let only_code = ok(json!({
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code"]
        }));
        assert_eq!(only_code.grant_types, expected);
    }

    #[test]
    fn grant_types_must_include_authorization_code() {
        let d = metadata_error(json!({
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["refresh_token"]
        }));
        assert_eq!(d, "grant_types must include authorization_code");
        metadata_error(json!({"redirect_uris": ["https://app.example/cb"], "grant_types": []}));
    }

    #[test]
    fn unsupported_grant_types_are_named() {
        for g in [
            "client_credentials",
            "implicit",
            "password",
            "urn:ietf:params:oauth:grant-type:device_code",
        ] {
            let d = metadata_error(json!({
                "redirect_uris": ["https://app.example/cb"],
                "grant_types": ["authorization_code", g]
            }));
            assert!(d.contains(g), "{d}");
        }
    }

    #[test]
    fn response_types_are_a_subset_of_code() {
        let d = metadata_error(json!({
            "redirect_uris": ["https://app.example/cb"],
            "response_types": ["code", "token"]
        }));
        assert!(d.contains("'token'"), "{d}");
    }

    #[test]
    fn rfc7591_2_1_authorization_code_needs_response_type_code() {
        let d = metadata_error(json!({
            "redirect_uris": ["https://app.example/cb"],
            "response_types": []
        }));
        assert!(d.contains("RFC 7591 section 2.1"), "{d}");
    }

    #[test]
    fn unsupported_auth_methods_are_refused() {
        for m in [
            "private_key_jwt",
            "client_secret_jwt",
            "tls_client_auth",
            "NONE",
        ] {
            let d = metadata_error(json!({
                "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": m
            }));
            assert!(d.contains(m), "{d}");
        }
    }

    #[test]
    fn redirect_uris_are_required() {
        redirect_error(json!({"client_name": "x"}));
        redirect_error(json!({"redirect_uris": []}));
        redirect_error(json!({"redirect_uris": null}));
    }

    #[test]
    fn at_most_ten_redirect_uris() {
        let ten: Vec<String> = (0..10)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        assert_eq!(ok(json!({"redirect_uris": ten})).redirect_uris.len(), 10);
        assert!(redirect_error(json!({"redirect_uris": eleven})).contains("10"));
    }

    #[test]
    fn each_redirect_uri_is_validated_and_the_bad_one_is_named() {
        let d = redirect_error(json!({
            "redirect_uris": ["https://app.example/cb", "javascript://x/alert(1)"]
        }));
        assert!(d.starts_with("redirect_uris[1]:"), "{d}");
        let d = redirect_error(json!({"redirect_uris": ["http://evil.example/cb"]}));
        assert!(d.contains("loopback"), "{d}");
    }

    #[test]
    fn duplicate_redirect_uris_are_registered_once() {
        let v = ok(json!({"redirect_uris": ["https://a.example/cb", "https://a.example/cb"]}));
        assert_eq!(v.redirect_uris.len(), 1);
    }

    #[test]
    fn rfc7591_3_2_2_wrong_json_types_are_invalid_client_metadata() {
        assert_eq!(
            metadata_error(json!({"redirect_uris": "https://app.example/cb"})),
            "redirect_uris must be an array of strings"
        );
        assert_eq!(
            metadata_error(json!({"redirect_uris": ["https://app.example/cb", 7]})),
            "redirect_uris must be an array of strings"
        );
        assert_eq!(
            metadata_error(json!({"redirect_uris": ["https://a.example/cb"], "client_name": 5})),
            "client_name must be a string"
        );
        assert_eq!(
            metadata_error(
                json!({"redirect_uris": ["https://a.example/cb"], "grant_types": "authorization_code"})
            ),
            "grant_types must be an array of strings"
        );
        assert_eq!(
            metadata_error(json!({"redirect_uris": ["https://a.example/cb"], "scope": ["mcp"]})),
            "scope must be a string"
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_invalid_client_metadata() {
        for body in [
            &b"not json"[..],
            b"",
            b"[]",
            b"\"x\"",
            b"null",
            b"{\"redirect_uris\": [",
            b"\xff\xfe",
        ] {
            let e = RegistrationRequest::from_json(body).err();
            assert!(
                e.is_some_and(|e| e.code == ErrorCode::InvalidClientMetadata),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let padding = "a".repeat(MAX_REGISTRATION_BODY);
        let body =
            serde_json::to_vec(&json!({"redirect_uris": ["https://a.example/cb"], "p": padding}))
                .unwrap_or_default();
        let e = RegistrationRequest::from_json(&body).err();
        assert!(e.is_some_and(|e| e.code == ErrorCode::InvalidClientMetadata));
    }

    #[test]
    fn null_and_empty_optional_metadata_count_as_absent() {
        let v = ok(json!({
            "redirect_uris": ["https://a.example/cb"],
            "client_uri": "",
            "logo_uri": null,
            "scope": "",
            "token_endpoint_auth_method": null
        }));
        assert_eq!(v.client_uri, None);
        assert_eq!(v.logo_uri, None);
        assert_eq!(v.scope, None);
        assert_eq!(
            v.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
    }

    #[test]
    fn client_name_is_short_plain_text() {
        let name = "n".repeat(200);
        assert_eq!(
            ok(json!({"redirect_uris": ["https://a.example/cb"], "client_name": name})).client_name,
            Some(name)
        );
        assert!(metadata_error(
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "n".repeat(201)})
        )
        .contains("200"));
        assert!(metadata_error(
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "a\nb"})
        )
        .contains("control"));
        assert!(metadata_error(
            json!({"redirect_uris": ["https://a.example/cb"], "software_id": "s".repeat(201)})
        )
        .contains("software_id"));
        assert!(metadata_error(
            json!({"redirect_uris": ["https://a.example/cb"], "software_version": "\u{7}"})
        )
        .contains("software_version"));
    }

    #[test]
    fn informational_uris_must_be_https() {
        for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
            for bad in [
                "http://app.example/",
                "javascript:alert(1)",
                "https://user@app.example/",
                "not a url",
                &format!("https://app.example/{}", "a".repeat(2000)),
            ] {
                let d =
                    metadata_error(json!({"redirect_uris": ["https://a.example/cb"], field: bad}));
                assert!(d.starts_with(field), "{d}");
            }
        }
        let v = ok(
            json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "https://app.example/logo.png"}),
        );
        assert_eq!(v.logo_uri.as_deref(), Some("https://app.example/logo.png"));
    }

    #[test]
    fn unknown_scope_tokens_are_dropped_and_known_ones_kept() {
        // Issue 19: dropped, not refused; the response says what was kept.
        let v =
            ok(json!({"redirect_uris": ["https://a.example/cb"], "scope": "mcp offline_access"}));
        assert_eq!(v.scope.as_deref(), Some("mcp"));
        let v =
            ok(json!({"redirect_uris": ["https://a.example/cb"], "scope": "openid profile email"}));
        assert_eq!(v.scope, None);
        let v = ok(
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "github:repos  mcp mcp"}),
        );
        assert_eq!(v.scope.as_deref(), Some("github:repos mcp"));
    }

    fn stored(auth: &str, secret: Option<&str>) -> Client {
        let v = ok(json!({
            "client_name": "Example",
            "redirect_uris": ["https://app.example/cb", "http://localhost/cb"],
            "token_endpoint_auth_method": auth,
            "scope": "mcp",
            "logo_uri": "https://app.example/logo.png"
        }));
        Client::from_registration(
            v,
            "cid-1".into(),
            secret.map(client_secret_hash),
            1_700_000_000,
            86_400,
        )
    }

    #[test]
    fn rfc7591_3_2_1_response_for_a_public_client_has_no_secret() {
        let client = stored("none", None);
        assert!(client.is_public());
        assert_eq!(
            registration_response(&client, None),
            json!({
                "client_id": "cid-1",
                "client_id_issued_at": 1_700_000_000u64,
                "redirect_uris": ["https://app.example/cb", "http://localhost/cb"],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": "Example",
                "logo_uri": "https://app.example/logo.png",
                "scope": "mcp"
            })
        );
    }

    #[test]
    fn rfc7591_3_2_1_response_for_a_confidential_client_carries_secret_and_expiry() {
        let client = stored("client_secret_post", Some("s3cret"));
        let response = registration_response(&client, Some("s3cret"));
        assert_eq!(response["client_secret"], json!("s3cret"));
        assert_eq!(
            response["client_secret_expires_at"],
            json!(1_700_086_400u64)
        );
        assert_eq!(
            response["token_endpoint_auth_method"],
            json!("client_secret_post")
        );
    }

    #[test]
    fn rfc7592_management_fields_are_never_returned() {
        let response = registration_response(&stored("client_secret_basic", Some("s")), Some("s"));
        assert!(response.get("registration_client_uri").is_none());
        assert!(response.get("registration_access_token").is_none());
    }

    #[test]
    fn client_secret_is_stored_only_as_its_hash() {
        let client = stored("client_secret_basic", Some("s3cret"));
        let json = serde_json::to_string(&client).unwrap_or_default();
        assert!(!json.contains("s3cret"));
        assert_eq!(
            client.client_secret_hash,
            Some(client_secret_hash("s3cret"))
        );
        assert!(client.secret_matches("s3cret"));
        assert!(!client.secret_matches("s3cres"));
        assert!(!client.secret_matches(""));
    }

    #[test]
    fn a_public_client_keeps_no_secret_hash() {
        let client = stored("none", Some("ignored"));
        assert_eq!(client.client_secret_hash, None);
        assert!(!client.secret_matches("ignored"));
    }

    #[test]
    fn clients_expire_after_their_ttl_and_zero_means_never() {
        let client = stored("none", None);
        assert_eq!(client.expires_at, 1_700_086_400);
        assert!(!client.is_expired(1_700_086_399));
        assert!(client.is_expired(1_700_086_400));
        let v = ok(
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}),
        );
        let forever = Client::from_registration(v, "c".into(), None, 5, 0);
        assert_eq!(forever.expires_at, 0);
        assert!(!forever.is_expired(u64::MAX));
    }

    #[test]
    fn the_stored_record_round_trips_through_json() {
        let client = stored("client_secret_basic", Some("s"));
        let json = serde_json::to_string(&client).unwrap_or_default();
        let back: Result<Client, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(client.clone()));
        assert!(client.allows_grant(GrantType::RefreshToken));
    }
}

mod metadata {
    use super::*;
    use mcp_oauth_worker::oauth::grant::AccessError;
    use mcp_oauth_worker::oauth::metadata::{
        authorization_server_metadata, cors_headers, mcp_resource, protected_resource_metadata,
        resource_metadata_url, www_authenticate,
    };
    use mcp_oauth_worker::oauth::resource::{refuse, Refusal};

    const ISSUER: &str = "https://mcp.example.com";

    #[test]
    fn rfc8414_2_authorization_server_metadata() {
        assert_eq!(
            authorization_server_metadata(ISSUER),
            json!({
                "issuer": "https://mcp.example.com",
                "authorization_endpoint": "https://mcp.example.com/authorize",
                "token_endpoint": "https://mcp.example.com/token",
                "registration_endpoint": "https://mcp.example.com/register",
                "revocation_endpoint": "https://mcp.example.com/revoke",
                "introspection_endpoint": "https://mcp.example.com/introspect",
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
                "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
                "revocation_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
                "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
                "scopes_supported": ["mcp", "github:repos"],
                "authorization_response_iss_parameter_supported": true,
                "client_id_metadata_document_supported": true
            })
        );
    }

    #[test]
    fn rfc8414_3_3_issuer_is_used_byte_for_byte() {
        let issuer = "http://127.0.0.1:8787";
        let m = authorization_server_metadata(issuer);
        assert_eq!(m["issuer"], json!(issuer));
        assert_eq!(m["token_endpoint"], json!("http://127.0.0.1:8787/token"));
    }

    #[test]
    fn rfc9728_2_protected_resource_metadata() {
        assert_eq!(
            protected_resource_metadata("https://mcp.example.com/mcp", ISSUER),
            json!({
                "resource": "https://mcp.example.com/mcp",
                "authorization_servers": ["https://mcp.example.com"],
                "scopes_supported": ["mcp", "github:repos"],
                "bearer_methods_supported": ["header"],
                "resource_name": "MCP server"
            })
        );
    }

    #[test]
    fn offline_access_is_never_advertised() {
        let prm = protected_resource_metadata("https://h/mcp", ISSUER).to_string();
        let asm = authorization_server_metadata(ISSUER).to_string();
        assert!(!prm.contains("offline_access"));
        assert!(!asm.contains("offline_access"));
        assert!(!www_authenticate("https://h/m", None).contains("offline_access"));
    }

    #[test]
    fn rfc9728_3_1_metadata_url_is_path_suffixed_with_the_resource_path() {
        assert_eq!(
            resource_metadata_url(ISSUER),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(mcp_resource(ISSUER), "https://mcp.example.com/mcp");
    }

    #[test]
    fn rfc9728_5_1_challenge_without_a_token() {
        assert_eq!(
            www_authenticate("https://mcp.example.com/.well-known/oauth-protected-resource/mcp", None),
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp github:repos\""
        );
    }

    #[test]
    fn rfc6750_3_1_challenge_for_a_bad_token() {
        assert_eq!(
            www_authenticate("https://h/prm", Some(("invalid_token", "the access token expired"))),
            "Bearer error=\"invalid_token\", error_description=\"the access token expired\", resource_metadata=\"https://h/prm\", scope=\"mcp github:repos\""
        );
    }

    #[test]
    fn challenge_values_are_quote_escaped() {
        let v = www_authenticate("https://h/prm", Some(("invalid_token", "say \"hi\" \\o/")));
        assert!(
            v.contains("error_description=\"say \\\"hi\\\" \\\\o/\""),
            "{v}"
        );
        assert!(!v.contains('\n') && !v.contains('\r'));
    }

    #[test]
    fn rfc6750_3_1_insufficient_scope_names_the_scope_needed() {
        // What /mcp answers (`resource::refuse`) for a valid token without the
        // base scope `mcp`: 403, a challenge naming the scope, the JSON error.
        let reply = refuse("https://h/prm", &Refusal::Token(AccessError::MissingScope));
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.header_value("www-authenticate"),
            Some("Bearer error=\"insufficient_scope\", error_description=\"this request needs the scope: mcp\", resource_metadata=\"https://h/prm\", scope=\"mcp\"")
        );
        assert_eq!(
            body_json(&reply),
            json!({"error": "insufficient_scope", "error_description": "the access token lacks the scope 'mcp'"})
        );
        assert_eq!(reply.header_value("cache-control"), Some("no-store"));
        // Every other refusal of a token is 401 invalid_token, never insufficient_scope.
        for other in [AccessError::Invalid, AccessError::WrongResource] {
            let reply = refuse("https://h/prm", &Refusal::Token(other.clone()));
            assert_eq!(reply.status, 401, "{other:?}");
            assert_eq!(body_json(&reply)["error"], "invalid_token", "{other:?}");
            let challenge = reply.header_value("www-authenticate").unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            assert!(!challenge.contains("insufficient_scope"), "{challenge}");
        }
    }

    #[test]
    fn cors_allows_browser_clients_and_exposes_the_challenge() {
        let headers = cors_headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("access-control-allow-origin"), Some("*"));
        assert_eq!(
            get("access-control-allow-headers"),
            Some("Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID")
        );
        assert_eq!(
            get("access-control-expose-headers"),
            Some("WWW-Authenticate, Mcp-Session-Id")
        );
        assert!(get("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST") && m.contains("GET")));
        assert!(get("access-control-max-age").is_some_and(|a| a.parse::<u32>().is_ok()));
    }
}
