//! The rules of the per-isolate copies (`isolate::Isolate`), one by one: what
//! is kept, for how long, and what forgets it. Each test fails when its rule
//! is broken. (How the flows use them: `grant_flows::access_cache`.)

use mcp_oauth_worker::isolate::{
    Accepted, Discovery, Isolate, CLIENT_COPY_SECS, DISCOVERY_KEEP_SECS, DISCOVERY_RETRY_SECS,
    OVER_LIMIT_ADDRESSES,
};
use mcp_oauth_worker::keys;
use mcp_oauth_worker::mcp::Session;
use mcp_oauth_worker::oauth::resource::static_token_user;
use mcp_oauth_worker::ratelimit::PERIOD_SECS;
use mcp_oauth_worker::upstream::oidc::DiscoveryDocument;

const T: u64 = 1_000_000;

mod client_records {
    use super::*;

    #[test]
    fn a_client_record_is_kept_for_its_copy_time_after_a_read() {
        let isolate = Isolate::new();
        let key = keys::client("c1");
        assert_eq!(isolate.client_record(&key, || T), None);
        isolate.keep_client_record(&key, "{\"v\":1}", || T);
        let fresh = T + CLIENT_COPY_SECS - 1;
        assert_eq!(
            isolate.client_record(&key, || fresh).as_deref(),
            Some("{\"v\":1}")
        );
        assert_eq!(isolate.client_record(&key, || T + CLIENT_COPY_SECS), None);
        assert_eq!(CLIENT_COPY_SECS, 60, "no staler than KV's own edge cache");
    }

    #[test]
    fn a_write_here_replaces_the_copy_and_a_delete_here_forgets_it() {
        let isolate = Isolate::new();
        let key = keys::client("c1");
        isolate.keep_client_record(&key, "old", || T);
        isolate.keep_client_record(&key, "new", || T + 1);
        assert_eq!(
            isolate.client_record(&key, || T + 2).as_deref(),
            Some("new")
        );
        isolate.forget_client_record(&key);
        assert_eq!(isolate.client_record(&key, || T + 2), None);
    }

    #[test]
    fn only_client_records_are_kept_and_other_keys_never_read_the_clock() {
        let isolate = Isolate::new();
        for key in [
            keys::access("abc"),
            keys::blocks(),
            "user:client:x".to_owned(),
        ] {
            isolate.keep_client_record(&key, "value", || T);
            let answer = isolate.client_record(&key, || panic!("clock read for {key}"));
            assert_eq!(answer, None, "{key}");
        }
    }
}

mod access_tokens {
    use super::*;

    const RESOURCE: &str = "https://mcp.example/mcp";

    fn accepted(grant: &str) -> Accepted {
        Accepted {
            resource: RESOURCE.into(),
            grant_id: grant.into(),
            user: static_token_user(),
        }
    }

    fn keep(isolate: &Isolate, key: &str, grant: &str, expires_at: u64, max_secs: u64) {
        let since = isolate.access_mark();
        isolate.keep_accepted_token(since, key, accepted(grant), expires_at, max_secs, T);
    }

