//! The Durable Object that holds one MCP session.

use worker::{durable_object, DurableObject, Env, Request, Response, State};

#[durable_object(fetch)]
pub struct McpSession {
    #[allow(dead_code)]
    state: State,
}

impl DurableObject for McpSession {
    fn new(state: State, _env: Env) -> Self {
        McpSession { state }
    }

    async fn fetch(&self, _req: Request) -> worker::Result<Response> {
        crate::cloudflare::respond(
            crate::http::HttpError::NotFound {
                path: "session".into(),
            }
            .to_reply(),
        )
    }
}
