//! The token endpoint's own work (RFC 6749 §2.3, §3.2, §4.1.3; RFC 7009): form
//! parsing, client credentials and client authentication, the grant command
//! protocol across JSON, and a /token request end to end against the grant's
//! serializer.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{block_on, location, query_param, Browser, Platform};
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::client_auth::{authenticate_client, client_credentials, ClientAuth};
use mcp_oauth_worker::oauth::crypto;
use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::grant::command::{typed, GrantAnswer};
use mcp_oauth_worker::oauth::grant::{self, GrantError, StateProblem, TokenPair};
use mcp_oauth_worker::oauth::register::{
    client_secret_hash, validate, Client, RegistrationRequest, TokenEndpointAuthMethod,
};
use mcp_oauth_worker::oauth::token::{parse_form, GrantCommand, TokenForm};
use mcp_oauth_worker::oauth::types::{AnyToken, ClientSecret};
use serde_json::Value;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const NOW: u64 = 1_750_000_000;
const RESOURCE: &str = "https://mcp.example/mcp";
const REDIRECT: &str = "https://app.example/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn form(body: &str) -> TokenForm {
    parse_form(FORM, body.as_bytes()).unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn registered(method: &str, redirect_uris: &[&str], ttl: u64) -> Client {
    let request = RegistrationRequest {
        redirect_uris: Some(redirect_uris.iter().map(|s| s.to_string()).collect()),
        token_endpoint_auth_method: Some(method.into()),
        client_name: Some("Test client".into()),
        ..RegistrationRequest::default()
    };
    let validated = validate(request).unwrap();
    let secret_hash = (method != "none").then(|| client_secret_hash("s3cret"));
    Client::from_registration(
        validated,
        format!("client-{method}"),
        secret_hash,
        NOW - 10,
        ttl,
    )
}

fn code_of(error: OAuthError) -> String {
    error.code.as_str().to_owned()
}

mod form_parsing {
    use super::*;

    #[test]
    fn the_endpoint_takes_form_urlencoded_bodies_only() {
        // RFC 6749 §3.2: application/x-www-form-urlencoded.
        for content_type in [
            None,
            Some("application/json"),
            Some("text/plain"),
            Some(""),
            Some("multipart/form-data"),
        ] {
            let err = parse_form(content_type, b"grant_type=refresh_token").unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{content_type:?}");
        }
    }

    #[test]
    fn the_media_type_may_carry_parameters_and_any_case() {
        for content_type in [
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
            " application/x-www-form-urlencoded ;charset=utf-8",
        ] {
            let f = parse_form(Some(content_type), b"grant_type=refresh_token").unwrap();
            assert_eq!(
                f.grant_type.as_deref(),
                Some("refresh_token"),
                "{content_type}"
            );
        }
    }

    #[test]
    fn a_repeated_parameter_is_invalid_request() {
        // RFC 6749 §3.2: parameters sent without a value... MUST NOT be included more than once.
        for body in [
            "grant_type=authorization_code&code=a&code=b",
            "grant_type=refresh_token&grant_type=refresh_token",
            "client_id=x&client_id=y",
        ] {
            let err = parse_form(FORM, body.as_bytes()).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{body}");
        }
    }

    #[test]
    fn values_are_percent_and_plus_decoded_and_unknown_parameters_ignored() {
        let f = form("grant_type=authorization_code&code=mcpc.abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1&scope=mcp+github%3Arepos&unknown=1&resource=https%3A%2F%2Fmcp.example%2Fmcp");
        assert_eq!(f.grant_type.as_deref(), Some("authorization_code"));
        assert_eq!(f.code.as_deref(), Some("mcpc.abc"));
        assert_eq!(
            f.redirect_uri.as_deref(),
            Some("https://app.example/cb?a=1")
        );
        assert_eq!(f.scope.as_deref(), Some("mcp github:repos"));
        assert_eq!(f.resource.as_deref(), Some(RESOURCE));
        assert!(f.client_secret.is_none() && f.token.is_none());
    }

    #[test]
    fn an_empty_body_has_no_parameters() {
        let f = form("");
        assert!(f.grant_type.is_none() && f.client_id.is_none());
    }
}

