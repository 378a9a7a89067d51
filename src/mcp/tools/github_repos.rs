//! The `list_github_repos` tool: the signed-in user's repositories, read from GitHub's REST API
//! (`GET /user/repos`) with the GitHub token stored at sign-in.
//!
//! The MCP client's own token never goes upstream (MCP "Security Best Practices: Token
//! Passthrough"); only the user's GitHub token does, and it never appears in any output.

use super::{schema, Tool, ToolCall, ToolOutput};
use crate::outbound::{LocalBoxFuture, OutRequest, OutResponse};
use serde_json::{json, Value};

const DEFAULT_PER_PAGE: i64 = 30;
const DEFAULT_SORT: &str = "updated";
/// The orders GitHub accepts; the input schema lists them and the schema check enforces them.
#[cfg(test)]
const SORTS: &[&str] = &["created", "updated", "pushed", "full_name"];

pub fn tool() -> Tool {
    Tool::new(
        "list_github_repos",
        "Lists the GitHub repositories of the signed-in user (owned, collaborator and \
         organization member), with visibility, description and link. Needs a GitHub sign-in.",
        schema(r#"{
            "additionalProperties": false,
            "properties": {
                "per_page": {
                    "default": 30,
                    "description": "How many repositories to return (1-100).",
                    "maximum": 100,
                    "minimum": 1,
                    "type": "integer"
                },
                "sort": {
                    "default": "updated",
                    "description": "Order of the list.",
                    "enum": ["created", "updated", "pushed", "full_name"],
                    "type": "string"
                }
            },
            "type": "object"
        }"#),
        run,
    )
    .title("List my GitHub repositories")
    .output_schema(schema(r#"{
        "properties": {
            "repositories": {
                "items": {
                    "properties": {
                        "description": {"type": ["string", "null"]},
                        "full_name": {"type": "string"},
                        "html_url": {"type": "string"},
                        "private": {"type": "boolean"},
                        "stargazers_count": {"type": "integer"},
                        "updated_at": {"type": ["string", "null"]}
                    },
                    "required": ["full_name", "private", "description", "html_url", "stargazers_count", "updated_at"],
                    "type": "object"
                },
                "type": "array"
            }
        },
        "required": ["repositories"],
        "type": "object"
    }"#))
    .annotations(schema(r#"{"openWorldHint": true, "readOnlyHint": true}"#))
    .required_scope(crate::user::SCOPE_GITHUB_REPOS)
}

fn run<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        let provider = call.user.user.provider.as_str();
        let token = match &call.user.upstream_token {
            Some(token) if provider == "github" => token.expose(),
            _ => {
                return ToolOutput::error(format!(
                    "This tool needs a GitHub sign-in; this server signs users in with {provider}."
                ))
            }
        };
        let per_page = call.int_arg("per_page").unwrap_or(DEFAULT_PER_PAGE);
        let sort = call.str_arg("sort").unwrap_or(DEFAULT_SORT);
        let url = format!(
            "{}/user/repos?per_page={per_page}&sort={sort}",
            call.env.github_api_base.trim_end_matches('/')
        );
        let request = OutRequest::get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Accept", "application/vnd.github+json")
            .header("User-Agent", "mcp-oauth-worker")
            .header("X-GitHub-Api-Version", "2022-11-28");
        let output = match call.env.http.send(request).await {
            Ok(response) => interpret(&response),
            Err(e) => ToolOutput::error(format!("Could not reach GitHub: {e}")),
        };
        // Defence in depth: nothing above should echo the token, but error text partly comes
        // from elsewhere (the network layer, GitHub), so scrub it before it leaves.
        scrub(output, token)
    })
}

