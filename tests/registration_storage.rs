//! Registration does not grow storage without bound: the same public
//! registration is one client (one write, then reads only), renewed in the
//! second half of its lifetime; confidential registrations are always new.

use mcp_oauth_worker::oauth::register::{
    self, public_client_id, register_confidential, register_public, Client, RegistrationRequest,
    ValidatedRegistration,
};
use serde_json::{json, Value};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const TTL: u64 = 90 * 86_400;
const T0: u64 = 1_800_000_000;

fn validated(body: Value) -> ValidatedRegistration {
    register::validate(RegistrationRequest::from_value(&body).unwrap()).unwrap()
}

fn public_body() -> Value {
    json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
    })
}

/// Registers `body` against a one-record store, as the shell does.
fn register_against(store: &mut Option<Client>, body: Value, now: u64) -> (Client, bool) {
    let v = validated(body);
    let id = public_client_id(&v, KEY);
    let stored = store.clone().filter(|c| c.client_id == id);
    let r = register_public(v, id, stored, now, TTL);
    if r.write {
        *store = Some(r.client.clone());
    }
    (r.client, r.write)
}

#[test]
fn the_same_public_registration_returns_the_same_client_without_a_second_write() {
    let mut store = None;
    let (first, wrote_first) = register_against(&mut store, public_body(), T0);
    let (again, wrote_again) = register_against(&mut store, public_body(), T0 + 3600);
    assert!(wrote_first);
    assert!(!wrote_again, "re-registration must not write");
    assert_eq!(again.client_id, first.client_id);
    assert_eq!(
        again.created_at, T0,
        "client_id_issued_at stays the first one"
    );
    assert_eq!(again.expires_at, first.expires_at);
}

#[test]
fn the_response_of_a_re_registration_is_the_first_response() {
    let mut store = None;
    let v = validated(public_body());
    let id = public_client_id(&v, KEY);
    let first = register_public(v.clone(), id.clone(), None, T0, TTL);
    store.replace(first.client.clone());
    let again = register_public(v, id, store, T0 + 60, TTL);
    assert_eq!(again.response(), first.response());
    assert!(again.response().get("client_secret").is_none());
}

#[test]
fn any_difference_in_metadata_is_another_client() {
    let base = validated(public_body());
    let id = public_client_id(&base, KEY);
    let variants = [
        json!({"client_name": "Claude 2", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.com/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none", "logo_uri": "https://claude.ai/logo.png"}),
        json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none", "scope": "mcp"}),
        json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "none"}),
    ];
    for body in variants {
        assert_ne!(
            public_client_id(&validated(body.clone()), KEY),
            id,
            "{body}"
        );
    }
}

#[test]
fn what_the_server_normalizes_does_not_make_another_client() {
    let id = public_client_id(&validated(public_body()), KEY);
    let same = json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "contacts": ["ignored@example.com"],
    });
    assert_eq!(public_client_id(&validated(same), KEY), id);
}

