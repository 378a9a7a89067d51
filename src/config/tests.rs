//! `Config::from_lookup`: defaults, ranges, and errors that name their variable.

use super::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn minimal_development_settings_parse_with_defaults() {
    let c = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)])).unwrap();
    assert_eq!(c.provider, ProviderKind::Dev);
    assert_eq!(c.public_url, None);
    assert_eq!(c.access_token_ttl, 3600);
    assert_eq!(c.refresh_token_ttl, 30 * 86_400);
    assert_eq!(c.client_ttl, 90 * 86_400);
    assert!(c.allowed_origins.is_empty() && c.allowed_users.is_empty());
    assert!(c.auth_token.is_none());
}

#[test]
fn missing_provider_names_the_variable_and_the_choices() {
    let e = Config::from_lookup(env(&[("SECRET_KEY", KEY)])).unwrap_err();
    assert_eq!(e.variable(), "UPSTREAM_PROVIDER");
    let msg = e.to_string();
    assert!(msg.contains("UPSTREAM_PROVIDER is not set"), "{msg}");
    assert!(msg.contains("dev, github, google, oidc"), "{msg}");
}

#[test]
fn unknown_provider_is_invalid() {
    let e = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "gitlab"), ("SECRET_KEY", KEY)]))
        .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Invalid {
            name: "UPSTREAM_PROVIDER",
            ..
        }
    ));
    assert!(e.to_string().contains("'gitlab'"));
}

#[test]
fn missing_secret_key_says_how_to_set_it() {
    let e = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "dev")])).unwrap_err();
    assert_eq!(e.variable(), "SECRET_KEY");
    assert!(e.to_string().contains("wrangler secret put SECRET_KEY"));
}

#[test]
fn short_secret_key_is_refused_without_echoing_it() {
    let e = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", "hunter2"),
    ]))
    .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Invalid {
            name: "SECRET_KEY",
            ..
        }
    ));
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn blank_values_count_as_missing() {
    let e =
        Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "  "), ("SECRET_KEY", KEY)])).unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Missing {
            name: "UPSTREAM_PROVIDER",
            ..
        }
    ));
}

#[test]
fn ttls_must_be_whole_seconds_in_range() {
    for (value, fragment) in [
        ("abc", "not a whole number"),
        ("-5", "not a whole number"),
        ("10", "out of range"),
        ("999999999", "out of range"),
    ] {
        let e = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("ACCESS_TOKEN_TTL", value),
        ]))
        .unwrap_err();
        assert_eq!(e.variable(), "ACCESS_TOKEN_TTL");
        assert!(e.to_string().contains(fragment), "{value}: {e}");
    }
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", KEY),
        ("ACCESS_TOKEN_TTL", "900"),
    ]))
    .unwrap();
    assert_eq!(c.access_token_ttl, 900);
}

#[test]
fn mcp_conformance_is_off_unless_on() {
    let with = |v: Option<&str>| {
        let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
        vars.extend(v.map(|v| ("MCP_CONFORMANCE", v)));
        Config::from_lookup(env(&vars))
    };
    assert!(!with(None).unwrap().mcp_conformance);
    assert!(!with(Some("off")).unwrap().mcp_conformance);
    assert!(with(Some("on")).unwrap().mcp_conformance);
    let err = with(Some("yes")).unwrap_err();
    assert_eq!(err.variable(), "MCP_CONFORMANCE");
}

#[test]
fn mcp_cache_ttl_is_0_to_60_seconds_default_5() {
    let with = |v: Option<&str>| {
        let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
        vars.extend(v.map(|v| ("MCP_CACHE_TTL", v)));
        Config::from_lookup(env(&vars))
    };
    assert_eq!(with(None).unwrap().mcp_cache_ttl, 5);
    assert_eq!(with(Some("0")).unwrap().mcp_cache_ttl, 0);
    assert_eq!(with(Some("60")).unwrap().mcp_cache_ttl, 60);
    let e = with(Some("61")).unwrap_err();
    assert_eq!(e.variable(), "MCP_CACHE_TTL");
}

#[test]
fn public_url_is_normalized_to_an_origin_and_paths_are_refused() {
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", KEY),
        ("PUBLIC_URL", "https://Mcp.Example.com/"),
    ]))
    .unwrap();
    assert_eq!(c.public_url.as_deref(), Some("https://mcp.example.com"));
    for bad in [
        "https://x.example/mcp",
        "ftp://x.example",
        "not a url",
        "https://u:p@x.example",
    ] {
        let e = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("PUBLIC_URL", bad),
        ]))
        .unwrap_err();
        assert_eq!(e.variable(), "PUBLIC_URL", "{bad}");
    }
}