mod credentials {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_before_base64() {
        // RFC 6749 §2.3.1.
        let header = basic("my+client%3A1", "p%40ss%3Aw%2Brd%2F%C3%A9");
        let auth = client_credentials(Some(&header), &form("")).unwrap();
        assert_eq!(
            auth,
            ClientAuth::Basic {
                client_id: "my client:1".into(),
                secret: ClientSecret::new("p@ss:w+rd/é")
            }
        );
        assert_eq!(auth.client_id(), "my client:1");
        assert_eq!(auth.method(), TokenEndpointAuthMethod::ClientSecretBasic);
    }

    #[test]
    fn the_debug_form_never_shows_the_secret() {
        let auth = client_credentials(Some(&basic("id", "very-secret-value")), &form("")).unwrap();
        assert!(!format!("{auth:?}").contains("very-secret-value"));
        let auth = client_credentials(None, &form("client_id=id&client_secret=very-secret-value"))
            .unwrap();
        assert!(!format!("{auth:?}").contains("very-secret-value"));
    }

    #[test]
    fn basic_with_a_secret_in_the_body_too_is_invalid_request() {
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        let err = client_credentials(Some(&basic("id", "secret")), &form("client_secret=secret"))
            .unwrap_err();
        assert_eq!(code_of(err), "invalid_request");
    }

    #[test]
    fn a_body_client_id_must_name_the_basic_client() {
        let same = client_credentials(Some(&basic("id", "secret")), &form("client_id=id")).unwrap();
        assert_eq!(same.client_id(), "id");
        let err =
            client_credentials(Some(&basic("id", "secret")), &form("client_id=other")).unwrap_err();
        assert_eq!(code_of(err), "invalid_client");
    }

    #[test]
    fn malformed_authorization_headers_are_invalid_client() {
        let no_colon = format!("Basic {}", STANDARD.encode("idsecret"));
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x']));
        for header in [
            "Bearer abc",
            "Basic !!!not-base64!!!",
            &no_colon,
            &not_utf8,
            "Digest x=y",
        ] {
            let err = client_credentials(Some(header), &form("client_id=id")).unwrap_err();
            assert_eq!(code_of(err), "invalid_client", "{header}");
        }
    }

    #[test]
    fn the_basic_scheme_name_is_case_insensitive() {
        // RFC 7235 §2.1: "It uses a case-insensitive token to identify the authentication scheme".
        let encoded = STANDARD.encode("id:secret");
        for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
            let auth = client_credentials(Some(&format!("{scheme} {encoded}")), &form("")).unwrap();
            assert_eq!(
                auth,
                ClientAuth::Basic {
                    client_id: "id".into(),
                    secret: ClientSecret::new("secret")
                },
                "{scheme}"
            );
        }
    }

    #[test]
    fn a_public_client_sends_only_its_id() {
        let auth = client_credentials(None, &form("client_id=public-1")).unwrap();
        assert_eq!(
            auth,
            ClientAuth::None {
                client_id: "public-1".into()
            }
        );
        assert_eq!(auth.method(), TokenEndpointAuthMethod::None);
        // An empty header counts as no header.
        assert_eq!(
            client_credentials(Some("  "), &form("client_id=public-1")).unwrap(),
            auth
        );
    }

    #[test]
    fn a_secret_in_the_body_is_client_secret_post() {
        let auth = client_credentials(None, &form("client_id=c&client_secret=s%26t")).unwrap();
        assert_eq!(
            auth,
            ClientAuth::Post {
                client_id: "c".into(),
                secret: ClientSecret::new("s&t")
            }
        );
        assert_eq!(auth.method(), TokenEndpointAuthMethod::ClientSecretPost);
    }

    #[test]
    fn no_client_id_at_all_is_invalid_client() {
        for body in ["", "client_id=", "client_secret=s"] {
            let err = client_credentials(None, &form(body)).unwrap_err();
            assert_eq!(code_of(err), "invalid_client", "{body}");
        }
    }
}

mod client_authentication {
    use super::*;

    fn basic_auth(secret: &str) -> ClientAuth {
        ClientAuth::Basic {
            client_id: "client-client_secret_basic".into(),
            secret: ClientSecret::new(secret),
        }
    }

