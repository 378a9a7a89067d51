//! What people see: the consent page, message pages, the development sign-in
//! page, and the cookies that tie a browser to its consent and sign-in.
//!
//! Pages are askama templates (`templates/`), escaped by the engine.

pub mod account;
pub mod cookies;

use askama::Template;

use crate::http::{HttpError, Reply};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    client_id: &'a str,
    verified_host: Option<&'a str>,
    shared_host: bool,
    loopback_only: bool,
    redirect_host: &'a str,
    scopes: Vec<(&'a str, &'static str)>,
    ticket: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "dev_login.html")]
struct DevLoginPage<'a> {
    state: &'a str,
}

/// What the consent page shows.
pub struct Consent<'a> {
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// For a Client ID Metadata Document client: the host its document came
    /// from over https, the application's verified identity.
    pub verified_host: Option<&'a str>,
    /// The document is on a host where anyone can publish one
    /// (`urls::SHARED_CONTENT_HOSTS`): shown as "a document hosted at", not as
    /// an application from that host.
    pub shared_host: bool,
    /// Every redirect URI of a document client goes to this computer.
    pub loopback_only: bool,
    pub redirect_host: &'a str,
    pub scopes: &'a [String],
    /// The signed consent ticket.
    pub ticket: &'a str,
    /// The CSRF value that must come back with the form and match the cookie.
    pub csrf: &'a str,
}

/// What people read about each scope on the consent page.
fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "mcp" => "Use this MCP server's tools as you",
        "github:repos" => "List your GitHub repositories",
        _ => "An unknown permission",
    }
}

pub(crate) fn render(status: u16, page: Result<String, askama::Error>) -> Reply {
    match page {
        Ok(html) => Reply::html(status, html),
        // Rendering our own templates with plain strings does not fail; if it
        // ever did, say so plainly rather than send half a page.
        Err(_) => Reply::html(
            500,
            "<!doctype html><title>Error</title><p>The page could not be rendered.</p>".into(),
        ),
    }
}

pub fn consent_page(c: &Consent<'_>) -> Reply {
    let scopes = c
        .scopes
        .iter()
        .map(|s| (s.as_str(), describe_scope(s)))
        .collect();
    render(
        200,
        ConsentPage {
            client_name: c.client_name,
            client_id: c.client_id,
            verified_host: c.verified_host,
            shared_host: c.shared_host,
            loopback_only: c.loopback_only,
            redirect_host: c.redirect_host,
            scopes,
            ticket: c.ticket,
            csrf: c.csrf,
        }
        .render(),
    )
}

/// A page that explains what went wrong (or right) in words.
pub fn message_page(status: u16, title: &str, message: &str) -> Reply {
    render(status, MessagePage { title, message }.render())
}

/// What a person in a browser sees when a page route fails for a reason of its
/// own (a flow's answers to bad requests are pages already): the same status
/// and `Retry-After` as the JSON answer an API client gets, in words.
pub fn error_page(err: &HttpError) -> Reply {
    let (title, message) = match err {
        HttpError::Unavailable { retry_after } => (
            "The sign-in service is not answering",
            format!("This server could not reach the identity provider it signs you in with. Nothing was lost: try again in {retry_after} seconds, from your MCP client."),
        ),
        HttpError::StorageUnavailable { retry_after } => (
            "This server is not answering",
            format!("This server could not reach its storage. Nothing half-done was kept: try again in {retry_after} seconds."),
        ),
        HttpError::Config(detail) => (
            "This server is not set up correctly",
            format!("Its operator needs to fix a setting: {detail}"),
        ),
        HttpError::Internal { .. } => (
            "Something went wrong on this server",
            "Try again in a moment, from your MCP client. If it keeps happening, tell the server's operator.".to_owned(),
        ),
        other => ("This request cannot be answered", other.to_string()),
    };
    let mut reply = message_page(err.status(), title, &message).no_store();
    if let HttpError::Unavailable { retry_after } | HttpError::StorageUnavailable { retry_after } =
        err
    {
        reply = reply.header("Retry-After", &retry_after.to_string());
    }
    reply
}

