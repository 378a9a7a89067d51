//! The token endpoint's own work (RFC 6749 §2.3, §3.2, §4.1.3; RFC 7009): form
//! parsing, client credentials and client authentication, the grant command
//! protocol across JSON, and a /token request end to end against the grant's
//! serializer.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcp_oauth_worker::oauth::authorize::{self, AuthorizeQuery};
use mcp_oauth_worker::oauth::crypto::{self, OsEntropy};
use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
use mcp_oauth_worker::oauth::grant::{
    self, Effect, GrantError, GrantState, Keys, Props, TokenPair,
};
use mcp_oauth_worker::oauth::register::{
    client_secret_hash, validate, Client, RegistrationRequest, TokenEndpointAuthMethod,
};
use mcp_oauth_worker::oauth::token::{
    authenticate_client, client_credentials, execute, parse_form, ClientAuth, GrantAnswer,
    GrantCommand, TokenForm,
};
use mcp_oauth_worker::upstream::UpstreamTokens;
use mcp_oauth_worker::user::UserProfile;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const NOW: u64 = 1_750_000_000;
const SECRET: &str = "test-server-secret-0123456789abcdef-xyz";
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
                secret: "p@ss:w+rd/é".into()
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
                    secret: "secret".into()
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
                secret: "s&t".into()
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
            secret: secret.into(),
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
            secret: "s3cret".into(),
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
            secret: "anything".into(),
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
            secret: "s3cret".into(),
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

    #[test]
    fn commands_and_answers_cross_json_tagged() {
        let json = serde_json::to_value(GrantCommand::Revoke {
            token: "t".into(),
            client_id: "c".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"revoke": {"token": "t", "client_id": "c"}})
        );
        let json = serde_json::to_value(GrantCommand::Abandon).unwrap();
        assert_eq!(json, serde_json::json!("abandon"));
        let ok = serde_json::to_value(GrantAnswer::Ok {
            value: serde_json::json!(null),
        })
        .unwrap();
        assert_eq!(ok, serde_json::json!({"ok": {"value": null}}));
        let internal: GrantAnswer = serde_json::from_str(r#""internal""#).unwrap();
        assert!(matches!(internal, GrantAnswer::Internal));
    }

    #[test]
    fn an_oauth_answer_becomes_the_same_oauth_error() {
        let answer = GrantAnswer::OAuth {
            error: "invalid_target".into(),
            error_description: "resource differs".into(),
        };
        let wire: GrantAnswer =
            serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap();
        match wire.into_result::<TokenPair>() {
            Err(GrantError::OAuth(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidTarget);
                assert_eq!(e.description, "resource differs");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_answers_map_back_to_a_static_message() {
        let known = "this sign-in link was already used; start again from your MCP client";
        let back = GrantAnswer::State {
            message: known.into(),
        }
        .into_result::<()>();
        assert_eq!(back, Err(GrantError::State(known)));
        let unknown = GrantAnswer::State {
            message: "<script>".into(),
        }
        .into_result::<()>();
        assert!(matches!(unknown, Err(GrantError::State(m)) if !m.contains("<script>")));
        assert_eq!(
            GrantAnswer::Internal.into_result::<()>(),
            Err(GrantError::Internal)
        );
    }

    #[test]
    fn an_ok_answer_of_the_wrong_shape_is_internal() {
        let answer = GrantAnswer::Ok {
            value: serde_json::json!("not a token pair"),
        };
        assert!(matches!(
            answer.into_result::<TokenPair>(),
            Err(GrantError::Internal)
        ));
    }
}

/// The grant's serializer and KV, as in the Durable Object.
struct Serializer {
    state: Option<GrantState>,
    kv: HashMap<String, String>,
}

impl Serializer {
    fn run(&mut self, command: GrantCommand) -> GrantAnswer {
        let keys = Keys {
            server_secret: SECRET,
            access_ttl: 3600,
            refresh_ttl: 86400,
        };
        let command: GrantCommand =
            serde_json::from_str(&serde_json::to_string(&command).unwrap()).unwrap();
        let (next, effects, answer) = execute(self.state.take(), command, NOW, &keys, &OsEntropy);
        self.state =
            next.map(|s| serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap());
        for effect in effects {
            match effect {
                Effect::Put { key, value, .. } => {
                    self.kv.insert(key, value);
                }
                Effect::Delete { key } => {
                    self.kv.remove(&key);
                }
            }
        }
        serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap()
    }
}

/// From `GET /authorize?<query>` to an authorization code for `client`.
fn authorize_and_sign_in(serializer: &mut Serializer, client: &Client, query: &str) -> String {
    let query = AuthorizeQuery::parse(query).unwrap();
    let request = authorize::validate(&query, Some(client), NOW, RESOURCE).unwrap();
    let grant_id = crypto::random_id(&OsEntropy).unwrap();
    let state: String = serializer
        .run(GrantCommand::Begin {
            grant_id,
            request,
            upstream_verifier: "uv".into(),
            nonce: "n".into(),
        })
        .into_result()
        .unwrap();
    let _: grant::TakenState = serializer
        .run(GrantCommand::TakeState { state })
        .into_result()
        .unwrap();
    let props = Props {
        user: UserProfile {
            id: "dev:1".into(),
            login: "dev".into(),
            name: None,
            email: None,
            provider: "dev".into(),
        },
        upstream: Some(UpstreamTokens {
            access_token: "up".into(),
            refresh_token: None,
            expires_at: None,
            scope: None,
        }),
    };
    serializer
        .run(GrantCommand::IssueCode { props })
        .into_result()
        .unwrap()
}

/// What `POST /token` does with a body, up to the grant's answer.
fn token_request(
    serializer: &mut Serializer,
    client: &Client,
    authorization: Option<&str>,
    body: &str,
) -> Result<TokenPair, OAuthError> {
    let form = parse_form(FORM, body.as_bytes())?;
    let auth = client_credentials(authorization, &form)?;
    authenticate_client(
        &auth,
        Some(client).filter(|c| c.client_id == auth.client_id()),
        NOW,
    )?;
    let command = match form.grant_type.as_deref() {
        Some("authorization_code") => GrantCommand::Redeem {
            code: form
                .code
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("code"))?,
            client_id: auth.client_id().to_owned(),
            redirect_uri: form.redirect_uri.clone(),
            code_verifier: form.code_verifier.clone(),
            resource: form.resource.clone(),
        },
        Some("refresh_token") => GrantCommand::Refresh {
            refresh_token: form
                .refresh_token
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("refresh_token"))?,
            client_id: auth.client_id().to_owned(),
            scope: form
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
            resource: form.resource.clone(),
            new_props: None,
        },
        _ => return Err(OAuthError::unsupported_grant_type("grant_type")),
    };
    serializer
        .run(command)
        .into_result::<TokenPair>()
        .map_err(|e| match e {
            GrantError::OAuth(e) => e,
            other => panic!("{other:?}"),
        })
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
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let code =
            authorize_and_sign_in(&mut s, &client, &authorize_query(&client, Some(REDIRECT)));
        let pair = token_request(
            &mut s,
            &client,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(REDIRECT)),
        )
        .unwrap();
        let record =
            s.kv.get(&grant::access_key(&crypto::hash_token(&pair.access_token)))
                .map(String::as_str);
        let ctx = grant::authenticate(record, &pair.access_token, RESOURCE, NOW, SECRET).unwrap();
        assert_eq!(ctx.client_id.as_deref(), Some(client.client_id.as_str()));

        let body = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}&scope=mcp",
            enc(&pair.refresh_token),
            enc(&client.client_id)
        );
        let rotated = token_request(&mut s, &client, None, &body).unwrap();
        assert_eq!(rotated.scope, vec!["mcp"]);
    }

    #[test]
    fn a_confidential_client_redeems_with_basic_credentials() {
        let client = registered("client_secret_basic", &[REDIRECT], 0);
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let code =
            authorize_and_sign_in(&mut s, &client, &authorize_query(&client, Some(REDIRECT)));
        let wrong = basic(&client.client_id, "wrong");
        let err = token_request(
            &mut s,
            &client,
            Some(&wrong),
            &redeem_body(None, &code, Some(REDIRECT)),
        )
        .unwrap_err();
        assert_eq!(err.to_json_reply().status, 401);
        let right = basic(&client.client_id, "s3cret");
        assert!(token_request(
            &mut s,
            &client,
            Some(&right),
            &redeem_body(None, &code, Some(REDIRECT))
        )
        .is_ok());
    }

    #[test]
    fn a_loopback_client_redeems_with_the_port_it_authorized_with() {
        let client = registered("none", &["http://127.0.0.1/callback"], 0);
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let presented = "http://127.0.0.1:33418/callback";
        let code =
            authorize_and_sign_in(&mut s, &client, &authorize_query(&client, Some(presented)));
        let pair = token_request(
            &mut s,
            &client,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(presented)),
        );
        assert!(pair.is_ok());
    }

    #[test]
    fn a_client_omitting_redirect_uri_in_authorize_may_still_send_it_at_token() {
        let client = registered("none", &[REDIRECT], 0);
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let code = authorize_and_sign_in(&mut s, &client, &authorize_query(&client, None));
        let pair = token_request(
            &mut s,
            &client,
            None,
            &redeem_body(Some(&client.client_id), &code, Some(REDIRECT)),
        );
        assert!(pair.is_ok());
    }

    #[test]
    fn redirect_uri_is_optional_at_token_when_the_authorization_request_omitted_it() {
        // OAuth 2.1 §4.1.1: redirect_uri is OPTIONAL when one URI is registered;
        // §4.1.3: at the token endpoint it is REQUIRED only "if the redirect_uri
        // parameter was included in the authorization request".
        let client = registered("none", &[REDIRECT], 0);
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let code = authorize_and_sign_in(&mut s, &client, &authorize_query(&client, None));
        let pair = token_request(
            &mut s,
            &client,
            None,
            &redeem_body(Some(&client.client_id), &code, None),
        );
        assert!(pair.is_ok(), "{:?}", pair.err());
    }

    #[test]
    fn a_redirect_uri_sent_in_authorize_is_required_at_token() {
        let client = registered("none", &[REDIRECT], 0);
        let mut s = Serializer {
            state: None,
            kv: HashMap::new(),
        };
        let code =
            authorize_and_sign_in(&mut s, &client, &authorize_query(&client, Some(REDIRECT)));
        let err = token_request(
            &mut s,
            &client,
            None,
            &redeem_body(Some(&client.client_id), &code, None),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidGrant);
    }
}