fn interpret(response: &OutResponse) -> ToolOutput {
    let status = response.status;
    match status {
        200..=299 => {}
        401 => {
            return ToolOutput::error(
                "GitHub rejected the stored GitHub token (it was revoked or has expired). \
                 Reconnect this server (sign in with GitHub again) and retry.",
            )
        }
        403 | 429 if response.header("x-ratelimit-remaining") == Some("0") || status == 429 => {
            let when = response
                .header("x-ratelimit-reset")
                .map(|t| format!(" (the limit resets at Unix time {})", short(t, 20)))
                .unwrap_or_default();
            return ToolOutput::error(format!(
                "GitHub's API rate limit is exhausted (HTTP {status}){when}; try again later."
            ));
        }
        403 => {
            return ToolOutput::error(format!(
                "GitHub refused the request (HTTP 403 Forbidden){}. The GitHub token may lack \
                 access, or an organization may require SSO authorization.",
                github_message(&response.body)
            ))
        }
        _ => {
            return ToolOutput::error(format!(
                "GitHub answered with HTTP {status}{}; try again later.",
                github_message(&response.body)
            ))
        }
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&response.body) else {
        return ToolOutput::error(
            "GitHub's response was not the expected JSON list of repositories.",
        );
    };
    let repos: Vec<Value> = items
        .iter()
        .filter_map(|r| {
            let full_name = r.get("full_name")?.as_str()?;
            Some(json!({
                "full_name": full_name,
                "private": r.get("private").and_then(Value::as_bool).unwrap_or(false),
                "description": r.get("description").and_then(Value::as_str),
                "html_url": r.get("html_url").and_then(Value::as_str).unwrap_or_default(),
                "stargazers_count": r.get("stargazers_count").and_then(Value::as_u64).unwrap_or(0),
                "updated_at": r.get("updated_at").and_then(Value::as_str),
            }))
        })
        .collect();
    let text = if repos.is_empty() {
        "No repositories found for this GitHub account.".to_owned()
    } else {
        let mut text = format!("{} repositories:", repos.len());
        for r in &repos {
            let visibility = if r["private"] == Value::Bool(true) {
                "private"
            } else {
                "public"
            };
            text.push_str(&format!(
                "\n- {} ({visibility})",
                r["full_name"].as_str().unwrap_or_default()
            ));
            if let Some(d) = r["description"].as_str().filter(|d| !d.is_empty()) {
                text.push_str(&format!(": {d}"));
            }
            text.push_str(&format!(
                " <{}>",
                r["html_url"].as_str().unwrap_or_default()
            ));
        }
        text
    };
    ToolOutput::structured(text, json!({ "repositories": repos }))
}

/// GitHub's own `message`, short, as a parenthesised suffix.
fn github_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(|m| short(m, 200)))
        .map(|m| format!(": \"{m}\""))
        .unwrap_or_default()
}

fn short(s: &str, max: usize) -> String {
    crate::mcp::jsonrpc::truncate(s, max)
}

