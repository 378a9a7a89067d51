//! Registration does not grow storage without bound: the same public
//! registration is one client (one write, then reads only), renewed in the
//! second half of its lifetime; confidential registrations are always new.
//!
//! Every test posts to `/register` as the shell does (`flow::register` over the
//! in-memory platform of `tests/common`) and reads what it answered and what it
//! wrote to KV.

mod common;

use common::*;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::flow;
use mcp_oauth_worker::oauth::register::{self, Client, RegistrationRequest};
use mcp_oauth_worker::oauth::site::Site;
use serde_json::{json, Value};

/// What one `POST /register` answered, and how many KV writes it made.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    writes: u32,
}

impl Answer {
    fn client_id(&self) -> String {
        self.body["client_id"].as_str().unwrap().to_owned()
    }
}

/// `POST /register` with `body` at the deployment whose issuer is `issuer`.
fn post_raw_at(p: &Platform, issuer: &str, body: &[u8]) -> Answer {
    let site = Site {
        issuer,
        ..p.site(None)
    };
    p.reset_counts();
    let reply = block_on(flow::register(&site, p, body)).expect("no storage fault");
    Answer {
        status: reply.status,
        body: serde_json::from_str(&body_text(&reply)).unwrap(),
        writes: p.counts.get().kv_writes,
    }
}

fn post(p: &Platform, body: Value) -> Answer {
    post_raw_at(p, ISSUER, body.to_string().as_bytes())
}

/// A registration `/register` accepted: 201 and a `client_id`.
fn registered(p: &Platform, body: Value) -> Answer {
    let a = post(p, body);
    assert_eq!(a.status, 201, "{a:?}");
    a
}

/// The client record KV holds under `client_id`.
fn stored(p: &Platform, client_id: &str) -> Client {
    serde_json::from_str(&p.kv_get(&keys::client(client_id)).expect("a stored client")).unwrap()
}

fn ttl(p: &Platform) -> u64 {
    p.config.client_ttl
}

fn public_body() -> Value {
    json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
    })
}

#[test]
fn the_same_public_registration_returns_the_same_client_without_a_second_write() {
    let p = Platform::new();
    let first = registered(&p, public_body());
    assert_eq!(first.writes, 1);
    p.advance(3600);
    let again = registered(&p, public_body());
    assert_eq!(again.writes, 0, "re-registration must not write");
    assert_eq!(again.client_id(), first.client_id());
    assert_eq!(
        again.body["client_id_issued_at"], T0,
        "client_id_issued_at stays the first one"
    );
    assert_eq!(stored(&p, &first.client_id()).expires_at, T0 + ttl(&p));
}

#[test]
fn the_response_of_a_re_registration_is_the_first_response() {
    let p = Platform::new();
    let first = registered(&p, public_body());
    p.advance(60);
    let again = registered(&p, public_body());
    assert_eq!(again.body, first.body);
    assert!(again.body.get("client_secret").is_none());
}

#[test]
fn any_difference_in_metadata_is_another_client() {
    let p = Platform::new();
    let base = registered(&p, public_body()).client_id();
    let variants = [
        json!({"client_name": "Claude 2", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.com/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none", "logo_uri": "https://claude.ai/logo.png"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none", "scope": "mcp"}),
        json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
    ];
    let mut ids = vec![base];
    for body in variants {
        let a = registered(&p, body.clone());
        assert_eq!(a.writes, 1, "{body}");
        assert!(!ids.contains(&a.client_id()), "{body}");
        ids.push(a.client_id());
    }
    assert_eq!(p.kv_keys("client:").len(), ids.len());
}

#[test]
fn what_the_server_normalizes_does_not_make_another_client() {
    let p = Platform::new();
    let id = registered(&p, public_body()).client_id();
    let same = json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "contacts": ["ignored@example.com"],
    });
    let again = registered(&p, same);
    assert_eq!(again.client_id(), id);
    assert_eq!(again.writes, 0);
}

#[test]
fn the_id_depends_on_the_deployment_and_survives_a_secret_key_rotation() {
    let p = Platform::new();
    let id = registered(&p, public_body()).client_id();
    assert_eq!(id.len(), 22);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Another SECRET_KEY, the same deployment: the same id.
    let rotated = Platform::with_config(config_with(&[(
        "SECRET_KEY",
        "another-key-0123456789abcdef0123456789",
    )]));
    assert_eq!(registered(&rotated, public_body()).client_id(), id);
    // Another deployment (issuer): another id.
    let elsewhere = Platform::new();
    let a = post_raw_at(
        &elsewhere,
        "https://other.example",
        public_body().to_string().as_bytes(),
    );
    assert_eq!(a.status, 201);
    assert_ne!(a.client_id(), id);
}

#[test]
fn a_client_registered_while_ids_were_derived_with_secret_key_keeps_its_id() {
    let p = Platform::new();
    let validated =
        register::validate(RegistrationRequest::from_value(&public_body()).unwrap()).unwrap();
    let legacy = register::public_client_id(&validated, SECRET);
    let client = Client::from_registration(validated, legacy.clone(), None, T0, ttl(&p));
    p.kv_set(
        &keys::client(&legacy),
        &serde_json::to_string(&client).unwrap(),
    );
    let a = registered(&p, public_body());
    assert_eq!(a.client_id(), legacy);
    assert_eq!(a.writes, 0);
}

