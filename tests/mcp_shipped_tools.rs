//! The shipped tools through the MCP endpoint, through its public API (`mcp::handle`, with `tests/common/mcp_harness.rs`):
//! `calculate`, `whoami` and `list_github_repos` (the exact upstream request, and
//! never the GitHub token in an answer).

use mcp_oauth_worker::config::Secret;
use serde_json::{json, Value};

mod common;

use common::mcp_harness::*;

// ---------------------------------------------------------------------------------------------

fn tool_result(h: &Harness, tool: &str, arguments: Value) -> Value {
    let out = h.in_session("2025-11-25", call(1, tool, arguments));
    assert_eq!(out.reply.status, 200);
    json_body(&out.reply)["result"].clone()
}

#[test]
fn calculate_power_is_right_associative_and_binds_tighter_than_unary_minus() {
    let h = Harness::new();
    let r = tool_result(&h, "calculate", json!({"expression": "2^3^2"}));
    assert_eq!(r["structuredContent"]["result"], json!(512.0));
    assert_eq!(r["content"][0]["text"], json!("2^3^2 = 512"));
    let r = tool_result(&h, "calculate", json!({"expression": "-2^2"}));
    assert_eq!(r["structuredContent"]["result"], json!(-4.0));
    assert_eq!(r["isError"], json!(false));
}

#[test]
fn calculate_failures_are_is_error_results() {
    let h = Harness::new();
    for (expression, says) in [
        ("1/0", "division by zero at position 2"),
        ("5 % 0", "modulo by zero at position 3"),
        ("(1+2", "missing ')'"),
        ("1 + + ", "syntax error at position 7"),
        ("foo(2)", "unknown name 'foo' at position 1"),
        ("", "the expression is empty"),
        ("10^1000", "not a finite number (overflow)"),
    ] {
        let r = tool_result(&h, "calculate", json!({"expression": expression}));
        assert_eq!(r["isError"], json!(true), "{expression}");
        assert!(
            r["content"][0]["text"].as_str().unwrap().contains(says),
            "{expression}: {}",
            r["content"][0]["text"]
        );
    }
    let long = "1+".repeat(600) + "1";
    let r = tool_result(&h, "calculate", json!({"expression": long}));
    assert_eq!(r["isError"], json!(true));
    let deep = "(".repeat(200) + "1" + &")".repeat(200);
    let r = tool_result(&h, "calculate", json!({"expression": deep}));
    assert!(r["content"][0]["text"].as_str().unwrap().contains("nested"));
}

#[test]
fn whoami_reports_the_user_and_the_token_scopes() {
    let h = Harness::new();
    let r = tool_result(&h, "whoami", json!({}));
    assert_eq!(
        r["structuredContent"],
        json!({"id": "github:583231", "login": "octocat", "name": "The Octocat",
               "email": "octocat@github.example", "provider": "github",
               "scopes": ["mcp", "github:repos"],
               "client_id": "https://client.example/meta.json"})
    );
}

#[test]
fn list_github_repos_sends_the_exact_request_and_never_reveals_the_token() {
    let h = Harness::new();
    h.http.answer_json(
        200,
        &json!([{"full_name": "octocat/Hello-World", "private": false,
                 "description": "My first repository", "stargazers_count": 80,
                 "html_url": "https://github.com/octocat/Hello-World",
                 "updated_at": "2026-03-01T10:00:00Z"}])
        .to_string(),
    );
    let out = h.in_session(
        "2025-11-25",
        call(
            1,
            "list_github_repos",
            json!({"per_page": 10, "sort": "full_name"}),
        ),
    );
    let seen = h.http.requests();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.url,
        "http://127.0.0.1:4010/user/repos?per_page=10&sort=full_name"
    );
    let header = |name: &str| {
        sent.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("Authorization"),
        Some("Bearer gho_UpstreamSecretToken123456")
    );
    assert_eq!(header("Accept"), Some("application/vnd.github+json"));
    assert_eq!(header("User-Agent"), Some("mcp-oauth-worker"));
    assert_eq!(header("X-GitHub-Api-Version"), Some("2022-11-28"));

    let body = String::from_utf8(out.reply.body.clone()).unwrap();
    assert!(
        !body.contains(GITHUB_TOKEN),
        "the token must never reach the client"
    );
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["isError"], json!(false));
    assert_eq!(
        r["structuredContent"]["repositories"][0],
        json!({"full_name": "octocat/Hello-World", "private": false,
               "description": "My first repository", "html_url": "https://github.com/octocat/Hello-World",
               "stargazers_count": 80, "updated_at": "2026-03-01T10:00:00Z"})
    );
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("octocat/Hello-World (public): My first repository"));
    assert!(text.contains("https://github.com/octocat/Hello-World"));
}

#[test]
fn list_github_repos_explains_a_revoked_github_token() {
    let h = Harness::new();
    h.http.answer_json(401, r#"{"message":"Bad credentials"}"#);
    let out = h.in_session("2025-11-25", call(1, "list_github_repos", json!({})));
    assert!(!String::from_utf8_lossy(&out.reply.body).contains(GITHUB_TOKEN));
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["isError"], json!(true));
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("revoked or has expired"), "{text}");
    assert!(text.contains("sign in with GitHub again"), "{text}");
}

#[test]
fn list_github_repos_needs_a_github_sign_in() {
    let mut h = Harness::new();
    h.user.user.provider = "google".into();
    h.user.upstream_token = Some(Secret::new("ya29.google-token"));
    let r = tool_result(&h, "list_github_repos", json!({}));
    assert_eq!(r["isError"], json!(true));
    assert_eq!(
        r["content"][0]["text"],
        json!("This tool needs a GitHub sign-in; this server signs users in with google.")
    );
    assert!(h.http.requests().is_empty());
}

#[test]
fn list_github_repos_reports_network_failures_without_the_token() {
    let h = Harness::new();
    h.http
        .answer_always(Err(format!("TLS error talking with Bearer {GITHUB_TOKEN}")));
    let out = h.in_session("2025-11-25", call(1, "list_github_repos", json!({})));
    let raw = String::from_utf8(out.reply.body.clone()).unwrap();
    assert!(!raw.contains(GITHUB_TOKEN));
    assert_eq!(json_body(&out.reply)["result"]["isError"], json!(true));
}
