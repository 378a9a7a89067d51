//! Validation of `GET /authorize` (RFC 6749 §4.1.1 and §4.1.2.1, OAuth 2.1
//! §4.1.1, RFC 7636 §4.3, RFC 8707 §2, RFC 8252 §7.3): until the client and its
//! redirect URI are known to be good, errors stay on our own page; after that,
//! they go back to the client with its `state`.

use mcp_oauth_worker::oauth::authorize::{validate, AuthorizeError, AuthorizeQuery, MAX_STATE_LEN};
use mcp_oauth_worker::oauth::error::ErrorCode;
use mcp_oauth_worker::oauth::grant::AuthorizationRequest;
use mcp_oauth_worker::oauth::register::{self, Client, RegistrationRequest};

const NOW: u64 = 1_750_000_000;
const RESOURCE: &str = "https://mcp.example/mcp";
const REDIRECT: &str = "https://app.example/callback";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client_with(redirect_uris: &[&str], scope: Option<&str>) -> Client {
    let request = RegistrationRequest {
        redirect_uris: Some(redirect_uris.iter().map(|s| s.to_string()).collect()),
        token_endpoint_auth_method: Some("none".into()),
        scope: scope.map(str::to_owned),
        client_name: Some("Test app".into()),
        ..RegistrationRequest::default()
    };
    Client::from_registration(
        register::validate(request).unwrap(),
        "client-1".into(),
        None,
        NOW - 60,
        3600,
    )
}

fn client() -> Client {
    client_with(&[REDIRECT], None)
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A well-formed request, with `overrides` replacing (or, as `None`, removing)
/// its parameters.
fn query(overrides: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some("client-1")),
        ("redirect_uri", Some(REDIRECT)),
        ("scope", Some("mcp github:repos")),
        ("state", Some("af0ifjsldkj")),
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
        ("resource", Some(RESOURCE)),
    ];
    for (name, value) in overrides {
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = *value,
            None => params.push((name, *value)),
        }
    }
    params
        .iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n}={}", enc(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn check(raw: &str, client: Option<&Client>) -> Result<AuthorizationRequest, AuthorizeError> {
    let q = AuthorizeQuery::parse(raw)?;
    validate(&q, client, NOW, RESOURCE)
}

fn run(overrides: &[(&str, Option<&str>)]) -> Result<AuthorizationRequest, AuthorizeError> {
    check(&query(overrides), Some(&client()))
}

fn assert_local(result: Result<AuthorizationRequest, AuthorizeError>) {
    match result {
        Err(AuthorizeError::Local(message)) => assert!(!message.is_empty()),
        other => panic!("expected a local error page, got {other:?}"),
    }
}

/// The error redirected to the client: its code, the redirect URI and the state.
fn redirected(
    result: Result<AuthorizationRequest, AuthorizeError>,
) -> (ErrorCode, String, Option<String>) {
    match result {
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
        }) => (error.code, redirect_uri, state),
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

fn assert_redirected(result: Result<AuthorizationRequest, AuthorizeError>, code: ErrorCode) {
    let (got, redirect_uri, state) = redirected(result);
    assert_eq!(got, code);
    assert_eq!(redirect_uri, REDIRECT);
    assert_eq!(
        state.as_deref(),
        Some("af0ifjsldkj"),
        "the client's state comes back"
    );
}

mod local_errors {
    use super::*;

    #[test]
    fn a_well_formed_request_is_accepted() {
        let request = run(&[]).unwrap();
        assert_eq!(request.client_id, "client-1");
        assert_eq!(request.redirect_uri, REDIRECT);
        assert_eq!(request.scope, vec!["mcp", "github:repos"]);
        assert_eq!(request.resource, RESOURCE);
        assert_eq!(request.code_challenge.as_str(), CHALLENGE);
        assert_eq!(request.state.as_deref(), Some("af0ifjsldkj"));
    }

    #[test]
    fn an_unknown_client_is_a_local_error() {
        // RFC 6749 §4.1.2.1: MUST NOT automatically redirect to an unverified URI.
        assert_local(check(&query(&[]), None));
    }

    #[test]
    fn an_expired_client_is_a_local_error() {
        let c = client();
        let q = AuthorizeQuery::parse(&query(&[])).unwrap();
        assert_local(validate(&q, Some(&c), c.expires_at, RESOURCE));
    }

    #[test]
    fn a_missing_client_id_is_a_local_error() {
        assert_local(run(&[("client_id", None)]));
        assert_local(run(&[("client_id", Some(""))]));
    }

    #[test]
    fn an_unregistered_redirect_uri_is_a_local_error() {
        // OAuth 2.1 §7.5.1: exact string comparison.
        for uri in [
            "https://evil.example/callback",
            "https://app.example/callback/",
            "https://APP.example/callback",
            "https://app.example/callback?x=1",
            "https://app.example:443/callback",
        ] {
            assert_local(run(&[("redirect_uri", Some(uri))]));
        }
    }

