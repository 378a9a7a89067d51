//! The MCP server (Streamable HTTP), pure: no `worker` types, so all of it runs under native
//! `cargo test`.
//!
//! Implements the Model Context Protocol revisions 2025-03-26, 2025-06-18 and 2025-11-25
//! (sessions opened by `initialize`) and 2026-07-28 (stateless requests), on one endpoint.
//!
//! - [`jsonrpc`]: JSON-RPC 2.0 messages, parsing and error codes.
//! - [`protocol`]: the protocol's vocabulary: versions, negotiation, header names, client
//!   capabilities, log levels.
//! - [`session`]: the persisted state of a legacy session.
//! - [`transport`]: the HTTP request/outcome types, the `Origin` check, reply encoding.
//! - [`endpoint`]: [`endpoint()`], the one call down from the shell: load the session, answer,
//!   store the change.
//! - [`session_store`]: the [`session_store::SessionStore`] port and the per-isolate copy rules.
//! - [`server`]: [`handle`], one request against a loaded session, and method dispatch;
//!   `context` holds what every method gets (`Ctx`), `cursor` the list cursors.
//! - [`features`]: resources, prompts, completions; [`catalog`]: what the server offers
//!   (built with [`Catalog::build`], defined in [`conformance`] with that suite's fixtures).
//! - [`tools`]: the tool registry and the shipped tools.
//! - [`input`]: asking the user or the client's model for input (elicitation, sampling,
//!   roots) in both protocol generations.

pub mod account;
pub mod catalog;
pub mod conformance;
pub mod content;
pub(crate) mod context;
pub(crate) mod cursor;
pub mod endpoint;
pub mod features;
pub mod input;
pub mod jsonrpc;
pub mod notes;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod server;
pub mod session;
pub mod session_store;
pub mod tools;
pub mod transport;

pub use catalog::Catalog;
pub use endpoint::{endpoint, Answered, Served};
pub use server::handle;
pub use session::Session;
pub use tools::{Tool, ToolCall, ToolEnv, ToolOutput, ToolRegistry};
pub use transport::{
    check_origin, Endpoint, HeaderSource, InputWork, McpOutcome, McpRequest, SessionChange,
};

/// docs/mcp.md, so that its Rust examples ("Add your own tool, resource or prompt") are
/// compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/mcp.md")]
pub struct McpGuide;
