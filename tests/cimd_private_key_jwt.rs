//! A ChatGPT-like document client that authenticates at `/token` with a signed
//! assertion (`private_key_jwt`, RFC 7523): what is accepted, every bad assertion,
//! the audiences, the replay rule, and key rotation and selection.
//!
//! Signatures here are the stand-in of `common::fake_sign`; the RS256/ES256
//! checks themselves are WebCrypto's and are tested in e2e/cimd.test.mjs.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::cimd_clients::*;
use common::*;
use mcp_oauth_worker::oauth::cimd::{self, JWT_BEARER};
use mcp_oauth_worker::oauth::flow;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// private_key_jwt

fn assertion(claims: Value, key: &Value) -> String {
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    // The core hands the platform only the public members of the key.
    let public = json!({"kty": key["kty"], "n": key["n"], "e": key["e"]});
    let sig = URL_SAFE_NO_PAD.encode(fake_sign(&public, signed.as_bytes()));
    format!("{signed}.{sig}")
}

fn claims(p: &Platform, jti: &str) -> Value {
    json!({
        "iss": GPT, "sub": GPT, "aud": format!("{ISSUER}/token"),
        "exp": p.now.get() + 60, "iat": p.now.get(), "jti": jti,
    })
}

fn gpt_platform() -> (Platform, String) {
    let p = Platform::new();
    p.docs.serve(GPT, &gpt_doc(), None);
    p.docs
        .serve(GPT_JWKS, &json!({"keys": [gpt_key()]}), Some("max-age=600"));
    let code = code_for(&p, GPT, GPT_CB);
    (p, code)
}

fn with_assertion(jwt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", jwt.to_owned()),
    ]
}

fn redeem_with(p: &Platform, code: &str, jwt: &str) -> (u16, Value) {
    let extra = with_assertion(jwt);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redeem(p, GPT, GPT_CB, code, &extra)
}

#[test]
fn chatgpt_authenticates_with_a_signed_assertion() {
    let (p, code) = gpt_platform();
    let jwt = assertion(claims(&p, "j1"), &gpt_key());
    let (s, v) = redeem_with(&p, &code, &jwt);
    assert_eq!(s, 200, "{v}");
    // The same assertion again is a replay, even for a refresh.
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let extra = with_assertion(&jwt);
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            (extra[0].0, &extra[0].1),
            (extra[1].0, &extra[1].1),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(v["error_description"].as_str().unwrap().contains("replay"));
    // client_id is optional next to an assertion: its iss names the client.
    let jwt = assertion(claims(&p, "j2"), &gpt_key());
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(p.docs.fetch_count(GPT_JWKS), 1, "the JWKS is cached");
}

#[test]
fn chatgpt_may_also_send_no_credential_because_its_document_lists_none() {
    let (p, code) = gpt_platform();
    assert_eq!(redeem(&p, GPT, GPT_CB, &code, &[]).0, 200);
}

#[test]
fn a_private_key_jwt_only_client_must_sign() {
    let p = Platform::new();
    let mut doc = gpt_doc();
    doc.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_methods_supported");
    p.docs.serve(GPT, &doc, None);
    p.docs.serve(GPT_JWKS, &json!({"keys": [gpt_key()]}), None);
    let code = code_for(&p, GPT, GPT_CB);
    let (s, v) = redeem(&p, GPT, GPT_CB, &code, &[]);
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    let jwt = assertion(claims(&p, "j"), &gpt_key());
    assert_eq!(redeem_with(&p, &code, &jwt).0, 200);
}