    #[test]
    fn an_accepted_token_is_kept_for_mcp_cache_ttl() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a", "g1", T + 3600, 5);
        assert!(isolate
            .accepted_token("access:a", RESOURCE, T + 4)
            .is_some());
        assert!(isolate
            .accepted_token("access:a", RESOURCE, T + 5)
            .is_none());
    }

    #[test]
    fn an_accepted_token_is_never_kept_past_its_expiry() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a", "g1", T + 2, 5);
        assert!(isolate
            .accepted_token("access:a", RESOURCE, T + 1)
            .is_some());
        assert!(isolate
            .accepted_token("access:a", RESOURCE, T + 2)
            .is_none());
    }

    #[test]
    fn mcp_cache_ttl_0_keeps_nothing() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a", "g1", T + 3600, 0);
        assert!(isolate.accepted_token("access:a", RESOURCE, T).is_none());
        assert_eq!(isolate.accepted_tokens(), 0);
    }

    #[test]
    fn a_token_accepted_for_one_resource_is_not_answered_for_another() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a", "g1", T + 3600, 5);
        assert!(isolate
            .accepted_token("access:a", "https://other.example/mcp", T)
            .is_none());
        assert!(isolate.accepted_token("access:a", RESOURCE, T).is_some());
    }

    #[test]
    fn forget_grant_drops_that_grants_tokens_only() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a1", "g1", T + 3600, 5);
        keep(&isolate, "access:a2", "g1", T + 3600, 5);
        keep(&isolate, "access:b", "g2", T + 3600, 5);
        assert_eq!(isolate.accepted_tokens_of("g1", T), 2);
        isolate.forget_grant("g1");
        assert_eq!(isolate.accepted_tokens_of("g1", T), 0);
        assert!(isolate.accepted_token("access:a1", RESOURCE, T).is_none());
        assert!(isolate.accepted_token("access:b", RESOURCE, T).is_some());
    }

    #[test]
    fn forget_all_drops_every_token_and_nothing_else() {
        let isolate = Isolate::new();
        keep(&isolate, "access:a", "g1", T + 3600, 5);
        keep(&isolate, "access:b", "g2", T + 3600, 5);
        let client = keys::client("c1");
        isolate.keep_client_record(&client, "record", || T);
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&initialized("s")), 5, T);
        isolate.forget_all();
        assert_eq!(isolate.accepted_tokens(), 0);
        assert!(isolate.client_record(&client, || T).is_some());
        assert!(isolate.session_copy("u\ns", T).is_some());
    }

    #[test]
    fn a_record_read_before_a_grant_was_forgotten_here_is_not_kept() {
        for forget in [
            (|i: &Isolate| i.forget_grant("some-other-grant")) as fn(&Isolate),
            |i: &Isolate| i.forget_all(),
        ] {
            let isolate = Isolate::new();
            let since = isolate.access_mark();
            // ... the record is read from storage; meanwhile a flow here forgets ...
            forget(&isolate);
            isolate.keep_accepted_token(since, "access:a", accepted("g1"), T + 3600, 5, T);
            assert!(isolate.accepted_token("access:a", RESOURCE, T).is_none());
        }
    }
}

fn initialized(id: &str) -> Session {
    let mut s = Session::create(id, "2025-06-18", None);
    s.initialized = true;
    s
}

mod sessions {
    use super::*;

    #[test]
    fn a_session_is_kept_for_the_given_ttl() {
        let isolate = Isolate::new();
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&initialized("s")), 5, T);
        let copy = isolate.session_copy("u\ns", T + 4).expect("kept");
        assert_eq!(copy.id, "s");
        assert!(isolate.session_copy("u\ns", T + 5).is_none());
    }

    #[test]
    fn a_session_before_initialized_is_not_kept_and_drops_an_older_copy() {
        let isolate = Isolate::new();
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&initialized("s")), 5, T);
        let fresh = Session::create("s", "2025-06-18", None);
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&fresh), 5, T);
        assert!(isolate.session_copy("u\ns", T).is_none());
    }

    #[test]
    fn a_missing_session_drops_the_copy() {
        let isolate = Isolate::new();
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&initialized("s")), 5, T);
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", None, 5, T);
        assert!(isolate.session_copy("u\ns", T).is_none());
    }

    #[test]
    fn forget_session_drops_it_and_a_read_from_before_is_not_kept() {
        let isolate = Isolate::new();
        let since = isolate.session_mark();
        isolate.keep_session(since, "u\ns", Some(&initialized("s")), 5, T);
        let before_delete = isolate.session_mark();
        isolate.forget_session("u\ns");
        assert!(isolate.session_copy("u\ns", T).is_none());
        // A load that started before the DELETE answers late: not kept.
        isolate.keep_session(before_delete, "u\ns", Some(&initialized("s")), 5, T);
        assert!(isolate.session_copy("u\ns", T).is_none());
    }
}