#[test]
fn a_client_in_the_second_half_of_its_lifetime_is_renewed_by_re_registration() {
    let p = Platform::new();
    let ttl = ttl(&p);
    let id = registered(&p, public_body()).client_id();
    // Still in the first half: nothing written.
    p.now.set(T0 + ttl / 2 - 1);
    assert_eq!(registered(&p, public_body()).writes, 0);
    // Second half: written back with a fresh lifetime, same id and issue time.
    let later = T0 + ttl / 2 + 1;
    p.now.set(later);
    let renewed = registered(&p, public_body());
    assert_eq!(renewed.writes, 1, "renewal is the registration's one write");
    assert_eq!(renewed.client_id(), id);
    assert_eq!(renewed.body["client_id_issued_at"], T0);
    let record = stored(&p, &id);
    assert_eq!(record.created_at, T0);
    assert_eq!(record.expires_at, later + ttl);
    // And right after the renewal, nothing to write again.
    p.advance(60);
    assert_eq!(registered(&p, public_body()).writes, 0);
}

#[test]
fn an_expired_client_is_registered_afresh_under_the_same_id() {
    let p = Platform::new();
    let first = registered(&p, public_body());
    let id = first.client_id();
    let record = stored(&p, &id);
    // KV may still return a record past its expiry (its own expiry is lazy).
    p.kv_set(&keys::client(&id), &serde_json::to_string(&record).unwrap());
    let after = record.expires_at + 1;
    p.now.set(after);
    let again = registered(&p, public_body());
    assert_eq!(again.writes, 1);
    assert_eq!(again.client_id(), id);
    assert_eq!(again.body["client_id_issued_at"], after);
    assert_eq!(stored(&p, &id).expires_at, after + ttl(&p));
}

#[test]
fn a_stored_record_that_is_not_this_registration_is_replaced() {
    let p = Platform::new();
    let id = registered(&p, public_body()).client_id();
    let other = register::validate(
        RegistrationRequest::from_value(
            &json!({"redirect_uris": ["https://evil.example/cb"], "token_endpoint_auth_method": "none"}),
        )
        .unwrap(),
    )
    .unwrap();
    let other = Client::from_registration(other, id.clone(), None, T0, ttl(&p));
    p.kv_set(&keys::client(&id), &serde_json::to_string(&other).unwrap());
    p.advance(10);
    let a = registered(&p, public_body());
    assert_eq!(a.writes, 1);
    assert_eq!(a.client_id(), id);
    assert_eq!(
        a.body["redirect_uris"],
        json!(["https://claude.ai/api/mcp/auth_callback"])
    );
    assert_eq!(
        stored(&p, &id).redirect_uris,
        ["https://claude.ai/api/mcp/auth_callback"]
    );
}

#[test]
fn confidential_registrations_always_get_a_new_client_and_secret() {
    let p = Platform::new();
    let body = json!({
        "client_name": "Server app",
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let first = registered(&p, body.clone());
    let second = registered(&p, body);
    for a in [&first, &second] {
        assert_eq!(a.writes, 1);
        assert_eq!(a.body["client_secret_expires_at"], T0 + ttl(&p));
        let secret = a.body["client_secret"].as_str().expect("a secret");
        let record = stored(&p, &a.client_id());
        assert!(record.secret_matches(secret));
        assert!(
            !p.kv_get(&keys::client(&a.client_id()))
                .unwrap()
                .contains(secret),
            "only the secret's hash is stored"
        );
    }
    assert_ne!(first.client_id(), second.client_id());
    assert_ne!(first.body["client_secret"], second.body["client_secret"]);
}

#[test]
fn a_confidential_record_never_counts_as_the_same_public_registration() {
    let p = Platform::new();
    let id = registered(&p, public_body()).client_id();
    let mut confidential = stored(&p, &id);
    confidential.client_secret_hash = Some(register::client_secret_hash("s"));
    p.kv_set(
        &keys::client(&id),
        &serde_json::to_string(&confidential).unwrap(),
    );
    let a = registered(&p, public_body());
    assert_eq!(a.writes, 1, "the record is replaced");
    assert!(a.body.get("client_secret").is_none());
    assert_eq!(stored(&p, &id).client_secret_hash, None);
}

#[test]
fn registrations_with_too_many_redirect_uris_or_oversized_fields_are_refused() {
    let p = Platform::new();
    let refused = |body: &[u8]| {
        let a = post_raw_at(&p, ISSUER, body);
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.writes, 0);
        (
            a.body["error"].as_str().unwrap().to_owned(),
            a.body["error_description"].as_str().unwrap().to_owned(),
        )
    };
    let json_refused = |body: Value| refused(body.to_string().as_bytes());

    let uris: Vec<String> = (0..11)
        .map(|i| format!("https://a.example/cb{i}"))
        .collect();
    let (code, description) =
        json_refused(json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}));
    assert_eq!(code, "invalid_redirect_uri");
    assert!(description.contains("at most 10"), "{description}");

    let long_uri = format!("https://a.example/{}", "x".repeat(2000));
    let (code, _) =
        json_refused(json!({"redirect_uris": [long_uri], "token_endpoint_auth_method": "none"}));
    assert_eq!(code, "invalid_redirect_uri");

    let (code, description) = json_refused(
        json!({"redirect_uris": ["https://a.example/cb"], "client_name": "n".repeat(201)}),
    );
    assert_eq!(code, "invalid_client_metadata");
    assert!(description.contains("client_name"), "{description}");

    let (code, _) = json_refused(
        json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": format!("https://a.example/{}", "l".repeat(2000))}),
    );
    assert_eq!(code, "invalid_client_metadata");

    let big = format!(
        r#"{{"redirect_uris":["https://a.example/cb"],"x":"{}"}}"#,
        "y".repeat(register::MAX_REGISTRATION_BODY)
    );
    let (code, _) = refused(big.as_bytes());
    assert_eq!(code, "invalid_client_metadata");

    assert!(p.kv_keys("client:").is_empty());
}