#[test]
fn every_bad_assertion_is_invalid_client() {
    let (p, code) = gpt_platform();
    let now = p.now.get();
    let other_key = json!({"kty": "RSA", "kid": "k1", "n": "zzz", "e": "AQAB"});
    let mut cases: Vec<(String, &str)> = Vec::new();
    let mut c = claims(&p, "a1");
    c["aud"] = json!("https://elsewhere.example/token");
    cases.push((assertion(c, &gpt_key()), "aud"));
    let mut c = claims(&p, "a2");
    c["exp"] = json!(now - 1);
    cases.push((assertion(c, &gpt_key()), "expired"));
    let mut c = claims(&p, "a3");
    c["exp"] = json!(now + 3600);
    cases.push((assertion(c, &gpt_key()), "ahead"));
    let mut c = claims(&p, "a4");
    c["iss"] = json!(CLAUDE);
    cases.push((assertion(c, &gpt_key()), "iss"));
    let mut c = claims(&p, "a5");
    c["sub"] = json!("someone");
    cases.push((assertion(c, &gpt_key()), "sub"));
    let mut c = claims(&p, "a6");
    c.as_object_mut().unwrap().remove("jti");
    cases.push((assertion(c, &gpt_key()), "jti"));
    cases.push((assertion(claims(&p, "a7"), &other_key), "signature"));
    cases.push(("not.a.jwt".to_owned(), "base64url"));
    cases.push(("onlyonepart".to_owned(), "signed JWT"));
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims(&p, "a8").to_string())
    );
    cases.push((none_alg, "not supported"));
    for (jwt, why) in cases {
        let (s, v) = redeem_with(&p, &code, &jwt);
        assert_eq!(
            (s, v["error"].as_str()),
            (401, Some("invalid_client")),
            "{why}: {v}"
        );
        assert!(
            v["error_description"].as_str().unwrap().contains(why),
            "{why}: {v}"
        );
    }
    // A wrong assertion type.
    let jwt = assertion(claims(&p, "a9"), &gpt_key());
    let (s, _) = redeem(
        &p,
        GPT,
        GPT_CB,
        &code,
        &[
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 401);
    // Nothing above spent the code: a good assertion still redeems it.
    assert_eq!(
        redeem_with(&p, &code, &assertion(claims(&p, "ok"), &gpt_key())).0,
        200
    );
}

#[test]
fn the_issuer_is_an_accepted_audience_and_so_is_the_revocation_endpoint_at_revoke() {
    let (p, code) = gpt_platform();
    let mut c = claims(&p, "i1");
    c["aud"] = json!([ISSUER]);
    let (s, v) = redeem_with(&p, &code, &assertion(c, &gpt_key()));
    assert_eq!(s, 200, "{v}");
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let mut c = claims(&p, "r1");
    c["aud"] = json!(format!("{ISSUER}/revoke"));
    let jwt = assertion(c, &gpt_key());
    let body = form(&[
        ("token", &rt),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &jwt),
    ]);
    let r = block_on(flow::revoke(&p.site(None), &p, None, FORM, &body)).unwrap();
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let (s, _, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", GPT),
        ],
    );
    assert_eq!(s, 400, "revoked");
}

/// How `/token` handles the replay register's answers when two requests carry
/// one assertion: the one answered "first" goes on, the one answered "replay" is
/// refused. The register here is the fake's map (`FakeDocuments::first_use`);
/// the real one, the `AssertionReplay` Durable Object, is raced in workerd by
/// e2e/cimd.test.mjs ("two concurrent uses of one jti").
#[test]
fn the_flow_refuses_the_request_the_register_answers_replay_and_lets_the_other_on() {
    let (p, code) = gpt_platform();
    let jwt = assertion(claims(&p, "race"), &gpt_key());
    // Two refresh attempts would contend on the grant; a live and a bogus code do
    // not, so only the jti register decides.
    let body = |c: &str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", c),
            ("redirect_uri", GPT_CB),
            ("code_verifier", VERIFIER),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ])
    };
    let (a, b) = (body(&code), body("mcpc.AAAAAAAAAAAAAAAAAAAAAA.x"));
    let site = p.site(None);
    let replies = join_all(vec![
        flow::token(&site, &p, None, FORM, &a),
        flow::token(&site, &p, None, FORM, &b),
    ]);
    let answers: Vec<(u16, Value)> = replies
        .iter()
        .map(|r| {
            let r = r.as_ref().unwrap();
            (r.status, serde_json::from_str(&body_text(r)).unwrap())
        })
        .collect();
    let replayed = |(status, v): &&(u16, Value)| {
        *status == 401
            && v["error"] == "invalid_client"
            && v["error_description"] == "this client_assertion was already used (jti replay)"
    };
    assert_eq!(answers.iter().filter(replayed).count(), 1, "{answers:?}");
    // The other passed client authentication: the live code redeems, the bogus
    // one is refused as a grant, not as a client.
    let (status, other) = answers.iter().find(|a| !replayed(a)).unwrap();
    match *status {
        200 => assert!(other["access_token"].is_string(), "{other}"),
        _ => assert_eq!(
            (*status, other["error"].as_str()),
            (400, Some("invalid_grant"))
        ),
    }
    assert_eq!(p.docs.used.borrow().len(), 1, "one jti recorded");
}

