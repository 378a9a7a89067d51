//! The authorization server's endpoints as whole flows: plain inputs in, a
//! [`Reply`](crate::http::Reply) out, over a [`Store`](crate::oauth::store::Store),
//! the clock and randomness. The Cloudflare shell only reads the request into a
//! [`Site`](crate::oauth::site::Site) and sends the reply back.
//!
//! - [`authorize`]: `GET /authorize` (RFC 6749 §4.1.1, RFC 9700 §4.11.2), and
//!   [`consent`]: `POST /authorize`, the consent page's answer (`consent.rs`);
//! - [`callback`]: `GET /callback`, the upstream provider's answer, and
//!   [`dev_login`]: the development provider's sign-in page (`sign_in.rs`);
//! - [`register`]: `POST /register` (RFC 7591 §3, `registration.rs`);
//! - [`token`]: `POST /token` (RFC 6749 §3.2), and [`revoke`]: `POST /revoke`
//!   (RFC 7009) (`client_endpoints.rs`).
//!
//! Where errors go (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2): before the person in
//! the browser has done anything on our pages, every error is shown on our own
//! page and never redirected, so a registered client cannot turn `/authorize`
//! into an open redirector. After they answered the consent page or came back
//! from the identity provider, errors go back to the client with `error`,
//! `state` and `iss` (RFC 9207).

mod client_endpoints;
mod consent;
mod registration;
mod sign_in;

pub use client_endpoints::{revoke, token};
pub use consent::{authorize, consent};
pub use registration::register;
pub use sign_in::{callback, dev_login};
