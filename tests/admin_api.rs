//! The operator's admin API through the core, over the in-memory platform of `tests/common`:
//! it exists only with an `ADMIN_TOKEN`, and revokes a user's grants or deletes
//! a client with its grants (issue 13).

mod common;

use common::apps_world::*;
use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::admin;
use mcp_oauth_worker::oauth::grant::AccessError;
use serde_json::json;

fn gate(w: &World, path: &str, authorization: Option<&str>) -> Option<Reply> {
    let site = w.p.site(None);
    admin::gate(&site, path, authorization).err()
}

fn bearer() -> String {
    format!("Bearer {ADMIN}")
}

#[test]
fn without_an_admin_token_the_api_does_not_exist() {
    let w = World {
        p: Platform::new(),
        browser: Browser::default(),
    };
    let r = gate(&w, "/admin/clients", Some(&bearer())).unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn no_token_or_a_wrong_one_is_401() {
    let w = World::new();
    assert_eq!(gate(&w, "/admin/clients", None).unwrap().status, 401);
    let wrong = format!("Bearer {ADMIN}x");
    assert_eq!(
        gate(&w, "/admin/clients", Some(&wrong)).unwrap().status,
        401
    );
    assert_eq!(gate(&w, "/admin/clients", Some(ADMIN)).unwrap().status, 401);
    assert!(gate(&w, "/admin/clients", Some(&bearer())).is_none());
    // The scheme is case-insensitive (RFC 7235 §2.1).
    assert!(gate(&w, "/admin/clients", Some(&format!("bearer {ADMIN}"))).is_none());
}

#[test]
fn revoking_a_user_ends_all_their_grants_and_no_one_elses() {
    let w = World::new();
    let a = w.public("A");
    let b = w.confidential("B");
    let pa = w.connect(&a);
    let pb = w.connect(&b);
    *w.p.provider.user.borrow_mut() = user("grace");
    let pg = w.connect(&a);
    let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
    assert_eq!(json_of(&list)["grants"].as_array().unwrap().len(), 2);

    let r = block_on(admin::revoke_user(&w.p, br#"{"user_id":"test:ada-id"}"#)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["revoked_grants"], 2);
    for (client, pair) in [(&a, &pa), (&b, &pb)] {
        assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
        assert_eq!(w.refresh(client, &s(pair, "refresh_token")).0, 400);
    }
    assert!(w.mcp(&s(&pg, "access_token")).is_ok(), "grace keeps hers");
    let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
    assert!(json_of(&list)["grants"].as_array().unwrap().is_empty());
}

#[test]
fn deleting_a_client_ends_its_grants_and_its_registration() {
    let w = World::new();
    let doomed = w.public("Doomed");
    let kept = w.public("Kept");
    let pd = w.connect(&doomed);
    let pk = w.connect(&kept);
    let body = json!({ "client_id": doomed.client_id }).to_string();
    let r = block_on(admin::delete_client(&w.p, body.as_bytes())).unwrap();
    assert_eq!(r.status, 200, "{}", body_text(&r));
    assert_eq!(json_of(&r)["client_deleted"], true);
    assert_eq!(json_of(&r)["revoked_grants"], 1);
    assert!(w.p.kv_get(&keys::client(&doomed.client_id)).is_none());
    assert_eq!(w.mcp(&s(&pd, "access_token")), Err(AccessError::Invalid));
    let (status, err) = w.refresh(&doomed, &s(&pd, "refresh_token"));
    assert_eq!((status, s(&err, "error")), (401, "invalid_client".into()));
    assert!(w.mcp(&s(&pk, "access_token")).is_ok());
    assert_eq!(w.refresh(&kept, &s(&pk, "refresh_token")).0, 200);
}

#[test]
fn clients_are_listed_a_page_at_a_time() {
    let w = World::new();
    let ids: Vec<String> = (0..5)
        .map(|i| w.public(&format!("App {i}")).client_id)
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=2&cursor={}", urlencoding(c)),
            None => "limit=2".to_owned(),
        };
        let r = block_on(admin::list_clients(&w.p, &query)).unwrap();
        assert_eq!(r.status, 200);
        let page = json_of(&r);
        let clients = page["clients"].as_array().unwrap();
        assert!(clients.len() <= 2);
        seen.extend(clients.iter().map(|c| s(c, "client_id")));
        pages += 1;
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    let r = block_on(admin::list_clients(&w.p, "limit=0")).unwrap();
    assert_eq!(r.status, 400);
    let r = block_on(admin::list_clients(&w.p, "limit=101")).unwrap();
    assert_eq!(r.status, 400);
}

fn urlencoding(v: &str) -> String {
    serde_urlencoded::to_string([("x", v)]).unwrap()[2..].to_owned()
}

#[test]
fn bad_bodies_are_400_with_a_reason() {
    let w = World::new();
    for body in [&b"not json"[..], br#"{"user":"x"}"#, br#"{"user_id":""}"#] {
        let r = block_on(admin::revoke_user(&w.p, body)).unwrap();
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(json_of(&r)["error"], "invalid_request");
    }
    let r = block_on(admin::user_grants(&w.p, "")).unwrap();
    assert_eq!(r.status, 400);
}