    #[test]
    fn an_unknown_client_is_invalid_client_with_401() {
        // Claude registers again on 401 invalid_client.
        let err = authenticate_client(
            &ClientAuth::None {
                client_id: "nobody".into(),
            },
            None,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
        let reply = err.to_json_reply();
        assert_eq!(reply.status, 401);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(err
            .to_json_reply_for_basic_auth()
            .header_value("WWW-Authenticate")
            .is_some());
    }

    #[test]
    fn an_expired_client_is_invalid_client() {
        let client = registered("none", &[REDIRECT], 3600);
        let auth = ClientAuth::None {
            client_id: client.client_id.clone(),
        };
        assert!(authenticate_client(&auth, Some(&client), NOW).is_ok());
        let err = authenticate_client(&auth, Some(&client), client.expires_at).unwrap_err();
        assert_eq!(err.to_json_reply().status, 401);
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn the_registered_method_must_be_used() {
        let confidential = registered("client_secret_basic", &[REDIRECT], 0);
        let public = registered("none", &[REDIRECT], 0);
        let post = ClientAuth::Post {
            client_id: confidential.client_id.clone(),
            secret: ClientSecret::new("s3cret"),
        };
        let none = ClientAuth::None {
            client_id: confidential.client_id.clone(),
        };
        for auth in [post, none] {
            let err = authenticate_client(&auth, Some(&confidential), NOW).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient, "{auth:?}");
        }
        // A public client presenting a secret is not what it registered either.
        let basic = ClientAuth::Basic {
            client_id: public.client_id.clone(),
            secret: ClientSecret::new("anything"),
        };
        assert_eq!(
            authenticate_client(&basic, Some(&public), NOW)
                .unwrap_err()
                .code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn a_wrong_secret_is_invalid_client() {
        let client = registered("client_secret_basic", &[REDIRECT], 0);
        for wrong in ["", "s3cre", "s3cret ", "S3CRET"] {
            let err = authenticate_client(&basic_auth(wrong), Some(&client), NOW).unwrap_err();
            assert_eq!(err.to_json_reply().status, 401, "{wrong:?}");
        }
    }

    #[test]
    fn the_right_secret_authenticates() {
        let client = registered("client_secret_basic", &[REDIRECT], 0);
        assert!(authenticate_client(&basic_auth("s3cret"), Some(&client), NOW).is_ok());
        let post_client = registered("client_secret_post", &[REDIRECT], 0);
        let post = ClientAuth::Post {
            client_id: post_client.client_id.clone(),
            secret: ClientSecret::new("s3cret"),
        };
        assert!(authenticate_client(&post, Some(&post_client), NOW).is_ok());
    }

    #[test]
    fn a_public_client_authenticates_with_its_id() {
        let client = registered("none", &[REDIRECT], 0);
        assert!(authenticate_client(
            &ClientAuth::None {
                client_id: client.client_id.clone()
            },
            Some(&client),
            NOW
        )
        .is_ok());
    }
}

mod grant_protocol {
    use super::*;

    /// What crosses to the grant's object and back: JSON both ways.
    fn across<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
    }

    #[test]
    fn commands_and_answers_cross_json_tagged() {
        let json = serde_json::to_value(GrantCommand::Revoke {
            token: AnyToken::new("t"),
            client_id: "c".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"revoke": {"token": "t", "client_id": "c"}})
        );
        let json = serde_json::to_value(GrantCommand::Abandon).unwrap();
        assert_eq!(json, serde_json::json!("abandon"));
        let ok: GrantAnswer = Ok(serde_json::json!(null));
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            serde_json::json!({"Ok": null})
        );
        let internal: GrantAnswer = serde_json::from_str(r#"{"Err": "internal"}"#).unwrap();
        assert_eq!(internal, Err(GrantError::Internal));
        let unavailable: GrantAnswer = Err(GrantError::Unavailable);
        assert_eq!(across(&unavailable), unavailable);
    }

    #[test]
    fn an_oauth_answer_becomes_the_same_oauth_error() {
        let answer: GrantAnswer = Err(GrantError::oauth(OAuthError::invalid_target(
            "resource differs",
        )));
        match typed::<TokenPair>(across(&answer)) {
            Err(e @ GrantError::OAuth { .. }) => {
                let e = e.to_oauth();
                assert_eq!(e.code, ErrorCode::InvalidTarget);
                assert_eq!(e.description, "resource differs");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_answers_stay_typed_and_map_to_a_static_message() {
        let answer: GrantAnswer = Err(GrantError::State(StateProblem::Used));
        let back = typed::<()>(across(&answer));
        assert_eq!(back, Err(GrantError::State(StateProblem::Used)));
        let message = back.unwrap_err().to_string();
        assert_eq!(message, StateProblem::Used.message());
        // Only the known problems cross: a made-up one (or markup) does not
        // decode, so no text from the wire reaches a page.
        for wire in [
            r#"{"Err": {"state": "<script>"}}"#,
            r#"{"Err": {"state": "this sign-in link was already used"}}"#,
        ] {
            assert!(serde_json::from_str::<GrantAnswer>(wire).is_err(), "{wire}");
        }
        assert_eq!(
            typed::<()>(Err(GrantError::Internal)),
            Err(GrantError::Internal)
        );
    }

    #[test]
    fn an_ok_answer_of_the_wrong_shape_is_internal() {
        let answer: GrantAnswer = Ok(serde_json::json!("not a token pair"));
        assert!(matches!(
            typed::<TokenPair>(answer),
            Err(GrantError::Internal)
        ));
    }
}

/// A deployment with `client` registered (as `/register` stores it).
fn platform_with(client: &Client) -> Platform {
    let p = Platform::new();
    assert_eq!(p.now.get(), NOW);
    p.kv_set(
        &keys::client(&client.client_id),
        &serde_json::to_string(client).unwrap(),
    );
    p
}

/// From `GET /authorize?<query>` to the authorization code the client gets:
/// the consent page, the user's approval, the upstream sign-in and our
/// callback, through the same flows the Worker runs.
fn authorize_and_sign_in(p: &Platform, query: &str) -> String {
    let back = Browser::default().back_to_client(p, query);
    query_param(&location(&back), "code").expect("a code")
}

/// `POST /token` with `body`, as the Worker runs it (`flow::token`: form,
/// client authentication, `token::plan`, the grant's object): the status and
/// the JSON body.
fn token_request(p: &Platform, authorization: Option<&str>, body: &str) -> (u16, Value) {
    let reply = block_on(flow::token(
        &p.site(None),
        p,
        authorization,
        FORM,
        body.as_bytes(),
    ))
    .unwrap();
    let json = serde_json::from_slice(&reply.body).unwrap();
    (reply.status, json)
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

mod token_requests {
    use super::*;

    fn authorize_query(client: &Client, redirect_uri: Option<&str>) -> String {
        let mut q = format!(
            "response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=st&resource={}",
            enc(&client.client_id),
            enc(RESOURCE)
        );
        if let Some(r) = redirect_uri {
            q.push_str(&format!("&redirect_uri={}", enc(r)));
        }
        q
    }

    fn redeem_body(client_id: Option<&str>, code: &str, redirect_uri: Option<&str>) -> String {
        let mut body = format!(
            "grant_type=authorization_code&code={}&code_verifier={VERIFIER}",
            enc(code)
        );
        if let Some(id) = client_id {
            body.push_str(&format!("&client_id={}", enc(id)));
        }
        if let Some(r) = redirect_uri {
            body.push_str(&format!("&redirect_uri={}", enc(r)));
        }
        body
    }

    #[test]
    fn a_public_client_redeems_and_refreshes_with_its_id_in_the_form() {
        let client = registered("none", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, Some(REDIRECT)));
        let (status, pair) = token_request(
            &p,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(REDIRECT)),
        );
        assert_eq!(status, 200, "{pair}");
        let access_token = text(&pair, "access_token");
        let record = p.kv_get(&keys::access(&crypto::hash_token(&access_token)));
        let ctx = grant::authenticate(
            record.as_deref(),
            &access_token,
            &[RESOURCE],
            NOW,
            &p.config.keyring,
        )
        .unwrap();
        assert_eq!(ctx.client_id.as_deref(), Some(client.client_id.as_str()));

        let body = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}&scope=mcp",
            enc(&text(&pair, "refresh_token")),
            enc(&client.client_id)
        );
        let (status, rotated) = token_request(&p, None, &body);
        assert_eq!(status, 200, "{rotated}");
        assert_eq!(text(&rotated, "scope"), "mcp");
        assert_ne!(
            text(&rotated, "refresh_token"),
            text(&pair, "refresh_token")
        );
    }

    #[test]
    fn a_confidential_client_redeems_with_basic_credentials() {
        let client = registered("client_secret_basic", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, Some(REDIRECT)));
        let wrong = basic(&client.client_id, "wrong");
        let (status, err) =
            token_request(&p, Some(&wrong), &redeem_body(None, &code, Some(REDIRECT)));
        assert_eq!(status, 401);
        assert_eq!(text(&err, "error"), "invalid_client");
        let right = basic(&client.client_id, "s3cret");
        let (status, pair) =
            token_request(&p, Some(&right), &redeem_body(None, &code, Some(REDIRECT)));
        assert_eq!(status, 200, "{pair}");
    }

