//! The grant index behind the account page and the admin API, over the in-memory platform of `tests/common`:
//! kept outside KV in one index object per user and per client, self-correcting
//! (stale entries dropped, grants from before the index listed at their first
//! refresh), and read a page at a time (issues 13 and 21).

mod common;

use common::apps_world::*;
use common::*;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::keys::{client_index, user_index};
use mcp_oauth_worker::oauth::grant::AccessError;
use mcp_oauth_worker::oauth::index::IndexCommand;
use mcp_oauth_worker::oauth::store::IndexObjects;
use mcp_oauth_worker::oauth::{account, admin, flow};
use serde_json::{json, Value};

mod the_index {
    use super::*;

    #[test]
    fn redemption_lists_the_grant_without_a_second_kv_write_and_refresh_touches_no_index() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        assert_eq!(
            w.p.index_grants(&client_index(&client.client_id)),
            vec![grant]
        );
        w.p.reset_counts();
        assert_eq!(w.refresh(&client, &s(&pair, "refresh_token")).0, 200);
        let c = w.p.counts.get();
        assert_eq!((c.kv_writes, c.index_calls), (1, 0));
    }

    #[test]
    fn an_index_that_cannot_be_reached_does_not_hold_back_tokens_and_is_caught_up_by_the_alarm() {
        let w = World::new();
        let client = w.public("App");
        w.p.failing_index_calls.set(1);
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        assert!(w.mcp(&s(&pair, "access_token")).is_ok());
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        assert_eq!(w.p.alarm_in(&grant), Some(30), "a retry is scheduled");
        w.p.fire_alarm(&grant);
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        assert_eq!(
            w.p.index_grants(&client_index(&client.client_id)),
            vec![grant]
        );
    }

    #[test]
    fn a_grant_that_ends_leaves_its_indexes() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let site = w.p.site(None);
        let body = form(&[
            ("token", &s(&pair, "access_token")),
            ("client_id", &client.client_id),
        ]);
        block_on(flow::revoke(&site, &w.p, None, FORM, &body)).unwrap();
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        assert!(w
            .p
            .index_grants(&client_index(&client.client_id))
            .is_empty());
    }

    #[test]
    fn a_grant_that_expires_leaves_its_indexes_when_its_alarm_fires() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        w.p.advance(w.p.config.refresh_token_ttl + 120);
        w.p.fire_alarm(&grant);
        assert!(w.p.object_state(&grant).is_none());
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
    }

    #[test]
    fn a_stale_entry_is_dropped_by_the_next_reader() {
        let w = World::new();
        let client = w.public("App");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        // The grant ends but its index removal is lost for now.
        w.p.failing_index_calls.set(1);
        let site = w.p.site(None);
        let body = form(&[
            ("token", &s(&pair, "access_token")),
            ("client_id", &client.client_id),
        ]);
        block_on(flow::revoke(&site, &w.p, None, FORM, &body)).unwrap();
        assert_eq!(w.p.index_grants(&user_index("test:ada-id")), vec![grant]);
        // The account page asks the grant, which reports it ended.
        w.account_sign_in();
        let page = body_text(&w.account_page());
        assert!(page.contains("No application is connected"), "{page}");
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
    }
}

mod upgrade {
    use super::*;

    #[test]
    fn a_grant_from_before_the_index_is_listed_at_its_first_refresh() {
        let w = World::new();
        let client = w.public("Old");
        let pair = w.connect(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        // As stored before issue 13: no `indexed` flag, no index entries.
        let mut state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        state.as_object_mut().unwrap().remove("indexed");
        w.p.set_object_state(&grant, &state.to_string());
        for index in [user_index("test:ada-id"), client_index(&client.client_id)] {
            let remove = IndexCommand::Remove(grant.clone());
            block_on(w.p.index(&index, &remove)).unwrap();
        }
        assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());
        let (status, next) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        assert_eq!(
            w.p.index_grants(&user_index("test:ada-id")),
            vec![grant.clone()]
        );
        w.p.reset_counts();
        assert_eq!(w.refresh(&client, &s(&next, "refresh_token")).0, 200);
        assert_eq!(w.p.counts.get().index_calls, 0, "only once");
    }
}

mod index_object {
    use super::*;

    #[test]
    fn lists_its_grants_drops_entries_past_their_end_and_is_idempotent() {
        let p = Platform::new();
        let now = p.now.get();
        for (grant_id, ends_at) in [
            ("live-grant-aaaaaaaaaa", now + 1000),
            ("gone-grant-aaaaaaaaaa", now - 1),
        ] {
            let add = IndexCommand::Add(grant_id.into(), ends_at);
            block_on(p.index("user:u", &add)).unwrap();
            // Adding twice (a retried effect) changes nothing.
            block_on(p.index("user:u", &add)).unwrap();
        }
        let listed = block_on(p.index("user:u", &IndexCommand::Page(None, 25))).unwrap();
        assert_eq!(listed, [format!("{}.live-grant-aaaaaaaaaa", now + 1000)]);
        assert_eq!(
            p.index_grants("user:u").len(),
            1,
            "the ended entry is deleted"
        );
        let remove = IndexCommand::Remove("nobody".into());
        assert!(block_on(p.index("user:u", &remove)).is_ok());
    }
}

