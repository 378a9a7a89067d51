//! The upstream provider settings (`upstream::settings`): what each provider
//! needs from `wrangler.toml` and `wrangler secret put`, their defaults, which
//! values are refused and why, and that the client secret is never shown.

mod common;

use common::upstream_fixtures::*;
use mcp_oauth_worker::config::{ConfigError, ProviderKind};
use mcp_oauth_worker::upstream::settings::{settings_for, UpstreamSettings};

// ---------------------------------------------------------------------------------------
// Settings

#[test]
fn the_dev_provider_needs_no_upstream_settings() {
    assert!(matches!(
        settings_for(ProviderKind::Dev, env(&[])),
        Ok(None)
    ));
}

#[test]
fn github_settings_default_to_github_com_without_the_repo_scope() {
    let s = github_settings();
    assert_eq!(s.scopes, "read:user user:email");
    assert!(s.allow_signup);
    assert_eq!(s.authorize_url, "https://github.com/login/oauth/authorize");
    assert_eq!(s.token_url, "https://github.com/login/oauth/access_token");
    assert_eq!(s.api_url, "https://api.github.com");
}

#[test]
fn github_settings_accept_scopes_and_loopback_mock_urls() {
    let s = settings_for(
        ProviderKind::GitHub,
        env(&[
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("GITHUB_SCOPES", "read:user, user:email,repo"),
            ("GITHUB_ALLOW_SIGNUP", "false"),
            (
                "GITHUB_TOKEN_URL",
                "http://127.0.0.1:8080/login/oauth/access_token",
            ),
            ("GITHUB_API_URL", "http://localhost:8080/api/"),
        ]),
    )
    .unwrap();
    let Some(UpstreamSettings::GitHub(s)) = s else {
        panic!("{s:?}")
    };
    assert_eq!(s.scopes, "read:user user:email repo");
    assert!(!s.allow_signup);
    assert_eq!(
        s.token_url,
        "http://127.0.0.1:8080/login/oauth/access_token"
    );
    assert_eq!(s.api_url, "http://localhost:8080/api");
}

#[test]
fn a_missing_client_secret_says_to_use_wrangler_secret_put() {
    let e = settings_for(ProviderKind::GitHub, env(&[("GITHUB_CLIENT_ID", "id")])).unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Missing {
            name: "GITHUB_CLIENT_SECRET",
            ..
        }
    ));
    let text = e.to_string();
    assert!(
        text.contains("npx wrangler secret put GITHUB_CLIENT_SECRET"),
        "{text}"
    );
    assert!(text.contains(".dev.vars"), "{text}");
}

#[test]
fn a_missing_client_id_says_to_use_vars_in_wrangler_toml() {
    for (kind, name) in [
        (ProviderKind::GitHub, "GITHUB_CLIENT_ID"),
        (ProviderKind::Google, "GOOGLE_CLIENT_ID"),
    ] {
        let e = settings_for(kind, env(&[])).unwrap_err();
        assert_eq!(e.variable(), name);
        let text = e.to_string();
        assert!(
            text.contains("[vars]") && text.contains("wrangler.toml"),
            "{text}"
        );
    }
    let e = settings_for(
        ProviderKind::Oidc,
        env(&[("OIDC_CLIENT_ID", "c"), ("OIDC_CLIENT_SECRET", "s")]),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Missing {
            name: "OIDC_ISSUER",
            ..
        }
    ));
}

#[test]
fn blank_values_count_as_missing() {
    let e = settings_for(
        ProviderKind::GitHub,
        env(&[("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "   ")]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GITHUB_CLIENT_SECRET");
}

#[test]
fn urls_must_be_https_except_on_loopback() {
    for (name, bad) in [
        ("GITHUB_TOKEN_URL", "http://github.example.com/token"),
        ("GITHUB_AUTHORIZE_URL", "/login/oauth/authorize"),
        ("GITHUB_API_URL", "ftp://api.github.com"),
    ] {
        let e = settings_for(
            ProviderKind::GitHub,
            env(&[
                ("GITHUB_CLIENT_ID", "id"),
                ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
                (name, bad),
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert_eq!(e.variable(), name);
        assert!(e.to_string().contains("[vars]"), "{e}");
    }
}

#[test]
fn google_settings_default_to_offline_access_and_google_endpoints() {
    let s = google_settings(&[]);
    assert_eq!(s.scopes, "openid email profile");
    assert!(s.offline);
    assert_eq!(
        s.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(s.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        s.userinfo_url,
        "https://openidconnect.googleapis.com/v1/userinfo"
    );
    assert_eq!(s.issuer, "https://accounts.google.com");
    assert!(!google_settings(&[("GOOGLE_OFFLINE", "false")]).offline);
}

#[test]
fn openid_connect_scopes_must_contain_openid() {
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_SCOPES", "email profile"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GOOGLE_SCOPES");
    assert!(e.to_string().contains("openid"), "{e}");
    let e = settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "id"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("OIDC_SCOPES", "profile"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "OIDC_SCOPES");
}

#[test]
fn booleans_and_issuers_are_validated() {
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_OFFLINE", "maybe"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GOOGLE_OFFLINE");
    assert!(e.to_string().contains("'maybe'"), "{e}");
    for bad in [
        "https://id.example.com?tenant=1",
        "http://id.example.com",
        "id.example.com",
    ] {
        let e = settings_for(
            ProviderKind::Oidc,
            env(&[
                ("OIDC_ISSUER", bad),
                ("OIDC_CLIENT_ID", "id"),
                ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.variable(), "OIDC_ISSUER", "{bad}");
    }
}

#[test]
fn settings_never_show_the_client_secret() {
    let shown = format!("{:?}", github_settings());
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    // Even an error about another variable in the same environment.
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_TOKEN_URL", "http://oauth2.example.com"),
        ]),
    )
    .unwrap_err();
    assert!(!e.to_string().contains(CLIENT_SECRET));
    assert!(!format!("{e:?}").contains(CLIENT_SECRET));
}
