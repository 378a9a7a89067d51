//! A grant's life, as one state machine that a Durable Object per grant runs
//! one command at a time: consent → upstream sign-in → authorization code →
//! tokens → rotations → revocation.
//!
//! Serializing every command of a grant in one place is what makes the
//! guarantees hold (RFC 6749 §4.1.2 and §10.5, OAuth 2.1 §4.3.1 and §4.1.3):
//! - an authorization code is redeemed at most once, however many requests race;
//!   a second redemption revokes the tokens the first one got;
//! - a refresh token rotates exactly once; a retry with the same token within
//!   [`REFRESH_GRACE_SECS`] gets the *same* new pair (lost responses are common);
//!   presenting a spent refresh token after that is treated as theft and revokes
//!   the grant;
//! - the upstream provider's tokens are refreshed inside the same serialization,
//!   so one upstream refresh token is never spent twice.
//!
//! The files, by concern:
//! - [`codes`]: consent, the upstream state, the authorization code;
//! - [`rotation`]: refresh-token rotation and theft detection;
//! - [`revoke`]: ending a grant;
//! - [`access`]: the access-token record `/mcp` reads, and its checks;
//! - [`inspect`]: read-only status and token introspection;
//! - [`command`]: the commands sent to a grant's object and their answers;
//! - [`object`]: the object itself, over abstract storage: the single-flight
//!   gate, durable effects, the upstream refresh;
//! - `state.rs`: the stored state, steps and effects, errors, token shapes,
//!   shared by all of the above.
//!
//! Everything but [`object`] is pure: it takes the stored state and returns the
//! new state, the answer, and the KV writes the caller must make ([`Effect`]).

pub mod access;
pub mod codes;
pub mod command;
pub mod inspect;
pub mod object;
pub mod revoke;
pub mod rotation;
mod state;

pub use access::{authenticate, AccessError, AccessRecord};
pub use codes::{grant_of_state, CodeRedemption, TakenState};
pub use rotation::RefreshRequest;
pub use state::*;