pub fn dev_login_page(state: &str) -> Reply {
    render(200, DevLoginPage { state }.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Reply) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn a_failed_page_route_answers_a_page_with_the_same_status() {
        let r = error_page(&HttpError::Unavailable { retry_after: 30 });
        assert_eq!(r.status, 503);
        assert_eq!(r.header_value("Retry-After"), Some("30"));
        assert!(r
            .header_value("Content-Type")
            .unwrap()
            .starts_with("text/html"));
        assert!(r
            .header_value("Cache-Control")
            .unwrap()
            .contains("no-store"));
        assert!(text(&r).contains("try again in 30 seconds"), "{}", text(&r));
        let r = error_page(&HttpError::internal(crate::http::Fault::Impossible, "test"));
        assert_eq!(r.status, 500);
        assert!(r.header_value("Retry-After").is_none());
        let r = error_page(&HttpError::Config("PUBLIC_URL <b>".into()));
        assert!(
            text(&r).contains("PUBLIC_URL &#60;b&#62;"),
            "escaped: {}",
            text(&r)
        );
        assert_eq!(error_page(&HttpError::UnreadableBody).status, 400);
    }

    #[test]
    fn consent_page_escapes_the_client_name() {
        let scopes = vec!["mcp".to_owned()];
        let r = consent_page(&Consent {
            client_name: "<script>alert(1)</script>",
            client_id: "c\"1",
            verified_host: None,
            shared_host: false,
            loopback_only: false,
            redirect_host: "evil.example\"><b>",
            scopes: &scopes,
            ticket: "t",
            csrf: "x",
        });
        let html = text(&r);
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
        assert!(!html.contains("evil.example\"><b>"));
        assert!(r
            .header_value("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }

    #[test]
    fn consent_page_names_client_host_and_scopes() {
        let scopes = vec!["mcp".to_owned(), "github:repos".to_owned()];
        let html = text(&consent_page(&Consent {
            client_name: "Inspector",
            client_id: "cid",
            verified_host: None,
            shared_host: false,
            loopback_only: false,
            redirect_host: "localhost",
            scopes: &scopes,
            ticket: "T",
            csrf: "C",
        }));
        for needle in [
            "Inspector",
            "localhost",
            "github:repos",
            "List your GitHub repositories",
            "name=\"ticket\" value=\"T\"",
            "name=\"csrf\" value=\"C\"",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
    }

    #[test]
    fn a_document_client_is_named_by_its_verified_host() {
        let scopes = vec!["mcp".to_owned()];
        let html = text(&consent_page(&Consent {
            client_name: "Claude <Code>",
            client_id: "https://claude.ai/oauth/claude-code-client-metadata",
            verified_host: Some("claude.ai"),
            shared_host: false,
            loopback_only: true,
            redirect_host: "localhost",
            scopes: &scopes,
            ticket: "T",
            csrf: "C",
        }));
        for needle in [
            "id=\"verified-host\">claude.ai<",
            "calls itself",
            "Claude &#60;Code&#62;",
            "id=\"loopback-warning\"",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
        let dcr = text(&consent_page(&Consent {
            client_name: "X",
            client_id: "cid",
            verified_host: None,
            shared_host: false,
            loopback_only: false,
            redirect_host: "x.example",
            scopes: &scopes,
            ticket: "T",
            csrf: "C",
        }));
        assert!(!dcr.contains("verified-host") && !dcr.contains("loopback-warning"));
    }

    #[test]
    fn message_pages_escape_their_text() {
        let html = text(&message_page(400, "Oops", "<img src=x onerror=alert(1)>"));
        assert!(html.contains("&#60;img") && !html.contains("<img"));
    }
}
