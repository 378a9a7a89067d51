//! The `whoami` tool: who the server thinks the caller is, and what their token may do.

use super::{schema, Tool, ToolCall, ToolOutput};
use crate::outbound::LocalBoxFuture;
use serde_json::json;

pub fn tool() -> Tool {
    Tool::new(
        "whoami",
        "Shows the signed-in user (id, login, name, email, identity provider) and the OAuth \
         scopes granted to the token this client uses.",
        schema(r#"{"additionalProperties": false, "type": "object"}"#),
        run,
    )
    .title("Who am I")
    .output_schema(schema(
        r#"{
        "properties": {
            "client_id": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
            "id": {"type": "string"},
            "login": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "provider": {"type": "string"},
            "scopes": {"items": {"type": "string"}, "type": "array"}
        },
        "required": ["id", "login", "name", "email", "provider", "scopes", "client_id"],
        "type": "object"
    }"#,
    ))
    .annotations(schema(r#"{"openWorldHint": false, "readOnlyHint": true}"#))
}

fn run<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        let user = &call.user.user;
        let scopes = &call.user.scopes;
        let mut text = format!(
            "You are {} ({}), signed in with {}.",
            user.login, user.id, user.provider
        );
        if let Some(name) = &user.name {
            text.push_str(&format!("\nName: {name}"));
        }
        if let Some(email) = &user.email {
            text.push_str(&format!("\nEmail: {email}"));
        }
        text.push_str(&format!(
            "\nScopes of this token: {}",
            if scopes.is_empty() {
                "(none)".to_owned()
            } else {
                scopes.join(" ")
            }
        ));
        ToolOutput::structured(
            text,
            json!({
                "id": user.id,
                "login": user.login,
                "name": user.name,
                "email": user.email,
                "provider": user.provider,
                "scopes": scopes,
                "client_id": call.user.client_id,
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{run as run_tool, user, FakeHttp};
    use super::*;

    #[test]
    fn reports_the_profile_and_the_scopes() {
        let http = FakeHttp::failing("unused");
        let u = user("github", Some("gho_secret_token"));
        let out = run_tool(&tool(), json!({}), &u, &http);
        assert!(!out.is_error);
        assert_eq!(
            out.structured,
            Some(json!({
                "id": "github:42", "login": "octo", "name": "Octo Cat", "email": null,
                "provider": "github", "scopes": ["mcp", "github:repos"], "client_id": "client-1"
            }))
        );
        assert_eq!(
            out.text,
            "You are octo (github:42), signed in with github.\nName: Octo Cat\nScopes of this token: mcp github:repos"
        );
        assert!(!format!("{out:?}").contains("gho_secret_token"));
        assert!(http.seen.borrow().is_empty());
    }

    #[test]
    fn takes_no_arguments() {
        let http = FakeHttp::failing("unused");
        let out = run_tool(&tool(), json!({"x": 1}), &user("dev", None), &http);
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "unknown argument `x` (this tool takes no arguments)"
        );
    }
}