fn scrub(mut output: ToolOutput, token: &str) -> ToolOutput {
    if !token.is_empty() && output.text.contains(token) {
        output.text = output.text.replace(token, "[redacted]");
    }
    output
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_text_states_the_defaults_the_code_uses() {
        let d = super::tool().descriptor();
        let props = &d["inputSchema"]["properties"];
        assert_eq!(props["per_page"]["default"], super::DEFAULT_PER_PAGE);
        assert_eq!(props["sort"]["default"], super::DEFAULT_SORT);
        assert_eq!(props["sort"]["enum"], serde_json::json!(super::SORTS));
    }

    use super::super::test_support::{run as run_tool, user, FakeHttp};
    use super::*;

    const TOKEN: &str = "gho_16C7e42F292c6912E7710c838347Ae178B4a";

    fn repos_json() -> String {
        json!([
            {"full_name": "octo/hello", "private": false, "description": "Hi there",
             "html_url": "https://github.com/octo/hello", "stargazers_count": 5,
             "updated_at": "2026-01-02T03:04:05Z", "id": 1},
            {"full_name": "octo/secret", "private": true, "description": null,
             "html_url": "https://github.com/octo/secret", "stargazers_count": 0,
             "updated_at": "2026-01-01T00:00:00Z"}
        ])
        .to_string()
    }

    fn call(args: Value, http: &FakeHttp) -> ToolOutput {
        let out = run_tool(&tool(), args, &user("github", Some(TOKEN)), http);
        assert!(!out.text.contains(TOKEN), "token leaked: {}", out.text);
        assert!(!out.to_result().to_string().contains(TOKEN));
        out
    }

    #[test]
    fn sends_the_documented_request_with_the_github_token() {
        let http = FakeHttp::new(200, &repos_json());
        call(json!({"per_page": 5, "sort": "pushed"}), &http);
        let seen = http.seen.borrow();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "GET");
        assert_eq!(
            seen[0].url,
            "http://127.0.0.1:9/gh/user/repos?per_page=5&sort=pushed"
        );
        let headers: Vec<(&str, &str)> = seen[0]
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("Authorization", format!("Bearer {TOKEN}").as_str()),
                ("Accept", "application/vnd.github+json"),
                ("User-Agent", "mcp-oauth-worker"),
                ("X-GitHub-Api-Version", "2022-11-28"),
            ]
        );
    }

    #[test]
    fn defaults_to_thirty_most_recently_updated() {
        let http = FakeHttp::new(200, "[]");
        let out = call(json!({}), &http);
        assert_eq!(
            http.seen.borrow()[0].url,
            "http://127.0.0.1:9/gh/user/repos?per_page=30&sort=updated"
        );
        assert_eq!(out.text, "No repositories found for this GitHub account.");
        assert_eq!(out.structured, Some(json!({"repositories": []})));
    }

    #[test]
    fn lists_repositories_as_text_and_structured_content() {
        let out = call(json!({}), &FakeHttp::new(200, &repos_json()));
        assert!(!out.is_error);
        assert_eq!(
            out.text,
            "2 repositories:\n- octo/hello (public): Hi there <https://github.com/octo/hello>\n- octo/secret (private) <https://github.com/octo/secret>"
        );
        assert_eq!(
            out.structured.unwrap()["repositories"][1],
            json!({"full_name": "octo/secret", "private": true, "description": null,
                   "html_url": "https://github.com/octo/secret", "stargazers_count": 0,
                   "updated_at": "2026-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn a_rejected_token_asks_the_user_to_reconnect() {
        let out = call(
            json!({}),
            &FakeHttp::new(401, r#"{"message":"Bad credentials"}"#),
        );
        assert!(out.is_error);
        assert!(out.text.contains("revoked or has expired"), "{}", out.text);
        assert!(out.text.contains("sign in with GitHub again"));
    }

    #[test]
    fn rate_limits_and_forbidden_are_told_apart() {
        let limited = FakeHttp::with_headers(
            403,
            &[
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1767225600"),
            ],
            "{}",
        );
        let out = call(json!({}), &limited);
        assert!(out.is_error);
        assert!(out.text.contains("rate limit"), "{}", out.text);
        assert!(out.text.contains("1767225600"));
        let out = call(json!({}), &FakeHttp::new(429, ""));
        assert!(out.text.contains("rate limit"), "{}", out.text);
        let out = call(
            json!({}),
            &FakeHttp::new(403, r#"{"message":"Resource protected by SAML"}"#),
        );
        assert!(out.text.contains("HTTP 403 Forbidden"), "{}", out.text);
        assert!(out.text.contains("Resource protected by SAML"));
    }

    #[test]
    fn other_statuses_network_failures_and_bad_json_are_tool_errors() {
        let out = call(json!({}), &FakeHttp::new(502, "<html>"));
        assert!(out.is_error);
        assert!(out.text.contains("HTTP 502"), "{}", out.text);
        let out = call(json!({}), &FakeHttp::failing("connection reset"));
        assert_eq!(out.text, "Could not reach GitHub: connection reset");
        assert!(out.is_error);
        let out = call(json!({}), &FakeHttp::new(200, "{\"not\":\"a list\"}"));
        assert!(out.is_error);
        assert!(out.text.contains("not the expected JSON"));
        let out = call(json!({}), &FakeHttp::new(200, "[{"));
        assert!(out.is_error);
    }

    #[test]
    fn the_token_is_scrubbed_even_when_an_error_echoes_it() {
        let out = call(
            json!({}),
            &FakeHttp::failing(&format!("proxy said: Authorization: Bearer {TOKEN}")),
        );
        assert!(out.text.contains("[redacted]"));
        let out = call(
            json!({}),
            &FakeHttp::new(500, &format!(r#"{{"message":"token {TOKEN} broken"}}"#)),
        );
        assert!(out.text.contains("[redacted]"));
    }

    #[test]
    fn other_providers_are_told_they_need_github() {
        let http = FakeHttp::new(200, "[]");
        let out = run_tool(&tool(), json!({}), &user("google", Some("ya29.x")), &http);
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "This tool needs a GitHub sign-in; this server signs users in with google."
        );
        let out = run_tool(&tool(), json!({}), &user("github", None), &http);
        assert!(out.is_error);
        assert!(http.seen.borrow().is_empty());
    }

    #[test]
    fn arguments_are_validated_before_anything_is_sent() {
        let http = FakeHttp::new(200, "[]");
        let out = call(json!({"per_page": 500}), &http);
        assert_eq!(out.text, "`per_page` must be at most 100 (got 500)");
        let out = call(json!({"sort": "stars"}), &http);
        assert!(out.text.starts_with("`sort` must be one of"));
        assert!(http.seen.borrow().is_empty());
    }

    #[test]
    fn needs_the_github_repos_scope() {
        assert_eq!(tool().required_scope, Some("github:repos"));
    }
}
