//! A registered client: its stored record ([`Client`], RFC 7591 §2 metadata
//! as registered), the registration's outcome and response (RFC 7591 §3.2.1),
//! and the storage rules of registration.
//!
//! Storage (so open registration cannot grow storage or spend the KV write
//! budget without bound):
//! - A **public** registration (`none`) gets a `client_id` derived from the
//!   registration itself, `HMAC(SECRET_KEY, canonical metadata)` ([`public_client_id`]).
//!   The same body registered again finds the stored record with one KV read
//!   and returns it unchanged (same `client_id`, same `client_id_issued_at`)
//!   without a write. MCP clients such as Claude register again on every
//!   connection, so this is the common case. A `client_id` of a public client
//!   is not a credential, and two registrations with the same redirect URIs and
//!   metadata are indistinguishable to us anyway.
//! - **Renewal happens at registration.** A re-registration that finds its
//!   client in the second half of its lifetime (`CLIENT_TTL`) writes the record
//!   back with a fresh lifetime: that is the registration's one write. Renewing
//!   on use at `/token` would be a second KV write per code redemption or
//!   refresh, and `/authorize`, `/callback` and `/mcp` write nothing, so those
//!   are not the place. A client whose registration expired gets `401
//!   invalid_client` at `/token` and registers again; a public client then gets
//!   the same `client_id` back, so its grants keep working.
//! - A **confidential** registration always creates a new client with a new
//!   secret (one write): a secret is shown once and cannot be handed out again.
//!   It expires at `client_secret_expires_at` and is not renewed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::request::{GrantType, ResponseType, TokenEndpointAuthMethod, ValidatedRegistration};
use crate::oauth::redirect::RedirectUri;
use crate::oauth::types::ClientSecret;

/// A registered client, as stored (JSON) under its `client_id`.
///
/// The secret itself is never stored, only its SHA-256: a secret is 256 random
/// bits, so a fast hash is enough, and a storage dump does not yield credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    /// Lowercase hex SHA-256 of the client secret; `None` for public clients.
    pub client_secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; 0 means never (the RFC 7591 §3.2.1 convention).
    pub expires_at: u64,
}

impl Client {
    /// The record for a new registration. `ttl_secs == 0` makes a client that
    /// never expires. A secret hash given for a public client is dropped: such a
    /// client never authenticates, and a stray hash would make it look confidential.
    pub fn from_registration(
        validated: ValidatedRegistration,
        client_id: String,
        secret_hash: Option<String>,
        now: u64,
        ttl_secs: u64,
    ) -> Client {
        let public = validated.is_public();
        Client {
            client_id,
            client_secret_hash: if public { None } else { secret_hash },
            redirect_uris: validated
                .redirect_uris
                .into_iter()
                .map(RedirectUri::into_string)
                .collect(),
            client_name: validated.client_name,
            client_uri: validated.client_uri,
            logo_uri: validated.logo_uri,
            tos_uri: validated.tos_uri,
            policy_uri: validated.policy_uri,
            token_endpoint_auth_method: validated.token_endpoint_auth_method,
            grant_types: validated.grant_types,
            response_types: validated.response_types,
            scope: validated.scope,
            software_id: validated.software_id,
            software_version: validated.software_version,
            created_at: now,
            expires_at: if ttl_secs == 0 {
                0
            } else {
                now.saturating_add(ttl_secs)
            },
        }
    }

    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }

    /// Whether `presented` is this client's secret, compared in constant time.
    /// A client without a stored hash has no secret that could match.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.client_secret_hash {
            Some(stored) => {
                let presented = client_secret_hash(presented);
                presented.as_bytes().ct_eq(stored.as_bytes()).into()
            }
            None => false,
        }
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The `client_id` of a public registration: derived from every metadata
/// value as validated (so two bodies that differ only in spelling the server
/// normalizes, such as a duplicated redirect URI, share a client), under the
/// server's key. 22 base64url characters, like a random id.
pub fn public_client_id(validated: &ValidatedRegistration, server_secret: &str) -> String {
    crate::oauth::crypto::keyed_id(
        server_secret,
        "public-client-v1",
        canonical_metadata(validated).as_bytes(),
    )
}

/// The key public client ids are derived with: stable across `SECRET_KEY`
/// rotations (a public client id is no secret: anyone who registers the same
/// metadata gets it), distinct per deployment (its issuer).
pub fn stable_id_key(issuer: &str) -> String {
    format!("public-client-ids\n{issuer}")
}

/// Every registered value in a fixed order, as one JSON array.
fn canonical_metadata(v: &ValidatedRegistration) -> String {
    let uris: Vec<&str> = v.redirect_uris.iter().map(RedirectUri::as_str).collect();
    let grants: Vec<&str> = v.grant_types.iter().map(|g| g.as_str()).collect();
    let responses: Vec<&str> = v.response_types.iter().map(|r| r.as_str()).collect();
    serde_json::json!([
        uris,
        v.token_endpoint_auth_method.as_str(),
        grants,
        responses,
        v.client_name,
        v.client_uri,
        v.logo_uri,
        v.tos_uri,
        v.policy_uri,
        v.scope,
        v.software_id,
        v.software_version,
    ])
    .to_string()
}

