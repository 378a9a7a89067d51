//! Property tests of every parser that reads input from the network: form and
//! query decoding, cookies, JSON-RPC framing, JWS/JWT parsing, base64url, PKCE
//! values, the `Authorization` header and the rate-limit key.
//!
//! Each property has an oracle: a reference crate where one exists (`base64`,
//! `serde_json`, `form_urlencoded`, `sha2` through our own PKCE, `std::net` for
//! addresses), otherwise a round trip, and for every parser: arbitrary input
//! never panics and is answered with a value or an error.
//!
//! The runs are reproducible: a fixed seed (`PROPTEST_SEED` changes it) and
//! 256 cases per property (`PROPTEST_CASES=10000 cargo test --test
//! parser_properties` runs more).

use base64::Engine;
use mcp_oauth_worker::mcp::jsonrpc::{self, Body, Message};
use mcp_oauth_worker::oauth::authorize::AuthorizeQuery;
use mcp_oauth_worker::oauth::cimd::{self, SigAlg};
use mcp_oauth_worker::oauth::crypto;
use mcp_oauth_worker::oauth::pkce::{self, CodeChallenge, CodeVerifier};
use mcp_oauth_worker::oauth::resource::{self, Bearer};
use mcp_oauth_worker::oauth::token;
use mcp_oauth_worker::ratelimit;
use mcp_oauth_worker::upstream::id_token;
use mcp_oauth_worker::web::cookies;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x2121_2121);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn form_of(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

proptest! {
    #![proptest_config(config())]

    // --- form and query decoding ------------------------------------------

    #[test]
    fn token_form_reads_back_what_form_urlencoded_wrote(
        grant in "\\PC{0,40}", code in "\\PC{0,80}", client in "\\PC{0,40}",
    ) {
        let body = form_of(&[("grant_type", &grant), ("code", &code), ("client_id", &client)]);
        let form = token::parse_form(FORM, body.as_bytes()).unwrap();
        prop_assert_eq!(form.grant_type.as_deref(), Some(grant.as_str()));
        prop_assert_eq!(form.code.as_deref(), Some(code.as_str()));
        prop_assert_eq!(form.client_id.as_deref(), Some(client.as_str()));
    }

    #[test]
    fn token_form_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), ct in "\\PC{0,60}") {
        let _ = token::parse_form(Some(&ct), &body);
        let _ = token::parse_form(FORM, &body);
    }

    #[test]
    fn a_repeated_parameter_is_an_error_never_a_pick(v1 in "\\PC{0,20}", v2 in "\\PC{0,20}") {
        let body = form_of(&[("code", &v1), ("code", &v2)]);
        prop_assert!(token::parse_form(FORM, body.as_bytes()).is_err());
    }

    #[test]
    fn authorize_query_reads_back_what_form_urlencoded_wrote(
        client in "\\PC{0,60}", redirect in "\\PC{0,80}", state in "\\PC{0,60}", scope in "\\PC{0,40}",
    ) {
        let query = form_of(&[("client_id", &client), ("redirect_uri", &redirect), ("state", &state), ("scope", &scope)]);
        let parsed = AuthorizeQuery::parse(&query).ok().unwrap();
        prop_assert_eq!(parsed.client_id.as_deref(), Some(client.as_str()));
        prop_assert_eq!(parsed.redirect_uri.as_deref(), Some(redirect.as_str()));
        prop_assert_eq!(parsed.state.as_deref(), Some(state.as_str()));
        prop_assert_eq!(parsed.scope.as_deref(), Some(scope.as_str()));
    }

    #[test]
    fn authorize_query_never_panics(query in "\\PC{0,300}") {
        let _ = AuthorizeQuery::parse(&query);
    }

    // --- cookies -------------------------------------------------------------

    #[test]
    fn every_cookie_of_a_header_is_found(
        jar in proptest::collection::btree_map("[A-Za-z0-9_-]{1,20}", "[A-Za-z0-9._~!#$%&'*+^`|-]{0,40}", 1..8),
    ) {
        let header = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        for (k, v) in &jar {
            prop_assert_eq!(cookies::get(Some(&header), k), Some(v.as_str()));
        }
        prop_assert_eq!(cookies::get(Some(&header), "not-in-the-jar!"), None);
    }

    #[test]
    fn a_cookie_sent_twice_is_trusted_in_neither_copy(name in "[a-z]{1,10}", a in "[a-z0-9]{1,10}", b in "[a-z0-9]{1,10}") {
        let header = format!("{name}={a}; other=1; {name}={b}");
        prop_assert_eq!(cookies::get(Some(&header), &name), None);
    }

    #[test]
    fn cookie_parsing_never_panics(header in "\\PC{0,300}", name in "\\PC{0,20}") {
        let _ = cookies::get(Some(&header), &name);
    }

    // --- JSON-RPC framing ------------------------------------------------------

    #[test]
    fn a_request_reads_back_as_the_request_serde_json_wrote(
        id in prop_oneof![any::<i64>().prop_map(Value::from), "\\PC{0,20}".prop_map(Value::from)],
        method in "[a-z/_]{1,30}",
        key in "[a-z]{1,10}", value in "\\PC{0,30}",
    ) {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {key.clone(): value.clone()}});
        let body = jsonrpc::parse_body(&serde_json::to_vec(&msg).unwrap()).unwrap();
        match body {
            Body::Single(Message::Request(r)) => {
                prop_assert_eq!(&r.method, &method);
                prop_assert_eq!(r.params.get(&key), Some(&Value::from(value)));
                prop_assert_eq!(serde_json::to_value(&r.id).unwrap(), id);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn a_notification_is_never_answered_as_a_request(method in "[a-z/_]{1,30}") {
        let msg = json!({"jsonrpc": "2.0", "method": method});
        let body = jsonrpc::parse_body(&serde_json::to_vec(&msg).unwrap()).unwrap();
        prop_assert!(matches!(body, Body::Single(Message::Notification(_))), "{:?}", body);
    }

    #[test]
    fn json_rpc_framing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = jsonrpc::parse_body(&bytes);
    }

    #[test]
    fn json_rpc_framing_never_panics_on_json(value in arb_json()) {
        let _ = jsonrpc::parse_body(&serde_json::to_vec(&value).unwrap());
        let _ = jsonrpc::classify(&value);
    }

    // --- JWS / JWT ---------------------------------------------------------------

    #[test]
    fn an_assertion_reads_back_its_parts(
        kid in proptest::option::of("[A-Za-z0-9_-]{1,20}"),
        iss in "\\PC{1,40}",
        sig in proptest::collection::vec(any::<u8>(), 1..80),
        es256 in any::<bool>(),
    ) {
        let mut header = json!({"alg": if es256 { "ES256" } else { "RS256" }, "typ": "JWT"});
        if let Some(k) = &kid {
            header["kid"] = json!(k);
        }
        let claims = json!({"iss": iss, "sub": iss, "jti": "j"});
        let h = B64URL.encode(serde_json::to_vec(&header).unwrap());
        let p = B64URL.encode(serde_json::to_vec(&claims).unwrap());
        let jwt = format!("{h}.{p}.{}", B64URL.encode(&sig));
        let a = cimd::parse_assertion(&jwt).unwrap();
        prop_assert_eq!(a.alg, if es256 { SigAlg::Es256 } else { SigAlg::Rs256 });
        prop_assert_eq!(a.kid, kid);
        prop_assert_eq!(a.claims.get("iss"), Some(&json!(iss)));
        prop_assert_eq!(a.signed, format!("{h}.{p}"));
        prop_assert_eq!(a.signature, sig);
    }

    #[test]
    fn jwt_parsing_never_panics(jwt in "\\PC{0,300}", parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..5)) {
        let _ = cimd::parse_assertion(&jwt);
        let _ = cimd::parse_assertion(&parts.join("."));
        let issuers = ["https://idp.example".to_owned()];
        let checks = id_token::ClaimChecks {
            issuers: &issuers,
            client_id: "client",
            nonce: "n",
            now: 1_750_000_000,
        };
        let _ = id_token::check_id_token(&jwt, &checks);
        let _ = id_token::check_id_token(&parts.join("."), &checks);
    }

    // --- base64url -----------------------------------------------------------------

    #[test]
    fn base64url_agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ours = crypto::b64(&bytes);
        prop_assert_eq!(&ours, &B64URL.encode(&bytes));
        prop_assert_eq!(crypto::unb64(&ours), Some(bytes));
    }

    #[test]
    fn base64url_decoding_agrees_with_the_base64_crate(text in "[A-Za-z0-9_=+/-]{0,120}") {
        prop_assert_eq!(crypto::unb64(&text), B64URL.decode(text.as_bytes()).ok());
    }

    // --- PKCE --------------------------------------------------------------------------

    #[test]
    fn a_verifier_is_accepted_exactly_when_rfc_7636_allows_it(v in "[A-Za-z0-9._~+/= -]{0,140}") {
        let allowed = (43..=128).contains(&v.len())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
        prop_assert_eq!(CodeVerifier::new(v.clone()).is_ok(), allowed, "{}", v);
    }

    #[test]
    fn s256_is_base64url_of_sha256(v in "[A-Za-z0-9._~-]{43,128}") {
        use sha2::Digest;
        let verifier = CodeVerifier::new(v.clone()).unwrap();
        let expected = B64URL.encode(sha2::Sha256::digest(v.as_bytes()));
        prop_assert_eq!(pkce::challenge_for(&verifier), expected.clone());
        let challenge = CodeChallenge::from_request(Some(&expected), Some("S256")).unwrap();
        prop_assert!(pkce::verify(&verifier, &challenge));
    }

    #[test]
    fn pkce_parsing_never_panics(c in proptest::option::of("\\PC{0,200}"), m in proptest::option::of("\\PC{0,10}")) {
        let _ = CodeChallenge::from_request(c.as_deref(), m.as_deref());
        let _ = CodeVerifier::new(c.unwrap_or_default());
    }

    // --- the Authorization header --------------------------------------------------------

    #[test]
    fn a_bearer_token_reads_back(token in "[A-Za-z0-9._~+/=-]{1,100}", scheme in "(?i)bearer") {
        match resource::bearer(Some(&format!("{scheme} {token}"))) {
            Bearer::Token(t) => prop_assert_eq!(t, token.as_str()),
            _ => prop_assert!(false, "not read as a bearer token"),
        }
    }

    #[test]
    fn basic_credentials_read_back_through_form_encoding(id in "\\PC{1,40}", secret in "\\PC{1,40}") {
        // RFC 6749 §2.3.1: id and secret are form-encoded, then joined by ':'.
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let raw = format!("{}:{}", enc(&id), enc(&secret));
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        let auth = mcp_oauth_worker::oauth::client_auth::client_credentials(Some(&header), &token::TokenForm::default()).unwrap();
        prop_assert_eq!(auth.client_id(), id.as_str());
    }

    #[test]
    fn authorization_parsing_never_panics(header in "\\PC{0,200}") {
        let _ = resource::bearer(Some(&header));
        let _ = mcp_oauth_worker::oauth::client_auth::client_credentials(Some(&header), &token::TokenForm::default());
        let _ = mcp_oauth_worker::oauth::client_auth::claimed_client_id(Some(&header), FORM, b"");
    }

    // --- the rate-limit key -------------------------------------------------------------------

    #[test]
    fn an_ipv4_address_is_its_own_key(ip in any::<std::net::Ipv4Addr>()) {
        prop_assert_eq!(ratelimit::ip_key(Some(&ip.to_string())), ip.to_string());
    }

    #[test]
    fn an_ipv6_address_is_keyed_by_its_64_bit_prefix(ip in any::<std::net::Ipv6Addr>(), low in any::<u64>()) {
        // An IPv4-mapped address is the IPv4 client it maps.
        if let Some(v4) = ip.to_ipv4_mapped() {
            prop_assert_eq!(ratelimit::ip_key(Some(&ip.to_string())), v4.to_string());
            return Ok(());
        }
        let s = ip.segments();
        let expected = format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]);
        prop_assert_eq!(ratelimit::ip_key(Some(&ip.to_string())), expected.clone());
        // Any address of the same /64 shares the key.
        let bits = (u128::from(ip) & !u128::from(u64::MAX)) | u128::from(low);
        let neighbour = std::net::Ipv6Addr::from(bits);
        prop_assume!(neighbour.to_ipv4_mapped().is_none());
        prop_assert_eq!(ratelimit::ip_key(Some(&neighbour.to_string())), expected);
    }

    #[test]
    fn rate_limit_keys_are_short_and_never_panic(ip in "\\PC{0,200}", client in "\\PC{0,300}") {
        prop_assert!(ratelimit::ip_key(Some(&ip)).len() <= 48);
        prop_assert!(ratelimit::client_key(&client).len() <= 66);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                "(jsonrpc|id|method|params|result|error|[a-z]{1,6})",
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
