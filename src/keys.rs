//! Every name this Worker stores something under, in one place: the keys of
//! Workers KV (`OAUTH_KV`) and the names of Durable Objects. docs/storage-schema.md
//! describes each one. (The keys inside one object's own storage, such as a
//! grant object's `grant` value, are that object's business and stay with it.)
//!
//! Grant ids and session ids have no `:`, so no grant object can take the
//! name of an index object, and no KV kind can be mistaken for another.

// ---------------------------------------------------------------------------
// Workers KV

const CLIENT_PREFIX: &str = "client:";

/// A registered client: `client:<client_id>`.
pub fn client(client_id: &str) -> String {
    format!("{CLIENT_PREFIX}{client_id}")
}

/// Whether a KV key is a registered client's ([`client`]).
pub fn is_client(key: &str) -> bool {
    key.starts_with(CLIENT_PREFIX)
}

/// The prefix every registered client's key starts with, for listing them.
pub fn clients() -> &'static str {
    CLIENT_PREFIX
}

/// The operator's block list (`oauth::policy::BlockList`): `policy:blocked`.
pub fn blocks() -> String {
    "policy:blocked".to_owned()
}

/// The record behind an access token: `access:<sha256(token) hex>`.
pub fn access(token_hash: &str) -> String {
    format!("access:{token_hash}")
}

// ---------------------------------------------------------------------------
// Durable Objects

/// The object (class `GrantObject`, binding `GRANTS`) that serializes a
/// grant: named by the grant id itself.
pub fn grant(grant_id: &str) -> &str {
    grant_id
}

/// A user's grant index (an object of the `GrantObject` class): `user:<id>`.
pub fn user_index(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// A client's grant index (an object of the `GrantObject` class): `client:<id>`.
pub fn client_index(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// An MCP session's object (binding `MCP_SESSION`): the user's stable id and
/// the session id, so a session id alone names nothing.
pub fn session(user_id: &str, session_id: &str) -> String {
    format!("{user_id}\n{session_id}")
}

/// The replay register of one `private_key_jwt` assertion (binding
/// `ASSERTIONS`): a hash of the client and the assertion's `jti`.
pub fn assertion_replay(client_id: &str, jti: &str) -> String {
    crate::oauth::crypto::hash_token(&format!("{client_id}\n{jti}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_do_not_overlap() {
        assert_eq!(client("abc"), "client:abc");
        assert!(is_client(&client("abc")));
        assert!(!is_client(&access("abc")));
        assert!(!is_client(&blocks()));
        assert_ne!(user_index("x"), client_index("x"));
        assert_eq!(session("github:1", "s"), "github:1\ns");
    }
}
