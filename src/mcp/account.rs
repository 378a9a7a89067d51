//! The shipped resources and prompt: the signed-in user's profile as a resource
//! (`account://profile`), one field of it through a template (`account://profile/{field}`,
//! with completions of the field names), and the `review_repository` prompt (arguments with
//! completions, the profile embedded so the model knows who asks).

use super::content::{Content, ResourceContents};
use super::jsonrpc::ErrorObject;
use super::prompts::{complete_from, Prompt, PromptGet, PromptMessage, PromptResult};
use super::resources::{Resource, ResourceRead, ResourceTemplate};
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;
use serde_json::{json, Value};

pub const PROFILE_URI: &str = "account://profile";
const FIELD_TEMPLATE: &str = "account://profile/{field}";
const FIELDS: &[&str] = &[
    "id",
    "login",
    "name",
    "email",
    "provider",
    "scopes",
    "client_id",
];
const FOCUS: &[&str] = &[
    "security",
    "performance",
    "readability",
    "tests",
    "documentation",
];

fn profile(user: &UserContext) -> Value {
    json!({
        "id": user.user.id,
        "login": user.user.login,
        "name": user.user.name,
        "email": user.user.email,
        "provider": user.user.provider,
        "scopes": user.scopes,
        "client_id": user.client_id,
    })
}

pub fn profile_resource() -> Resource {
    Resource::new(
        PROFILE_URI,
        "profile",
        "The signed-in user's profile (id, login, name, email, identity provider) and the \
         scopes of this connection's token, as JSON.",
        read_profile,
    )
    .title("Your profile")
    .mime_type("application/json")
}

fn read_profile<'a>(
    r: &'a ResourceRead<'a>,
) -> LocalBoxFuture<'a, Result<Vec<ResourceContents>, ErrorObject>> {
    Box::pin(async move {
        Ok(vec![ResourceContents::text(
            r.uri,
            "application/json",
            profile(r.user).to_string(),
        )])
    })
}

pub fn profile_field_template() -> ResourceTemplate {
    ResourceTemplate::new(
        FIELD_TEMPLATE,
        "profile-field",
        "One field of the signed-in user's profile, as text: id, login, name, email, \
         provider, scopes or client_id.",
        read_field,
    )
    .mime_type("text/plain")
    .completer(|var, value| match var {
        "field" => complete_from(FIELDS, value),
        _ => Vec::new(),
    })
}

fn read_field<'a>(
    r: &'a ResourceRead<'a>,
) -> LocalBoxFuture<'a, Result<Vec<ResourceContents>, ErrorObject>> {
    Box::pin(async move {
        let field = r.var("field").unwrap_or_default();
        let all = profile(r.user);
        let Some(value) = all.get(field).filter(|_| FIELDS.contains(&field)) else {
            return Err(not_a_field(r.uri));
        };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        Ok(vec![ResourceContents::text(r.uri, "text/plain", text)])
    })
}

fn not_a_field(uri: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "Resource not found: the profile has no such field (fields: {})",
        FIELDS.join(", ")
    ))
    .with_data(json!({"uri": uri}))
}

pub fn review_prompt() -> Prompt {
    Prompt::new(
        "review_repository",
        "Asks for a code review of a repository, focused on one concern, on behalf of the \
         signed-in user.",
        get_review,
    )
    .title("Review a repository")
    .argument("repository", "The repository, as owner/name", true)
    .argument(
        "focus",
        "security, performance, readability, tests or documentation",
        false,
    )
    .completer(|arg, value| match arg {
        "focus" => complete_from(FOCUS, value),
        _ => Vec::new(),
    })
}

fn get_review<'a>(g: &'a PromptGet<'a>) -> PromptResult<'a> {
    Box::pin(async move {
        let repository = g.arg("repository").unwrap_or_default();
        let focus = g.arg("focus").unwrap_or("overall quality");
        let profile =
            ResourceContents::text(PROFILE_URI, "application/json", profile(g.user).to_string());
        Ok((
            Some(format!("Review of {repository}")),
            vec![
                PromptMessage::user(Content::Resource(profile)),
                PromptMessage::user(Content::text(format!(
                    "I am the user described above. Review the repository {repository} with a \
                     focus on {focus}. List the most important findings first, each with the \
                     file it concerns and a concrete fix."
                ))),
            ],
        ))
    })
}
