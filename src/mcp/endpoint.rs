//! `/mcp` as one core flow, the one call down from the shell: load the session the request
//! names, answer the request ([`super::server::handle`]), apply the session change.
//!
//! The caller was admitted before (`oauth::resource::admit`); this module sees only the
//! caller's type ([`UserContext`]). Storage is behind [`SessionStore`]; the shell passes its
//! Durable Object store wrapped in [`super::session_store::IsolateCopies`].

use super::catalog::Catalog;
use super::protocol;
use super::server;
use super::session_store::{session_name, SessionStore, SessionStoreError};
use super::tools::ToolEnv;
use super::transport::{InputWork, McpRequest, SessionChange};
use crate::http::Reply;
use crate::user::UserContext;

/// What the MCP server offers and may use, for one request.
pub struct Served<'a> {
    pub catalog: &'a Catalog,
    pub env: &'a ToolEnv<'a>,
}

/// What the shell sends back, and the input work it does besides (legacy calls asking the
/// client for input, or the client's answers to hand on; `None` for every other request).
#[derive(Debug)]
pub struct Answered {
    pub reply: Reply,
    pub input: Option<InputWork>,
}

/// Answers one request to the MCP endpoint for an admitted `caller`.
///
/// `new_session_id` is used only when the request opens a session (`initialize`). Storage
/// reads: at most one session load, and none when the request names no session or the
/// isolate holds a fresh copy; a write only when the session changed.
pub async fn endpoint(
    req: McpRequest<'_>,
    caller: &UserContext,
    sessions: &dyn SessionStore,
    new_session_id: &str,
    served: &Served<'_>,
) -> Result<Answered, SessionStoreError> {
    let named = req
        .session_id
        .filter(|id| protocol::is_well_formed_session_id(id));
    let existing = match named {
        Some(id) => sessions.load(&session_name(caller, id)).await?,
        None => None,
    };
    let outcome = server::handle(
        req,
        existing,
        new_session_id,
        caller,
        served.catalog,
        served.env,
    )
    .await;
    match outcome.session {
        SessionChange::Unchanged => {}
        SessionChange::Store(session) => {
            sessions
                .store(&session_name(caller, &session.id), &session)
                .await?
        }
        SessionChange::Delete => {
            if let Some(id) = req.session_id {
                sessions.delete(&session_name(caller, id)).await?
            }
        }
    }
    Ok(Answered {
        reply: outcome.reply,
        input: outcome.input,
    })
}