    #[test]
    fn a_missing_redirect_uri_with_several_registered_is_a_local_error() {
        // RFC 6749 §3.1.2.3.
        let c = client_with(&[REDIRECT, "https://app.example/other"], None);
        assert_local(check(&query(&[("redirect_uri", None)]), Some(&c)));
    }

    #[test]
    fn a_missing_redirect_uri_with_one_registered_uses_it() {
        let request = run(&[("redirect_uri", None)]).unwrap();
        assert_eq!(request.redirect_uri, REDIRECT);
    }

    #[test]
    fn a_repeated_parameter_is_a_local_error() {
        // RFC 6749 §3.1: parameters MUST NOT be included more than once. The
        // redirect URI is not trustworthy yet, so nothing is redirected.
        let twice_redirect = format!(
            "{}&redirect_uri={}",
            query(&[]),
            enc("https://evil.example/cb")
        );
        assert_local(check(&twice_redirect, Some(&client())));
        let twice_state = format!("{}&state=again", query(&[]));
        assert_local(check(&twice_state, Some(&client())));
    }

    #[test]
    fn client_errors_win_over_every_other_error() {
        // An attacker's request with everything wrong must not become a redirect.
        let everything_wrong = query(&[
            ("redirect_uri", Some("https://evil.example/cb")),
            ("response_type", Some("token")),
            ("code_challenge", None),
            ("scope", Some("admin")),
            ("resource", Some("https://other.example/")),
        ]);
        assert_local(check(&everything_wrong, Some(&client())));
        assert_local(check(&query(&[("response_type", Some("token"))]), None));
    }
}

mod redirected_errors {
    use super::*;

    #[test]
    fn a_response_type_other_than_code_is_unsupported_response_type() {
        for rt in ["token", "code id_token", "id_token"] {
            assert_redirected(
                run(&[("response_type", Some(rt))]),
                ErrorCode::UnsupportedResponseType,
            );
        }
        assert_redirected(run(&[("response_type", None)]), ErrorCode::InvalidRequest);
    }

    #[test]
    fn pkce_is_required() {
        // OAuth 2.1 §4.1.1: code_challenge REQUIRED.
        assert_redirected(run(&[("code_challenge", None)]), ErrorCode::InvalidRequest);
        assert_redirected(
            run(&[("code_challenge", None), ("code_challenge_method", None)]),
            ErrorCode::InvalidRequest,
        );
    }

    #[test]
    fn pkce_plain_and_a_missing_method_are_refused() {
        // RFC 7636 §4.3: a missing method means plain.
        assert_redirected(
            run(&[("code_challenge_method", Some("plain"))]),
            ErrorCode::InvalidRequest,
        );
        assert_redirected(
            run(&[("code_challenge_method", None)]),
            ErrorCode::InvalidRequest,
        );
        assert_redirected(
            run(&[("code_challenge_method", Some("s256"))]),
            ErrorCode::InvalidRequest,
        );
    }

    #[test]
    fn a_challenge_that_is_not_a_sha256_digest_is_refused() {
        for bad in [
            "short",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk1",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c+",
        ] {
            assert_redirected(
                run(&[("code_challenge", Some(bad))]),
                ErrorCode::InvalidRequest,
            );
        }
    }

