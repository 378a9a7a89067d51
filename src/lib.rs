//! A remote MCP server behind OAuth 2.1, as one Cloudflare Worker.
//!
//! The protocol logic is plain Rust that never names a `worker` type (`config`, `isolate`,
//! `http`, `routes`, `oauth`, `mcp`, `upstream`, `web`), so native `cargo test`
//! covers it. `cloudflare` is the thin shell around it, built only for wasm32.

pub mod cache;
pub mod challenge;
pub mod config;
pub mod http;
pub mod idn;
pub mod isolate;
pub mod keys;
pub mod mcp;
pub mod oauth;
pub mod outbound;
pub mod ratelimit;
pub mod routes;
pub mod secret;
pub mod upstream;
pub mod uri;
pub mod urls;
pub mod user;
pub mod web;

#[cfg(target_arch = "wasm32")]
mod cloudflare;
