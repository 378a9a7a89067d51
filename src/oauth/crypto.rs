//! Secrets at rest: token generation and hashing, the per-grant key and how each
//! token wraps it, AES-256-GCM sealing, and HMAC-signed values for cookies.
//!
//! The scheme (docs/storage-schema.md):
//! - every token is 32 random bytes; storage keeps only `SHA-256(token)`;
//! - each grant has its own random 256-bit key `K` that encrypts its props
//!   (the user and the upstream tokens);
//! - `K` is stored only wrapped: sealed under `HMAC-SHA256(SECRET_KEY, token)`
//!   for each live token. Unwrapping needs the token itself (which storage never
//!   holds) *and* the Worker's secret, so neither a KV dump nor a dump plus a
//!   leaked `SECRET_KEY` reveals an upstream token.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A failure of the platform's randomness or of decryption. Both are opaque on
/// purpose: the caller treats them as "token not valid" or as an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("no randomness available")]
    Randomness,
    #[error("sealed value is malformed or was not sealed with this key")]
    Open,
}

/// A source of randomness, injected so tests can replay.
pub trait Entropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError>;
}

/// The platform's randomness (`crypto.getRandomValues` inside workerd).
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        getrandom::fill(buf).map_err(|_| CryptoError::Randomness)
    }
}

pub fn random_bytes<const N: usize>(rng: &dyn Entropy) -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    rng.fill(&mut out)?;
    Ok(out)
}

/// 32 random bytes, base64url: 256 bits of entropy in 43 characters.
pub fn random_secret(rng: &dyn Entropy) -> Result<String, CryptoError> {
    Ok(b64(&random_bytes::<32>(rng)?))
}

/// A short random identifier (128 bits), base64url.
pub fn random_id(rng: &dyn Entropy) -> Result<String, CryptoError> {
    Ok(b64(&random_bytes::<16>(rng)?))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// How a token is found in storage: lowercase hex SHA-256.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Constant-time equality of two strings (length may leak, content does not).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only fails for fixed-size-key MACs, which HMAC is not.
    panic!("HMAC rejected a key")
}

/// A value derived from `SECRET_KEY` for `label` and `input`:
/// `HMAC(SECRET_KEY, label, input)`. Lets a flow recompute a secret (the
/// account sign-in's PKCE verifier) instead of storing it.
pub fn derive(server_secret: &str, label: &str, input: &str) -> [u8; 32] {
    hmac(
        server_secret.as_bytes(),
        &[b"derive", label.as_bytes(), input.as_bytes()],
    )
}

/// The key that wraps a grant's key for one token: `HMAC(SECRET_KEY, "wrap", token)`.
pub fn wrapping_key(server_secret: &str, token: &str) -> [u8; 32] {
    hmac(server_secret.as_bytes(), &[b"wrap", token.as_bytes()])
}

/// What a sealed value is for. It is part of the associated data of every
/// seal, so a value sealed for one purpose never opens as another, even under
/// the same key and context.
pub mod purpose {
    /// A grant's props, sealed with the grant key; context: the grant id.
    pub const PROPS: &str = "props";
    /// The pair issued for a just-spent refresh token; context: the grant id.
    pub const REPLAY: &str = "replay";
    /// The grant key wrapped by an authorization code; context: the grant id.
    pub const WRAP_CODE: &str = "wrap:code";
    /// The grant key wrapped by a refresh token; context: the grant id.
    pub const WRAP_REFRESH: &str = "wrap:refresh";
    /// The grant key wrapped by an access token; context: the record's binding.
    pub const WRAP_ACCESS: &str = "wrap:access";
}

fn aad(purpose: &str, context: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(purpose.len() + 1 + context.len());
    out.extend_from_slice(purpose.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(context.as_bytes());
    out
}

/// Encrypts `plaintext` with AES-256-GCM under `key`. The associated data is
/// `purpose`, a newline and `context` (for example the grant id, so a sealed
/// value cannot be moved to another grant or used as another kind of value).
/// Output: base64url(nonce || ciphertext || tag).
pub fn seal(
    key: &[u8; 32],
    plaintext: &[u8],
    purpose: &str,
    context: &str,
    rng: &dyn Entropy,
) -> Result<String, CryptoError> {
    let nonce = random_bytes::<12>(rng)?;
    let cipher = Aes256Gcm::new(key.into());
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad(purpose, context),
            },
        )
        .map_err(|_| CryptoError::Open)?;
    let mut out = Vec::with_capacity(12 + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(b64(&out))
}