#[test]
fn the_id_depends_on_the_server_key() {
    let v = validated(public_body());
    assert_ne!(
        public_client_id(&v, KEY),
        public_client_id(&v, "another-key-0123456789abcdef0123456789")
    );
    let id = public_client_id(&v, KEY);
    assert_eq!(id.len(), 22);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

#[test]
fn a_client_in_the_second_half_of_its_lifetime_is_renewed_by_re_registration() {
    let mut store = None;
    let (first, _) = register_against(&mut store, public_body(), T0);
    // Still in the first half: nothing written.
    let (_, wrote) = register_against(&mut store, public_body(), T0 + TTL / 2 - 1);
    assert!(!wrote);
    // Second half: written back with a fresh lifetime, same id and issue time.
    let later = T0 + TTL / 2 + 1;
    let (renewed, wrote) = register_against(&mut store, public_body(), later);
    assert!(wrote, "renewal is the registration's one write");
    assert_eq!(renewed.client_id, first.client_id);
    assert_eq!(renewed.created_at, T0);
    assert_eq!(renewed.expires_at, later + TTL);
    // And right after the renewal, nothing to write again.
    let (_, wrote) = register_against(&mut store, public_body(), later + 60);
    assert!(!wrote);
}

#[test]
fn an_expired_client_is_registered_afresh_under_the_same_id() {
    let mut store = None;
    let (first, _) = register_against(&mut store, public_body(), T0);
    let after = first.expires_at + 1;
    let (again, wrote) = register_against(&mut store, public_body(), after);
    assert!(wrote);
    assert_eq!(again.client_id, first.client_id);
    assert_eq!(again.created_at, after);
}

#[test]
fn a_stored_record_that_is_not_this_registration_is_replaced() {
    let v = validated(public_body());
    let id = public_client_id(&v, KEY);
    let mut other = Client::from_registration(
        validated(
            json!({"redirect_uris": ["https://evil.example/cb"], "token_endpoint_auth_method": "none"}),
        ),
        id.clone(),
        None,
        T0,
        TTL,
    );
    other.client_id = id.clone();
    let r = register_public(v, id, Some(other), T0 + 10, TTL);
    assert!(r.write);
    assert_eq!(
        r.client.redirect_uris,
        ["https://claude.ai/api/mcp/auth_callback"]
    );
}

#[test]
fn confidential_registrations_always_get_a_new_client_and_secret() {
    let body = json!({
        "client_name": "Server app",
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let r = register_confidential(
        validated(body),
        "random-id-1".into(),
        "s3cret".into(),
        T0,
        TTL,
    );
    assert!(r.write);
    assert_eq!(r.secret.as_ref().map(|s| s.secret()), Some("s3cret"));
    assert!(r.client.secret_matches("s3cret"));
    assert_eq!(r.response()["client_secret"], "s3cret");
    assert_eq!(r.response()["client_secret_expires_at"], T0 + TTL);
}

#[test]
fn a_confidential_record_never_counts_as_the_same_public_registration() {
    let v = validated(public_body());
    let public = Client::from_registration(v.clone(), "x".into(), None, T0, TTL);
    let mut confidential = public.clone();
    confidential.client_secret_hash = Some(register::client_secret_hash("s"));
    assert!(public.same_registration(&public.clone()));
    assert!(!confidential.same_registration(&public));
    assert!(!public.same_registration(&confidential));
}

#[test]
fn registrations_with_too_many_redirect_uris_or_oversized_fields_are_refused() {
    let uris: Vec<String> = (0..11)
        .map(|i| format!("https://a.example/cb{i}"))
        .collect();
    let refuse = |body: Value| {
        register::validate(RegistrationRequest::from_value(&body).unwrap()).unwrap_err()
    };
    let e = refuse(json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}));
    assert_eq!(e.code.as_str(), "invalid_redirect_uri");
    assert!(e.description.contains("at most 10"), "{}", e.description);

    let long_uri = format!("https://a.example/{}", "x".repeat(2000));
    let e = refuse(json!({"redirect_uris": [long_uri], "token_endpoint_auth_method": "none"}));
    assert_eq!(e.code.as_str(), "invalid_redirect_uri");

    let e =
        refuse(json!({"redirect_uris": ["https://a.example/cb"], "client_name": "n".repeat(201)}));
    assert_eq!(e.code.as_str(), "invalid_client_metadata");
    assert!(e.description.contains("client_name"), "{}", e.description);

    let e = refuse(
        json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": format!("https://a.example/{}", "l".repeat(2000))}),
    );
    assert_eq!(e.code.as_str(), "invalid_client_metadata");

    let big = format!(
        r#"{{"redirect_uris":["https://a.example/cb"],"x":"{}"}}"#,
        "y".repeat(register::MAX_REGISTRATION_BODY)
    );
    let e = RegistrationRequest::from_json(big.as_bytes()).unwrap_err();
    assert_eq!(e.code.as_str(), "invalid_client_metadata");
}