#[test]
fn assertions_are_never_accepted_for_registered_clients() {
    let p = Platform::new();
    let client = p.public_client();
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", "a.b.c"),
        ],
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn the_replay_rule() {
    assert!(cimd::first_use_allowed(None, T0));
    assert!(!cimd::first_use_allowed(Some(T0 + 10), T0));
    assert!(cimd::first_use_allowed(Some(T0 - 1), T0));
}

#[test]
fn a_rotated_key_is_found_by_fetching_the_jwks_once_more() {
    let (p, code) = gpt_platform();
    // Warm the JWKS cache with the old key.
    let (s, v) = redeem_with(&p, &code, &assertion(claims(&p, "w"), &gpt_key()));
    assert_eq!(s, 200, "{v}");
    let rotated = json!({"kty": "RSA", "kid": "k2", "n": "new", "e": "AQAB"});
    p.docs.serve(GPT_JWKS, &json!({"keys": [rotated]}), None);
    // Within the minute after the last fetch, an unknown kid is refused
    // without fetching again.
    let unknown = {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k2"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims(&p, "k2-0").to_string());
        format!("{header}.{payload}.c2ln")
    };
    let rt0 = v["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (s, _, _) = token(
            &p,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt0),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &unknown),
            ],
        );
        assert_eq!(s, 401);
    }
    assert_eq!(
        p.docs.fetch_count(GPT_JWKS),
        1,
        "no refetch within the minute"
    );
    p.advance(cimd::JWKS_REFETCH_SECS);
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k2"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims(&p, "k2-1").to_string());
    let signed = format!("{header}.{payload}");
    let public = json!({"kty": "RSA", "n": "new", "e": "AQAB"});
    let jwt = format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(fake_sign(&public, signed.as_bytes()))
    );
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let (s, v, _) = token(
        &p,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(p.docs.fetch_count(GPT_JWKS), 2);
}

#[test]
fn key_selection_follows_kid_kty_use_and_alg() {
    let rsa = json!({"kty": "RSA", "kid": "r", "n": "n", "e": "AQAB", "d": "PRIVATE"});
    let ec = json!({"kty": "EC", "kid": "e", "crv": "P-256", "x": "x", "y": "y"});
    let enc = json!({"kty": "RSA", "kid": "x", "n": "n2", "e": "AQAB", "use": "enc"});
    let set = json!({"keys": [rsa, ec, enc]});
    let k = cimd::select_key(&set, cimd::SigAlg::Rs256, None).unwrap();
    assert_eq!(
        k,
        json!({"kty": "RSA", "n": "n", "e": "AQAB"}),
        "only the public members"
    );
    let k = cimd::select_key(&set, cimd::SigAlg::Es256, Some("e")).unwrap();
    assert_eq!(k["crv"], "P-256");
    assert!(
        cimd::select_key(&set, cimd::SigAlg::Rs256, Some("x")).is_err(),
        "an encryption key"
    );
    assert!(
        cimd::select_key(&set, cimd::SigAlg::Es256, Some("r")).is_err(),
        "kty must fit alg"
    );
    let two = json!({"keys": [{"kty": "RSA", "n": "a", "e": "AQAB"}, {"kty": "RSA", "n": "b", "e": "AQAB"}]});
    assert!(cimd::select_key(&two, cimd::SigAlg::Rs256, None)
        .unwrap_err()
        .contains("several"));
    assert!(cimd::select_key(&json!({}), cimd::SigAlg::Rs256, None).is_err());
}

#[test]
fn assertions_with_critical_headers_or_no_signature_are_refused() {
    let crit = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","crit":["exp"]}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&crit)
        .unwrap_err()
        .contains("critical"));
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&unsigned)
        .unwrap_err()
        .contains("not signed"));
    let hs = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(cimd::parse_assertion(&hs)
        .unwrap_err()
        .contains("not supported"));
}