mod discovery {
    use super::*;

    const ISSUER: &str = "https://idp.example";

    fn doc(issuer: &str) -> DiscoveryDocument {
        DiscoveryDocument {
            issuer: issuer.into(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            userinfo_endpoint: None,
            token_endpoint_auth_methods_supported: None,
        }
    }

    #[test]
    fn nothing_known_means_fetch() {
        assert_eq!(
            Isolate::new().discovery_or_backoff(ISSUER, T),
            Discovery::Fetch
        );
    }

    #[test]
    fn a_document_is_kept_for_an_hour_for_its_issuer_only() {
        let isolate = Isolate::new();
        isolate.keep_discovery(doc(ISSUER), T);
        let last = T + DISCOVERY_KEEP_SECS - 1;
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, last),
            Discovery::Kept(doc(ISSUER))
        );
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, T + DISCOVERY_KEEP_SECS),
            Discovery::Fetch
        );
        assert_eq!(
            isolate.discovery_or_backoff("https://other.example", T),
            Discovery::Fetch
        );
        assert_eq!(DISCOVERY_KEEP_SECS, 3600);
    }

    #[test]
    fn a_failure_backs_off_with_the_time_left_then_fetches_again() {
        let isolate = Isolate::new();
        isolate.discovery_failed(T);
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, T),
            Discovery::BackOff {
                retry_after: DISCOVERY_RETRY_SECS
            }
        );
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, T + DISCOVERY_RETRY_SECS - 1),
            Discovery::BackOff { retry_after: 1 }
        );
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, T + DISCOVERY_RETRY_SECS),
            Discovery::Fetch
        );
    }

    #[test]
    fn a_kept_document_is_used_even_during_a_back_off() {
        let isolate = Isolate::new();
        isolate.keep_discovery(doc(ISSUER), T);
        isolate.discovery_failed(T + 1);
        assert_eq!(
            isolate.discovery_or_backoff(ISSUER, T + 2),
            Discovery::Kept(doc(ISSUER))
        );
    }
}

mod over_limit {
    use super::*;

    #[test]
    fn an_address_over_the_limit_is_known_until_the_period_ends() {
        let isolate = Isolate::new();
        assert!(!isolate.known_over_limit("ip:1", T));
        isolate.remember_over_limit("ip:1".into(), T);
        assert!(isolate.known_over_limit("ip:1", T + PERIOD_SECS - 1));
        assert!(!isolate.known_over_limit("ip:1", T + PERIOD_SECS));
        assert!(!isolate.known_over_limit("ip:2", T));
    }

    #[test]
    fn an_address_counted_under_the_limit_again_is_forgotten() {
        let isolate = Isolate::new();
        isolate.remember_over_limit("ip:1".into(), T);
        isolate.forget_over_limit("ip:1");
        assert!(!isolate.known_over_limit("ip:1", T));
    }

    #[test]
    fn at_most_so_many_addresses_are_remembered_and_expired_ones_make_room() {
        let isolate = Isolate::new();
        for n in 0..OVER_LIMIT_ADDRESSES {
            isolate.remember_over_limit(format!("ip:{n}"), T);
        }
        isolate.remember_over_limit("ip:late".into(), T);
        assert!(
            !isolate.known_over_limit("ip:late", T),
            "full: not remembered"
        );
        assert!(isolate.known_over_limit("ip:0", T));
        // Once the period is over, the old ones go first.
        let later = T + PERIOD_SECS;
        isolate.remember_over_limit("ip:late".into(), later);
        assert!(isolate.known_over_limit("ip:late", later));
    }
}

#[test]
fn client_documents_are_one_cache_for_the_isolate() {
    let isolate = Isolate::new();
    isolate.client_documents().borrow_mut().jwks.put(
        "https://c.example/jwks",
        serde_json::json!({"keys": []}),
        60,
        T,
    );
    assert!(isolate
        .client_documents()
        .borrow()
        .jwks
        .get("https://c.example/jwks", T)
        .is_some());
}