/// Reverses [`seal`]; any tampering, wrong key, purpose or context is [`CryptoError::Open`].
pub fn open(
    key: &[u8; 32],
    sealed: &str,
    purpose: &str,
    context: &str,
) -> Result<Vec<u8>, CryptoError> {
    let raw = unb64(sealed).ok_or(CryptoError::Open)?;
    if raw.len() < 12 + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce, ciphertext) = raw.split_at(12);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad(purpose, context),
            },
        )
        .map_err(|_| CryptoError::Open)
}

/// The server's secrets: the current `SECRET_KEY`, and during a rotation the
/// previous one (`SECRET_KEY_PREVIOUS`). New values are always made with the
/// current key; values made with either key are accepted, so rotating the key
/// signs nobody out. A value no key opens is simply not valid.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    previous: Option<String>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring([redacted])")
    }
}

impl Keyring {
    pub fn new(current: &str, previous: Option<&str>) -> Keyring {
        Keyring {
            current: current.to_owned(),
            previous: previous.map(str::to_owned),
        }
    }

    /// The key new values are made with.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// Every key held: the current one, then the previous one.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.as_str()).chain(self.previous.as_deref())
    }

    /// A MAC of `input` for `label` with the current key (base64url).
    pub fn mac(&self, label: &str, input: &str) -> String {
        b64(&derive(&self.current, label, input))
    }

    /// Whether `tag` is the MAC of `input` for `label` under any of the keys.
    pub fn mac_holds(&self, label: &str, input: &str, tag: &str) -> bool {
        self.all()
            .any(|k| ct_eq(&b64(&derive(k, label, input)), tag))
    }

    /// Signs `payload` for `purpose` with the current key (see [`sign`]).
    pub fn sign(&self, purpose: &str, payload: &[u8]) -> String {
        sign(&self.current, purpose, payload)
    }

    /// Checks a value signed with any of the keys.
    pub fn verify(&self, purpose: &str, signed: &str) -> Option<Vec<u8>> {
        self.all().find_map(|k| verify_signed(k, purpose, signed))
    }

    /// Seals `plaintext` under a key only the holder of `token` can derive.
    pub fn seal_for_token(
        &self,
        token: &str,
        plaintext: &[u8],
        purpose: &str,
        context: &str,
        rng: &dyn Entropy,
    ) -> Result<String, CryptoError> {
        seal(
            &wrapping_key(&self.current, token),
            plaintext,
            purpose,
            context,
            rng,
        )
    }

    /// Opens what [`Keyring::seal_for_token`] sealed, under any of the keys.
    pub fn open_for_token(
        &self,
        token: &str,
        sealed: &str,
        purpose: &str,
        context: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.all()
            .find_map(|k| open(&wrapping_key(k, token), sealed, purpose, context).ok())
            .ok_or(CryptoError::Open)
    }

    /// Seals a value only this server can open (for example the 2026-07-28 MCP
    /// `requestState`), under a key derived from the current `SECRET_KEY` for `purpose`,
    /// bound to `context`.
    pub fn seal_value(
        &self,
        plaintext: &[u8],
        purpose: &str,
        context: &str,
        rng: &dyn Entropy,
    ) -> Result<String, CryptoError> {
        let key = derive(&self.current, "seal", purpose);
        seal(&key, plaintext, purpose, context, rng)
    }

    /// Opens what [`Keyring::seal_value`] sealed, under any of the keys.
    pub fn open_value(
        &self,
        sealed: &str,
        purpose: &str,
        context: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.all()
            .find_map(|k| open(&derive(k, "seal", purpose), sealed, purpose, context).ok())
            .ok_or(CryptoError::Open)
    }

    /// Seals a grant key `K` for one token.
    pub fn wrap_key(
        &self,
        token: &str,
        grant_key: &[u8; 32],
        purpose: &str,
        context: &str,
        rng: &dyn Entropy,
    ) -> Result<String, CryptoError> {
        self.seal_for_token(token, grant_key, purpose, context, rng)
    }

    /// Recovers a grant key `K` with the token that wrapped it.
    pub fn unwrap_key(
        &self,
        token: &str,
        wrapped: &str,
        purpose: &str,
        context: &str,
    ) -> Result<[u8; 32], CryptoError> {
        self.open_for_token(token, wrapped, purpose, context)?
            .try_into()
            .map_err(|_| CryptoError::Open)
    }
}

