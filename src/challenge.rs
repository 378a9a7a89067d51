//! The `WWW-Authenticate: Bearer` challenges of the resource server
//! ([RFC 6750 §3](https://datatracker.ietf.org/doc/html/rfc6750#section-3), with
//! `resource_metadata` from [RFC 9728 §5.1](https://datatracker.ietf.org/doc/html/rfc9728#section-5.1)).
//! Outside `oauth/` so the MCP server can build its step-up 403 without importing the
//! authorization server.

use crate::user::ALL_SCOPES;

/// The `WWW-Authenticate` value of a 401 from `/mcp`: where to discover the
/// authorization server and which scopes to ask for, plus, for a token that was
/// presented but refused, `error` and `error_description` (RFC 6750 §3.1).
pub fn www_authenticate(resource_metadata_url: &str, error: Option<(&str, &str)>) -> String {
    let mut params: Vec<(&str, &str)> = Vec::with_capacity(4);
    if let Some((code, description)) = error {
        params.push(("error", code));
        params.push(("error_description", description));
    }
    let scope = ALL_SCOPES.join(" ");
    params.push(("resource_metadata", resource_metadata_url));
    params.push(("scope", &scope));
    bearer_challenge(&params)
}

/// The `WWW-Authenticate` value of a 403 for a token that lacks `scope`
/// (RFC 6750 §3.1): the scopes to request on re-authorization.
pub fn insufficient_scope_challenge(resource_metadata_url: &str, scope: &str) -> String {
    let description = format!("this request needs the scope: {scope}");
    bearer_challenge(&[
        ("error", "insufficient_scope"),
        ("error_description", &description),
        ("resource_metadata", resource_metadata_url),
        ("scope", scope),
    ])
}

fn bearer_challenge(params: &[(&str, &str)]) -> String {
    let mut out = String::from("Bearer");
    for (i, (name, value)) in params.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(name);
        out.push_str("=\"");
        push_quoted_string_content(&mut out, value);
        out.push('"');
    }
    out
}

/// RFC 9110 §5.6.4 quoted-string content: `"` and `\` escaped, and characters a
/// header may not carry (CR, LF and other controls, non-ASCII) replaced, so a
/// value can neither end the string early nor split the header.
fn push_quoted_string_content(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            '\t' => out.push(' '),
            _ => out.push('?'),
        }
    }
}