/// The outcome of a registration: the client to answer with, the secret to show
/// (confidential clients, once), and whether its record must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub client: Client,
    /// Shown once, in the response; its `Debug` prints `[redacted]`.
    pub secret: Option<ClientSecret>,
    /// `true`: store `client` (a new client, or a renewal). `false`: it is stored
    /// already and nothing is written.
    pub write: bool,
}

impl Registered {
    /// The RFC 7591 §3.2.1 response body.
    pub fn response(&self) -> Value {
        registration_response(&self.client, self.secret.as_ref().map(ClientSecret::secret))
    }
}

/// A public registration, given what storage holds under its derived id
/// ([`public_client_id`]). Returns the stored client unchanged when it is the
/// same registration in the first half of its lifetime; renews it in the
/// second half; creates it otherwise (nothing stored, expired, or a record
/// that is not this registration).
pub fn register_public(
    validated: ValidatedRegistration,
    client_id: String,
    stored: Option<Client>,
    now: u64,
    ttl_secs: u64,
) -> Registered {
    let fresh = Client::from_registration(validated, client_id, None, now, ttl_secs);
    let (client, write) = match stored {
        Some(existing) if existing.same_registration(&fresh) && !existing.is_expired(now) => {
            if existing.in_second_half(now, ttl_secs) {
                let mut renewed = existing;
                renewed.expires_at = fresh.expires_at;
                (renewed, true)
            } else {
                (existing, false)
            }
        }
        _ => (fresh, true),
    };
    Registered {
        client,
        secret: None,
        write,
    }
}

/// A confidential registration: always a new client (random id) and secret.
pub fn register_confidential(
    validated: ValidatedRegistration,
    client_id: String,
    secret: String,
    now: u64,
    ttl_secs: u64,
) -> Registered {
    let hash = client_secret_hash(&secret);
    Registered {
        client: Client::from_registration(validated, client_id, Some(hash), now, ttl_secs),
        secret: Some(ClientSecret::new(secret)),
        write: true,
    }
}

impl Client {
    /// Whether `other` registered exactly the same metadata (ids, secrets and
    /// times aside).
    pub fn same_registration(&self, other: &Client) -> bool {
        let strip = |c: &Client| Client {
            client_id: String::new(),
            client_secret_hash: None,
            created_at: 0,
            expires_at: 0,
            ..c.clone()
        };
        self.client_secret_hash.is_none()
            && other.client_secret_hash.is_none()
            && strip(self) == strip(other)
    }

    /// Whether less than half of a `ttl_secs` lifetime is left (never, for a
    /// client that does not expire).
    pub fn in_second_half(&self, now: u64, ttl_secs: u64) -> bool {
        self.expires_at != 0 && self.expires_at.saturating_sub(now) < ttl_secs / 2
    }
}

/// Lowercase hex SHA-256 of a client secret, the form [`Client`] stores.
pub fn client_secret_hash(secret: &str) -> String {
    crate::oauth::crypto::hash_token(secret)
}

/// The body of a successful registration (RFC 7591 §3.2.1): the issued
/// credentials and every metadata value as registered, including the defaults
/// and replacements the server applied.
pub fn registration_response(client: &Client, client_secret: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("client_id".into(), client.client_id.clone().into());
    out.insert("client_id_issued_at".into(), client.created_at.into());
    if let Some(secret) = client_secret {
        out.insert("client_secret".into(), secret.into());
        // REQUIRED whenever a secret is issued; 0 means it does not expire.
        out.insert("client_secret_expires_at".into(), client.expires_at.into());
    }
    out.insert(
        "redirect_uris".into(),
        client
            .redirect_uris
            .iter()
            .map(|u| Value::from(u.as_str()))
            .collect(),
    );
    out.insert(
        "token_endpoint_auth_method".into(),
        client.token_endpoint_auth_method.as_str().into(),
    );
    out.insert(
        "grant_types".into(),
        client
            .grant_types
            .iter()
            .map(|g| Value::from(g.as_str()))
            .collect(),
    );
    out.insert(
        "response_types".into(),
        client
            .response_types
            .iter()
            .map(|r| Value::from(r.as_str()))
            .collect(),
    );
    let optional = [
        ("client_name", &client.client_name),
        ("client_uri", &client.client_uri),
        ("logo_uri", &client.logo_uri),
        ("tos_uri", &client.tos_uri),
        ("policy_uri", &client.policy_uri),
        ("scope", &client.scope),
        ("software_id", &client.software_id),
        ("software_version", &client.software_version),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            out.insert(name.into(), value.as_str().into());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_is_lowercase_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 Appendix B.1.
        assert_eq!(
            client_secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_registration_outcome_never_prints_its_secret() {
        let request = super::super::request::RegistrationRequest {
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            ..Default::default()
        };
        let validated = super::super::request::validate(request).unwrap();
        let registered =
            register_confidential(validated, "id".into(), "very-secret-value".into(), 0, 60);
        let printed = format!("{registered:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
        assert_eq!(
            registered.response()["client_secret"],
            serde_json::json!("very-secret-value")
        );
    }
}