/// A stable identifier derived from `data`: base64url of the first 128 bits of
/// `HMAC(SECRET_KEY, purpose, data)`. Without the server's key nobody can
/// compute it, and the same data always gives the same identifier.
pub fn keyed_id(server_secret: &str, purpose: &str, data: &[u8]) -> String {
    let mac = hmac(server_secret.as_bytes(), &[purpose.as_bytes(), data]);
    b64(&mac[..16])
}

/// Signs `payload` for `purpose` (so a value signed for one cookie is never valid
/// as another): `base64url(payload).base64url(HMAC)`.
pub fn sign(server_secret: &str, purpose: &str, payload: &[u8]) -> String {
    let body = b64(payload);
    let tag = hmac(
        server_secret.as_bytes(),
        &[b"sign", purpose.as_bytes(), body.as_bytes()],
    );
    format!("{body}.{}", b64(&tag))
}

/// Checks a value made by [`sign`] and returns its payload.
pub fn verify_signed(server_secret: &str, purpose: &str, signed: &str) -> Option<Vec<u8>> {
    let (body, tag) = signed.split_once('.')?;
    let expected = hmac(
        server_secret.as_bytes(),
        &[b"sign", purpose.as_bytes(), body.as_bytes()],
    );
    let tag = unb64(tag)?;
    if tag.len() != expected.len() || !bool::from(tag.ct_eq(&expected)) {
        return None;
    }
    unb64(body)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    /// Deterministic "randomness" for tests: a counter.
    pub struct CountingEntropy(pub Cell<u8>);

    impl Entropy for CountingEntropy {
        fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
            for b in buf.iter_mut() {
                *b = self.0.get();
                self.0.set(self.0.get().wrapping_add(1));
            }
            Ok(())
        }
    }

    const SECRET: &str = "server-secret-0123456789abcdef-0123";

    #[test]
    fn token_hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_aad() {
        let rng = CountingEntropy(Cell::new(0));
        let key = [7u8; 32];
        let sealed = seal(&key, b"upstream-token", "props", "grant-1", &rng).unwrap();
        assert!(!sealed.contains("upstream-token"));
        assert_eq!(
            open(&key, &sealed, "props", "grant-1").unwrap(),
            b"upstream-token"
        );
        assert_eq!(
            open(&[8u8; 32], &sealed, "props", "grant-1"),
            Err(CryptoError::Open)
        );
        assert_eq!(
            open(&key, &sealed, "props", "grant-2"),
            Err(CryptoError::Open)
        );
        // The purpose label is bound too: a value sealed as props is no replay.
        assert_eq!(
            open(&key, &sealed, "replay", "grant-1"),
            Err(CryptoError::Open)
        );
        let mut tampered = unb64(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            open(&key, &b64(&tampered), "props", "grant-1"),
            Err(CryptoError::Open)
        );
        assert_eq!(
            open(&key, "not base64!", "props", "grant-1"),
            Err(CryptoError::Open)
        );
        assert_eq!(open(&key, "", "props", "grant-1"), Err(CryptoError::Open));
    }

    #[test]
    fn sealed_server_values_open_under_either_key_of_a_rotation_and_nowhere_else() {
        let rng = CountingEntropy(Cell::new(0));
        let old = Keyring::new(SECRET, None);
        let sealed = old
            .seal_value(b"state", "mcp:request-state", "u1", &rng)
            .unwrap();
        assert_eq!(
            old.open_value(&sealed, "mcp:request-state", "u1").unwrap(),
            b"state"
        );
        let rotated = Keyring::new("another-secret-0123456789abcdef-01", Some(SECRET));
        assert_eq!(
            rotated
                .open_value(&sealed, "mcp:request-state", "u1")
                .unwrap(),
            b"state"
        );
        let stranger = Keyring::new("another-secret-0123456789abcdef-01", None);
        assert!(stranger
            .open_value(&sealed, "mcp:request-state", "u1")
            .is_err());
        assert!(old.open_value(&sealed, "mcp:request-state", "u2").is_err());
        assert!(old.open_value(&sealed, "props", "u1").is_err());
    }

    #[test]
    fn a_grant_key_unwraps_only_with_its_token_and_the_server_secret() {
        let rng = CountingEntropy(Cell::new(0));
        let k = [42u8; 32];
        let ring = Keyring::new(SECRET, None);
        let wrapped = ring
            .wrap_key("token-a", &k, "wrap:code", "g1", &rng)
            .unwrap();
        assert_eq!(
            ring.unwrap_key("token-a", &wrapped, "wrap:code", "g1")
                .unwrap(),
            k
        );
        assert!(ring
            .unwrap_key("token-b", &wrapped, "wrap:code", "g1")
            .is_err());
        assert!(ring
            .unwrap_key("token-a", &wrapped, "wrap:refresh", "g1")
            .is_err());
        assert!(ring
            .unwrap_key("token-a", &wrapped, "wrap:code", "g2")
            .is_err());
        let other = Keyring::new("another-secret-0123456789abcdef-xyz", None);
        assert!(other
            .unwrap_key("token-a", &wrapped, "wrap:code", "g1")
            .is_err());
    }

    #[test]
    fn a_rotated_keyring_opens_what_the_previous_key_made() {
        let rng = CountingEntropy(Cell::new(0));
        let k = [9u8; 32];
        let old = Keyring::new(SECRET, None);
        let wrapped = old.wrap_key("tok", &k, "wrap:refresh", "g", &rng).unwrap();
        let signed = old.sign("approvals", b"[]");
        let rotated = Keyring::new("new-secret-0123456789abcdef-0123456", Some(SECRET));
        assert_eq!(
            rotated
                .unwrap_key("tok", &wrapped, "wrap:refresh", "g")
                .unwrap(),
            k
        );
        assert_eq!(rotated.verify("approvals", &signed).unwrap(), b"[]");
        // New values are made with the new key only.
        let fresh = rotated
            .wrap_key("tok", &k, "wrap:refresh", "g", &rng)
            .unwrap();
        assert!(old.unwrap_key("tok", &fresh, "wrap:refresh", "g").is_err());
        // Once the previous key is dropped, its values are invalid, not an error.
        let after = Keyring::new("new-secret-0123456789abcdef-0123456", None);
        assert!(after
            .unwrap_key("tok", &wrapped, "wrap:refresh", "g")
            .is_err());
        assert!(after.verify("approvals", &signed).is_none());
    }

    #[test]
    fn signatures_are_bound_to_their_purpose_and_content() {
        let s = sign(SECRET, "csrf", b"hello");
        assert_eq!(verify_signed(SECRET, "csrf", &s).unwrap(), b"hello");
        assert!(verify_signed(SECRET, "approval", &s).is_none());
        assert!(verify_signed("other-secret-0123456789abcdef-0123456", "csrf", &s).is_none());
        let (body, tag) = s.split_once('.').unwrap();
        let forged = format!("{}.{tag}", b64(b"hellO"));
        assert!(verify_signed(SECRET, "csrf", &forged).is_none());
        assert!(verify_signed(SECRET, "csrf", body).is_none());
        assert!(verify_signed(SECRET, "csrf", "").is_none());
    }

    #[test]
    fn random_secrets_are_43_url_safe_characters() {
        let s = random_secret(&OsEntropy).unwrap();
        assert_eq!(s.len(), 43);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(s, random_secret(&OsEntropy).unwrap());
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}
