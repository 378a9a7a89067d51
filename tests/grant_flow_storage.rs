//! What the whole flows write, over the in-memory platform of `tests/common`:
//! the storage budget of each request, and durable effects (deletes that failed
//! are finished by the next command or an alarm; a token whose record cannot be
//! written commits nothing; a state that no longer decodes is an error).

mod common;

use common::flow_world::World;
use common::*;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::crypto;
use mcp_oauth_worker::oauth::flow;
use serde_json::Value;

mod storage_budget {
    use super::*;

    #[test]
    fn code_redemption_and_refresh_each_write_kv_at_most_once() {
        let w = World::new();
        let client = w.p.public_client();
        let code = w.code_for(&client, "mcp");
        w.p.reset_counts();
        let (status, pair) = w.redeem(&client, &code);
        assert_eq!(status, 200);
        let c = w.p.counts.get();
        assert!(
            c.kv_writes <= 1,
            "code redemption wrote KV {} times",
            c.kv_writes
        );
        assert_eq!(c.kv_deletes, 0);

        w.p.reset_counts();
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 200);
        let c = w.p.counts.get();
        assert!(c.kv_writes <= 1, "a refresh wrote KV {} times", c.kv_writes);
    }

    #[test]
    fn authorize_and_callback_write_no_kv() {
        let w = World::new();
        let client = w.p.public_client();
        w.p.reset_counts();
        let _ = w.code_for(&client, "mcp");
        assert_eq!(w.p.counts.get().kv_writes, 0);
    }

    #[test]
    fn a_command_that_only_reads_stores_nothing() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let grant = grant_of(&s(&pair, "access_token"));
        let before = w.p.object_writes(&grant);
        // Another client cannot revoke it: nothing changes, nothing is written.
        let other = w.p.public_client();
        assert_eq!(w.revoke(&other, &s(&pair, "refresh_token")), 200);
        assert_eq!(w.p.object_writes(&grant), before);
    }
}

mod durable_effects {
    use super::*;

    #[test]
    fn a_revocation_whose_deletes_fail_is_finished_by_the_next_command() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let access = s(&pair, "access_token");
        let grant = grant_of(&access);
        w.p.failing_deletes.set(1);
        assert_eq!(w.revoke(&client, &s(&pair, "refresh_token")), 200);
        // Committed: the grant is revoked, its record's delete still pending.
        let state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        assert!(state["revoked_at"].is_u64());
        // The record's delete, then the grant's removal from its user's and
        // client's indexes (issue 13), all pending together.
        let pending = state["pending_effects"].as_array().unwrap();
        assert_eq!(pending.len(), 3);
        assert!(pending[0]["delete"].is_object());
        assert!(pending[1]["index"].is_array() && pending[2]["index"].is_array());
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        // The next command about the grant applies it first.
        let (status, _) = w.refresh(&client, &s(&pair, "refresh_token"));
        assert_eq!(status, 400);
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_none());
        let state: Value = serde_json::from_str(&w.p.object_state(&grant).unwrap()).unwrap();
        assert!(state["pending_effects"].as_array().unwrap().is_empty());
    }

    #[test]
    fn deletes_left_pending_keep_an_alarm_until_done() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let access = s(&pair, "access_token");
        let grant = grant_of(&access);
        w.p.failing_deletes.set(2);
        assert_eq!(w.revoke(&client, &s(&pair, "refresh_token")), 200);
        assert_eq!(w.p.alarm_in(&grant), Some(30), "a retry is scheduled");
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        w.p.fire_alarm(&grant); // the second injected failure
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_some());
        assert_eq!(w.p.alarm_in(&grant), Some(30), "retried again later");
        w.p.fire_alarm(&grant);
        assert!(w
            .p
            .kv_get(&keys::access(&crypto::hash_token(&access)))
            .is_none());
    }

    #[test]
    fn a_token_issuance_whose_record_cannot_be_written_commits_nothing() {
        let w = World::new();
        let client = w.p.public_client();
        let code = w.code_for(&client, "mcp");
        w.p.failing_puts.set(1);
        let (status, err) = w.redeem(&client, &code);
        assert_eq!(
            (status, s(&err, "error")),
            (503, "temporarily_unavailable".into())
        );
        // The code was not spent: the client's retry works.
        let (status, pair) = w.redeem(&client, &code);
        assert_eq!(status, 200, "{pair}");
        assert!(w.mcp(&s(&pair, "access_token")).is_ok());
    }

    #[test]
    fn a_grant_state_that_no_longer_decodes_is_an_error_not_an_empty_grant() {
        let w = World::new();
        let client = w.p.public_client();
        let pair = w.tokens(&client);
        let grant = grant_of(&s(&pair, "refresh_token"));
        w.p.set_object_state(&grant, "{\"not\": \"a grant\"}");
        let site = w.p.site(None);
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &s(&pair, "refresh_token")),
            ("client_id", &client.client_id),
        ]);
        let result = block_on(flow::token(&site, &w.p, None, FORM, &body));
        assert!(
            result.is_err(),
            "a fault, answered 500, never 'no such grant'"
        );
        assert_eq!(
            w.p.object_state(&grant).as_deref(),
            Some("{\"not\": \"a grant\"}"),
            "and nothing overwrote it"
        );
    }
}
