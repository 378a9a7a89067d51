//! Dynamic Client Registration (RFC 7591) and the registered client.
//!
//! - `request.rs`: the request (§3.1), client metadata and its defaults (§2,
//!   the `grant_types`/`response_types` rule of §2.1), the errors (§3.2.2);
//! - `client.rs`: the stored [`Client`], derived public client ids, what a
//!   registration writes, and the response (§3.2.1).
//!
//! RFC 7592 (client management) is not implemented, so responses carry no
//! `registration_client_uri` or `registration_access_token`: a client that sees
//! them will try to use them.

mod client;
mod request;

pub use client::{
    client_secret_hash, public_client_id, register_confidential, register_public,
    registration_response, stable_id_key, Client, Registered,
};
pub use request::{
    validate, GrantType, RegistrationRequest, ResponseType, TokenEndpointAuthMethod,
    ValidatedRegistration, MAX_METADATA_URI_LEN, MAX_NAME_LEN, MAX_REDIRECT_URIS,
    MAX_REGISTRATION_BODY,
};