#[test]
fn lists_are_comma_separated_and_users_are_case_insensitive() {
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "github"),
        ("SECRET_KEY", KEY),
        ("ALLOWED_USERS", " Octocat , ada@example.com ,"),
        (
            "ALLOWED_ORIGINS",
            "https://a.example, http://localhost:6274",
        ),
    ]))
    .unwrap();
    assert_eq!(c.allowed_users, vec!["octocat", "ada@example.com"]);
    assert_eq!(
        c.allowed_origins,
        vec!["https://a.example", "http://localhost:6274"]
    );
    let e = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", KEY),
        ("ALLOWED_ORIGINS", "https://a.example/path"),
    ]))
    .unwrap_err();
    assert_eq!(e.variable(), "ALLOWED_ORIGINS");
}

#[test]
fn access_token_ttl_goes_up_to_30_days() {
    let with = |v: &str| {
        Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("ACCESS_TOKEN_TTL", v),
        ]))
    };
    assert_eq!(with("2592000").unwrap().access_token_ttl, 30 * 86_400);
    assert_eq!(with("2592001").unwrap_err().variable(), "ACCESS_TOKEN_TTL");
}

#[test]
fn client_policy_settings_parse_and_bad_ones_name_their_variable() {
    use crate::oauth::policy::ClientPolicy;
    let with = |pairs: &[(&str, &str)]| {
        let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
        vars.extend_from_slice(pairs);
        Config::from_lookup(env(&vars))
    };
    let c = with(&[]).unwrap();
    assert_eq!(c.admission.policy, ClientPolicy::Open);
    assert!(c.admission.registration);
    let c = with(&[
        ("CLIENT_POLICY", "Listed"),
        (
            "ALLOWED_CLIENTS",
            "https://chatgpt.com/oauth/*, https://claude.ai/oauth/claude-code-client-metadata",
        ),
        ("REGISTRATION", "off"),
    ])
    .unwrap();
    assert_eq!(c.admission.policy, ClientPolicy::Listed);
    assert_eq!(c.admission.allowed_clients.len(), 2);
    assert!(!c.admission.registration);
    for (pairs, name) in [
        (&[("CLIENT_POLICY", "closed")][..], "CLIENT_POLICY"),
        (&[("REGISTRATION", "maybe")][..], "REGISTRATION"),
        (
            &[("CLIENT_POLICY", "listed"), ("ALLOWED_CLIENTS", "*")][..],
            "ALLOWED_CLIENTS",
        ),
        (
            &[
                ("CLIENT_POLICY", "listed"),
                ("ALLOWED_CLIENTS", "https://*/*"),
            ][..],
            "ALLOWED_CLIENTS",
        ),
        // Set without the policy that reads it.
        (
            &[("ALLOWED_CLIENTS", "https://chatgpt.com/oauth/*")][..],
            "ALLOWED_CLIENTS",
        ),
    ] {
        let e = with(pairs).unwrap_err();
        assert_eq!(e.variable(), name, "{pairs:?}");
        assert!(e.to_string().starts_with(name), "{e}");
    }
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", KEY),
        ("AUTH_TOKEN", KEY),
    ]))
    .unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("Secret([redacted])"));
}

#[test]
fn upstream_settings_are_parsed_with_the_rest_and_their_error_is_kept() {
    let c = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)])).unwrap();
    assert!(
        matches!(c.upstream, Ok(None)),
        "the development provider has no settings"
    );
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "github"),
        ("SECRET_KEY", KEY),
        ("GITHUB_CLIENT_ID", "Iv1.abc"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("GITHUB_API_URL", "https://ghe.example/api/v3/"),
    ]))
    .unwrap();
    match &c.upstream {
        Ok(Some(UpstreamSettings::GitHub(s))) => {
            assert_eq!(s.client_id, "Iv1.abc");
            assert_eq!(s.api_url, "https://ghe.example/api/v3");
        }
        other => panic!("{other:?}"),
    }
    // A provider that cannot sign anyone in does not refuse the configuration:
    // the error waits for /health and sign-in.
    let c = Config::from_lookup(env(&[
        ("UPSTREAM_PROVIDER", "github"),
        ("SECRET_KEY", KEY),
        ("GITHUB_CLIENT_ID", "Iv1.abc"),
    ]))
    .unwrap();
    assert_eq!(c.upstream.unwrap_err().variable(), "GITHUB_CLIENT_SECRET");
}
