//! The OAuth 2.1 authorization server, pure: no `worker` types.

pub mod error;
pub mod metadata;
pub mod pkce;
pub mod redirect;
pub mod register;
pub mod crypto;
pub mod grant;
pub mod authorize;
pub mod token;
pub mod resource;