    #[test]
    fn a_loopback_client_redeems_with_the_port_it_authorized_with() {
        let client = registered("none", &["http://127.0.0.1/callback"], 0);
        let p = platform_with(&client);
        let presented = "http://127.0.0.1:33418/callback";
        let code = authorize_and_sign_in(&p, &authorize_query(&client, Some(presented)));
        let (status, pair) = token_request(
            &p,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(presented)),
        );
        assert_eq!(status, 200, "{pair}");
    }

    #[test]
    fn a_client_omitting_redirect_uri_in_authorize_may_still_send_it_at_token() {
        let client = registered("none", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, None));
        let (status, pair) = token_request(
            &p,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(REDIRECT)),
        );
        assert_eq!(status, 200, "{pair}");
    }

    #[test]
    fn redirect_uri_is_optional_at_token_when_the_authorization_request_omitted_it() {
        // OAuth 2.1 §4.1.1: redirect_uri is OPTIONAL when one URI is registered;
        // §4.1.3: at the token endpoint it is REQUIRED only "if the redirect_uri
        // parameter was included in the authorization request".
        let client = registered("none", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, None));
        let (status, pair) =
            token_request(&p, None, &redeem_body(Some(&client.client_id), &code, None));
        assert_eq!(status, 200, "{pair}");
    }

    #[test]
    fn a_redirect_uri_sent_in_authorize_is_required_at_token() {
        let client = registered("none", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, Some(REDIRECT)));
        let (status, err) =
            token_request(&p, None, &redeem_body(Some(&client.client_id), &code, None));
        assert_eq!(status, 400);
        assert_eq!(text(&err, "error"), "invalid_grant");
    }

    #[test]
    fn what_token_plan_refuses_never_reaches_a_grant() {
        // `token::plan` reads the grant id off the token: a wrong grant type, or
        // a token that is not of the grant type's kind, is answered without any
        // grant object being called (RFC 6749 §5.2 codes).
        let client = registered("none", &[REDIRECT], 0);
        let p = platform_with(&client);
        let code = authorize_and_sign_in(&p, &authorize_query(&client, Some(REDIRECT)));
        let id = enc(&client.client_id);
        let cases = [
            (
                format!("grant_type=password&client_id={id}"),
                "unsupported_grant_type",
            ),
            (format!("client_id={id}"), "invalid_request"),
            (
                format!("grant_type=authorization_code&client_id={id}"),
                "invalid_request",
            ),
            (
                format!("grant_type=authorization_code&code=garbage&client_id={id}"),
                "invalid_grant",
            ),
            (
                // A code is not a refresh token.
                format!(
                    "grant_type=refresh_token&refresh_token={}&client_id={id}",
                    enc(&code)
                ),
                "invalid_grant",
            ),
        ];
        p.reset_counts();
        for (body, error) in cases {
            let (status, json) = token_request(&p, None, &body);
            assert_eq!(
                (status, text(&json, "error")),
                (400, error.into()),
                "{body}"
            );
        }
        assert_eq!(p.counts.get().grant_calls, 0);
        // The code was not touched by any of that.
        let (status, pair) = token_request(
            &p,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(REDIRECT)),
        );
        assert_eq!(status, 200, "{pair}");
    }
}