    #[test]
    fn an_unknown_scope_is_dropped_not_refused() {
        // Issue 19: Goose asks for `openid profile email`; RFC 6749 §3.3 lets
        // the server grant less, and the token response says what it granted.
        let request = run(&[("scope", Some("mcp admin"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp"]);
        let request = run(&[("scope", Some("openid profile email"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp"]);
        let request = run(&[("scope", Some("openid github:repos"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp", "github:repos"]);
    }

    #[test]
    fn a_scope_the_client_did_not_register_is_invalid_scope() {
        let c = client_with(&[REDIRECT], Some("mcp"));
        assert_redirected(
            check(&query(&[("scope", Some("mcp github:repos"))]), Some(&c)),
            ErrorCode::InvalidScope,
        );
        assert!(check(&query(&[("scope", Some("mcp"))]), Some(&c)).is_ok());
    }

    #[test]
    fn a_resource_other_than_this_server_is_invalid_target() {
        // RFC 8707 §2.
        for other in [
            "https://other.example/mcp",
            "https://mcp.example/mcp/",
            "https://mcp.example",
        ] {
            assert_redirected(run(&[("resource", Some(other))]), ErrorCode::InvalidTarget);
        }
    }

    #[test]
    fn a_request_without_state_gets_its_error_without_state() {
        let (code, _, state) =
            redirected(run(&[("state", None), ("response_type", Some("token"))]));
        assert_eq!(code, ErrorCode::UnsupportedResponseType);
        assert_eq!(state, None);
    }

    #[test]
    fn an_overlong_state_is_refused_without_echoing_it() {
        let long = "s".repeat(MAX_STATE_LEN + 1);
        let (code, _, state) = redirected(run(&[("state", Some(&long))]));
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert_eq!(state, None);
        assert!(run(&[("state", Some(&"s".repeat(MAX_STATE_LEN)))]).is_ok());
    }

    #[test]
    fn the_error_redirect_carries_error_state_and_issuer() {
        // RFC 6749 §4.1.2.1 and RFC 9207 §2.
        match run(&[("response_type", Some("token"))]) {
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
            }) => {
                let location =
                    error.redirect_location(&redirect_uri, state.as_deref(), "https://mcp.example");
                assert!(
                    location.starts_with(
                        "https://app.example/callback?error=unsupported_response_type&"
                    ),
                    "{location}"
                );
                assert!(location.contains("&state=af0ifjsldkj&"), "{location}");
                assert!(
                    location.ends_with("&iss=https%3A%2F%2Fmcp.example"),
                    "{location}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

mod accepted_requests {
    use super::*;

    #[test]
    fn offline_access_is_accepted_and_dropped() {
        let request = run(&[("scope", Some("offline_access mcp github:repos"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp", "github:repos"]);
        let request = run(&[("scope", Some("offline_access"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp"]);
    }

    #[test]
    fn the_mcp_scope_is_always_granted() {
        let request = run(&[("scope", Some("github:repos"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp", "github:repos"]);
    }

    #[test]
    fn repeated_scopes_are_granted_once() {
        let request = run(&[("scope", Some("mcp  mcp github:repos github:repos"))]).unwrap();
        assert_eq!(request.scope, vec!["mcp", "github:repos"]);
    }

    #[test]
    fn no_scope_means_the_registered_scope_or_all_scopes() {
        assert_eq!(
            run(&[("scope", None)]).unwrap().scope,
            vec!["mcp", "github:repos"]
        );
        assert_eq!(
            run(&[("scope", Some(""))]).unwrap().scope,
            vec!["mcp", "github:repos"]
        );
        let c = client_with(&[REDIRECT], Some("mcp"));
        assert_eq!(
            check(&query(&[("scope", None)]), Some(&c)).unwrap().scope,
            vec!["mcp"]
        );
    }

    #[test]
    fn a_missing_resource_means_this_server() {
        assert_eq!(run(&[("resource", None)]).unwrap().resource, RESOURCE);
    }

    #[test]
    fn an_empty_state_is_no_state() {
        assert_eq!(run(&[("state", Some(""))]).unwrap().state, None);
    }

    #[test]
    fn the_state_is_carried_exactly() {
        let odd = "a b&c=d/é%";
        assert_eq!(
            run(&[("state", Some(odd))]).unwrap().state.as_deref(),
            Some(odd)
        );
    }

    #[test]
    fn a_loopback_redirect_may_use_any_port() {
        // RFC 8252 §7.3.
        let c = client_with(&["http://127.0.0.1/callback"], None);
        let presented = "http://127.0.0.1:33418/callback";
        let request = check(&query(&[("redirect_uri", Some(presented))]), Some(&c)).unwrap();
        assert_eq!(
            request.redirect_uri, presented,
            "the presented URI, port included, is where the code goes"
        );
        assert!(check(
            &query(&[("redirect_uri", Some("http://127.0.0.1/callback"))]),
            Some(&c)
        )
        .is_ok());
    }

    #[test]
    fn a_loopback_redirect_differs_only_in_the_port_and_loopback_spelling() {
        let c = client_with(&["http://127.0.0.1/callback"], None);
        for uri in [
            "http://localhost:33418/callback",
            "http://[::1]/callback",
            "http://127.0.0.1:33418/callback",
        ] {
            assert!(
                check(&query(&[("redirect_uri", Some(uri))]), Some(&c)).is_ok(),
                "{uri}"
            );
        }
        for uri in [
            "http://localhost:33418/callback?server_id=1",
            "http://127.0.0.1:33418/other",
            "https://127.0.0.1:33418/callback",
        ] {
            assert_local(check(&query(&[("redirect_uri", Some(uri))]), Some(&c)));
        }
    }

    #[test]
    fn a_private_use_scheme_redirect_is_matched_exactly() {
        let cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
        let c = client_with(&[cursor, REDIRECT], None);
        assert_eq!(
            check(&query(&[("redirect_uri", Some(cursor))]), Some(&c))
                .unwrap()
                .redirect_uri,
            cursor
        );
        assert_local(check(
            &query(&[(
                "redirect_uri",
                Some("cursor://anysphere.cursor-mcp/oauth/callbac"),
            )]),
            Some(&c),
        ));
    }
}
