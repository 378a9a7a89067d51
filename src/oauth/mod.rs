//! The OAuth 2.1 authorization server, pure: no `worker` types.

pub mod account;
pub mod admin;
pub mod authorize;
pub mod cimd;
pub mod client_auth;
pub mod connections;
pub mod crypto;
pub mod error;
pub mod flow;
pub mod grant;
pub mod index;
pub mod introspect;
pub mod kv;
pub mod metadata;
pub mod pkce;
pub mod policy;
pub mod redirect;
pub mod register;
pub mod registrar;
pub mod resource;
pub mod site;
pub mod store;
pub mod token;
pub mod types;
pub mod view;