/// Issue 21: the account page and the admin API read a user's grants a page
/// at a time, with a bounded number of calls per request, show what they
/// could read when one call fails, and "revoke all" continues where it
/// stopped.
mod paging {
    use super::*;
    use mcp_oauth_worker::oauth::connections::PAGE_SIZE;

    /// `n` grants of one user (one client), one second apart.
    fn many(w: &World, n: usize) -> Vec<Value> {
        let client = w.public("Many");
        (0..n)
            .map(|_| {
                w.p.advance(1);
                w.connect(&client)
            })
            .collect()
    }

    fn page_at(w: &World, query: &str) -> Reply {
        let cookies = w.cookies();
        let site = w.p.site(cookies.as_deref());
        block_on(account::show(&site, &w.p, query)).unwrap()
    }

    fn shown(html: &str) -> Vec<String> {
        html.split("data-grant=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
            .collect()
    }

    fn next_link(html: &str) -> Option<String> {
        let at = html.find("id=\"next\" href=\"/account?cursor=")?;
        let rest = &html[at + "id=\"next\" href=\"/account?cursor=".len()..];
        Some(rest.split('"').next()?.to_owned())
    }

    /// The step numbers of the grant-status calls a request makes.
    fn status_steps(w: &World, run: impl Fn() -> Reply) -> Vec<u32> {
        w.p.faults.arm(None);
        run();
        let steps =
            w.p.faults
                .trace
                .borrow()
                .iter()
                .enumerate()
                .filter(|(_, op)| op.starts_with("grant.call status"))
                .map(|(i, _)| i as u32 + 1)
                .collect();
        w.p.faults.disarm();
        steps
    }

    #[test]
    fn the_account_page_shows_a_page_at_a_time_newest_first_with_bounded_calls() {
        let w = World::new();
        let pairs = many(&w, 2 * PAGE_SIZE + 5);
        w.account_sign_in();
        let mut seen: Vec<String> = Vec::new();
        let mut query = String::new();
        let mut pages = 0;
        loop {
            w.p.counts.set(Counts::default());
            let page = page_at(&w, &query);
            assert_eq!(page.status, 200, "{}", body_text(&page));
            let c = w.p.counts.get();
            assert!(c.grant_calls as usize <= PAGE_SIZE, "{c:?}");
            assert!(c.index_calls <= 2, "{c:?}");
            let html = body_text(&page);
            let rows = shown(&html);
            pages += 1;
            seen.extend(rows.iter().cloned());
            match next_link(&html) {
                Some(cursor) => {
                    assert_eq!(rows.len(), PAGE_SIZE);
                    query = format!("cursor={cursor}");
                    if pages > 1 {
                        assert!(
                            html.contains("id=\"first\""),
                            "a later page links the first"
                        );
                    }
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        // Every grant once, newest first across pages.
        let newest_first: Vec<String> = pairs
            .iter()
            .rev()
            .map(|p| grant_of(&s(p, "access_token")))
            .collect();
        assert_eq!(seen, newest_first);
    }

    #[test]
    fn a_bad_cursor_is_a_clear_400_page() {
        let w = World::new();
        many(&w, 1);
        w.account_sign_in();
        for bad in [
            "cursor=x",
            "cursor=12",
            "cursor=.aaaaaaaaaaaaaaaaaaaa",
            "cursor=0.aaaaaaaaaaaaaaaaaaaa",
            "cursor=12.short",
            "cursor=-1.aaaaaaaaaaaaaaaaaaaa",
            "cursor=99999999999999999999999.aaaaaaaaaaaaaaaaaaaa",
            "cursor=12.aaaaaaaaaaaaaaaaaaa%3Cb%3E",
        ] {
            let page = page_at(&w, bad);
            assert_eq!(page.status, 400, "{bad}");
            assert!(body_text(&page).contains("Open /account"), "{bad}");
        }
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id&cursor=x")).unwrap();
        assert_eq!(list.status, 400);
        assert_eq!(json_of(&list)["error"], "invalid_request");
    }

    #[test]
    fn a_grant_that_cannot_be_read_is_left_out_with_a_notice_not_a_failed_page() {
        let w = World::new();
        let pairs = many(&w, 3);
        w.account_sign_in();
        let steps = status_steps(&w, || page_at(&w, ""));
        assert_eq!(steps.len(), 3);
        w.p.faults.arm(Some((steps[1], Fault::Fail)));
        let page = page_at(&w, "");
        w.p.faults.disarm();
        assert_eq!(page.status, 200, "{}", body_text(&page));
        let html = body_text(&page);
        assert!(html.contains("id=\"partial\""), "{html}");
        assert!(html.contains("1 connection on this page could not be read"));
        assert_eq!(shown(&html).len(), 2);
        assert!(html.contains("id=\"revoke-all\""));
        // Nothing was lost: the next view shows all three again.
        let html = body_text(&page_at(&w, ""));
        assert!(!html.contains("id=\"partial\""));
        assert_eq!(shown(&html).len(), 3);
        // The admin list says the same in JSON.
        let steps = status_steps(&w, || {
            block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap()
        });
        w.p.faults.arm(Some((steps[0], Fault::Fail)));
        let list = block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap();
        w.p.faults.disarm();
        assert_eq!(list.status, 200);
        let list = json_of(&list);
        assert_eq!(list["grants"].as_array().unwrap().len(), 2);
        assert_eq!(
            list["unavailable"],
            json!([grant_of(&s(&pairs[2], "access_token"))])
        );
    }

    #[test]
    fn revoke_all_ends_a_batch_per_request_and_continues_where_it_stopped() {
        let w = World::new();
        let pairs = many(&w, PAGE_SIZE + 5);
        w.account_sign_in();
        let csrf = form_field(&body_text(&w.account_page()), "csrf");
        w.p.counts.set(Counts::default());
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        assert_eq!(location(&r), format!("/account?revoked={PAGE_SIZE}&left=1"));
        assert!(w.p.counts.get().grant_calls as usize <= PAGE_SIZE);
        let html = body_text(&page_at(&w, &format!("revoked={PAGE_SIZE}&left=1")));
        assert!(html.contains("Some connections remain"), "{html}");
        assert_eq!(shown(&html).len(), 5);
        // One of the remaining five cannot be ended just now (step 5: after
        // the sign-out check and the index page, each a call and its read).
        w.p.faults.arm(Some((5, Fault::Fail)));
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        let trace = w.p.faults.trace.borrow().clone();
        w.p.faults.disarm();
        assert_eq!(trace[4], "grant.call end", "{trace:?}");
        assert_eq!(location(&r), "/account?revoked=4&left=1&failed=1");
        let html = body_text(&page_at(&w, "revoked=4&left=1&failed=1"));
        assert!(html.contains("1 could not be revoked just now"), "{html}");
        assert!(html.contains("id=\"revoke-all\""));
        let r = w.account_revoke(&[("csrf", &csrf), ("all", "1")]);
        assert_eq!(location(&r), "/account?revoked=1");
        for pair in &pairs {
            assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
        }
        assert!(body_text(&w.account_page()).contains("id=\"empty\""));
    }

    #[test]
    fn the_admin_api_pages_the_list_and_revokes_a_batch_per_call() {
        let w = World::new();
        let pairs = many(&w, PAGE_SIZE + 3);
        let first = json_of(&block_on(admin::user_grants(&w.p, "user_id=test%3Aada-id")).unwrap());
        assert_eq!(first["grants"].as_array().unwrap().len(), PAGE_SIZE);
        let next = first["next"].as_str().expect("a next cursor").to_owned();
        let second = json_of(
            &block_on(admin::user_grants(
                &w.p,
                &format!("user_id=test%3Aada-id&cursor={next}"),
            ))
            .unwrap(),
        );
        assert_eq!(second["grants"].as_array().unwrap().len(), 3);
        assert!(second["next"].is_null());

        let body = br#"{"user_id":"test:ada-id"}"#;
        let r = json_of(&block_on(admin::revoke_user(&w.p, body)).unwrap());
        assert_eq!(
            (r["revoked_grants"].clone(), r["complete"].clone()),
            (json!(PAGE_SIZE), json!(false))
        );
        // A grant that cannot be ended: a retryable 503, and the retry finishes.
        w.p.faults.arm(Some((3, Fault::Fail)));
        let r = block_on(admin::revoke_user(&w.p, body));
        let trace = w.p.faults.trace.borrow().clone();
        w.p.faults.disarm();
        assert_eq!(trace[2], "grant.call end", "{trace:?}");
        assert_eq!(
            r.map(|r| r.status).unwrap_or_else(|e| e.to_reply().status),
            503
        );
        let r = json_of(&block_on(admin::revoke_user(&w.p, body)).unwrap());
        assert_eq!(r["complete"], true, "{r}");
        for pair in &pairs {
            assert_eq!(w.mcp(&s(pair, "access_token")), Err(AccessError::Invalid));
        }
    }
}
