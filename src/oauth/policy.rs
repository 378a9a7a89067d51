//! Who may connect: the operator's admission policy for clients.
//!
//! - `CLIENT_POLICY=open` (default): every client that registers (DCR) or
//!   publishes a valid metadata document (CIMD) may ask people to connect it.
//! - `CLIENT_POLICY=listed`: a metadata-document client must match an entry of
//!   `ALLOWED_CLIENTS` ([`ClientPattern`]). Registered clients are not listed:
//!   their ids are ours, not an identity the client proves; the operator closes
//!   that door with `REGISTRATION=off` and creates the clients it wants through
//!   `POST /admin/clients`.
//! - `REGISTRATION=off`: `POST /register` is refused and the metadata stops
//!   advertising it.
//! - The block list ([`BlockList`], one KV value, edited through the admin API)
//!   names a client id, a document URL or a document host. A public DCR client's
//!   id is derived from its metadata, so registering the same metadata again
//!   gives the same, still blocked, id: the block survives re-registration.
//!
//! Every refusal is shown on our own page ([`refusal_page`]), never redirected
//! (a client that uses a metadata document does not fall back to anything, so
//! the person must learn why), and logged once with the client id.

use serde_json::{json, Value};

use crate::http::{Fault, HttpError, Reply};
use crate::keys;
use crate::oauth::kv::Kv;

/// `CLIENT_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPolicy {
    Open,
    Listed,
}

impl ClientPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientPolicy::Open => "open",
            ClientPolicy::Listed => "listed",
        }
    }
}

/// One entry of `ALLOWED_CLIENTS`.
///
/// - an exact `client_id` URL (`https://claude.ai/oauth/claude-code-client-metadata`),
///   compared byte for byte;
/// - a prefix ending in `/*` (`https://chatgpt.com/oauth/*`): the same host and
///   port, and a path that starts with everything before the `*` (so it ends at
///   a `/`: `/oauth/*` does not admit `/oauthx`);
/// - a host pattern whose first label is `*` (`https://*.example.com/*`): any
///   host with at least one more label in front of `example.com`, never
///   `example.com` itself. The suffix must have two labels at least, so a
///   pattern can never admit a whole top-level domain, let alone every host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPattern {
    Exact(String),
    Prefix {
        /// Lowercase host, or the suffix after `*.` when `any_subdomain`.
        host: String,
        any_subdomain: bool,
        port: Option<u16>,
        /// Ends with `/`.
        path_prefix: String,
    },
}

impl ClientPattern {
    /// Parses one entry; `Err` says what is wrong with it.
    pub fn parse(raw: &str) -> Result<ClientPattern, String> {
        let raw = raw.trim();
        if raw == "*" || raw.is_empty() {
            return Err(format!(
                "'{raw}' would allow every client; list client_id URLs or patterns such as https://chatgpt.com/oauth/*"
            ));
        }
        if !raw.contains('*') {
            crate::oauth::cimd::check_client_id_url(raw).map_err(|e| format!("'{raw}': {e}"))?;
            return Ok(ClientPattern::Exact(raw.to_owned()));
        }
        let refuse = |why: &str| Err(format!("'{raw}': {why}"));
        let Some(rest) = raw.strip_prefix("https://") else {
            return refuse("a pattern must start with https://");
        };
        let Some((authority, path)) = rest.split_once('/') else {
            return refuse(
                "a pattern must end with /* after the host, as in https://chatgpt.com/oauth/*",
            );
        };
        let path = format!("/{path}");
        let Some(path_prefix) = path.strip_suffix('*') else {
            return refuse("'*' may stand only at the end of the path, after a '/'");
        };
        if !path_prefix.ends_with('/') || path_prefix.contains(['*', '?', '#']) {
            return refuse("'*' may stand only at the end of the path, after a '/'");
        }
        if path_prefix.split('/').any(|s| s == "." || s == "..") {
            return refuse("the path must not contain '.' or '..' segments");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(port) => (h, Some(port)),
                Err(_) => return refuse("the port is not a number"),
            },
            None => (authority, None),
        };
        if host.contains('@') {
            return refuse("a pattern must not contain user information");
        }
        let host = host.to_ascii_lowercase();
        let (host, any_subdomain) = match host.strip_prefix("*.") {
            Some(suffix) => (suffix.to_owned(), true),
            None => (host, false),
        };
        if host.is_empty() || host == "*" {
            return refuse("this pattern would allow every host");
        }
        if host.contains('*') {
            return refuse(
                "'*' may only be the whole first label of the host, as in https://*.example.com/*",
            );
        }
        let valid_host = host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !valid_host {
            return refuse("the host is not a host name");
        }
        if any_subdomain && !host.contains('.') {
            return refuse("'*.' must be followed by at least two labels (a pattern may not allow a whole top-level domain)");
        }
        Ok(ClientPattern::Prefix {
            host,
            any_subdomain,
            port,
            path_prefix: path_prefix.to_owned(),
        })
    }

    /// Whether the `client_id` URL `client_id` (already checked by
    /// [`crate::oauth::cimd::check_client_id_url`]) is admitted by this entry.
    pub fn matches(&self, client_id: &str) -> bool {
        match self {
            ClientPattern::Exact(id) => id == client_id,
            ClientPattern::Prefix {
                host,
                any_subdomain,
                port,
                path_prefix,
            } => {
                // The browser's parse (issue 18: one URL parser): the host is
                // percent-decoded and lowercased, a default port dropped, so a
                // spelling of the same URL can neither slip past nor be refused.
                let Ok(url) = crate::urls::Url::parse(client_id) else {
                    return false;
                };
                if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some()
                {
                    return false;
                }
                if url.port() != port.filter(|p| *p != 443) {
                    return false;
                }
                let Some(id_host) = url.host_str() else {
                    return false;
                };
                let host_ok = if *any_subdomain {
                    id_host
                        .strip_suffix(host.as_str())
                        .and_then(|front| front.strip_suffix('.'))
                        .is_some_and(|front| !front.is_empty())
                } else {
                    id_host == host.as_str()
                };
                host_ok && url.path().starts_with(path_prefix.as_str())
            }
        }
    }
}

/// The admission settings, parsed from `CLIENT_POLICY`, `ALLOWED_CLIENTS` and
/// `REGISTRATION` by `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub policy: ClientPolicy,
    pub allowed_clients: Vec<ClientPattern>,
    /// `REGISTRATION=on` (default): `POST /register` is open.
    pub registration: bool,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            policy: ClientPolicy::Open,
            allowed_clients: Vec::new(),
            registration: true,
        }
    }
}

impl Admission {
    /// Whether the policy admits a metadata-document client.
    pub fn admits_document(&self, client_id: &str) -> bool {
        match self.policy {
            ClientPolicy::Open => true,
            ClientPolicy::Listed => self.allowed_clients.iter().any(|p| p.matches(client_id)),
        }
    }
}

// ---------------------------------------------------------------------------
// The block list

/// What a block names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// A registered client's id (DCR or admin-created).
    ClientId,
    /// A metadata document's URL (that client's `client_id`).
    DocumentUrl,
    /// Every metadata document served from this host.
    DocumentHost,
}

impl BlockKind {
    pub const ALL: [BlockKind; 3] = [
        BlockKind::ClientId,
        BlockKind::DocumentUrl,
        BlockKind::DocumentHost,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::ClientId => "client_id",
            BlockKind::DocumentUrl => "document_url",
            BlockKind::DocumentHost => "document_host",
        }
    }

    pub fn parse(name: &str) -> Option<BlockKind> {
        BlockKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One entry of the block list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub value: String,
    pub added_at: u64,
    pub reason: Option<String>,
}

impl Block {
    /// As stored and listed: `{"kind", "value", "added_at", "reason"?}`. (By
    /// hand through `Value`, which the bundle decodes already, rather than one
    /// more derived decoder.)
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "kind": self.kind.as_str(),
            "value": self.value,
            "added_at": self.added_at,
        });
        if let (Some(reason), Some(fields)) = (&self.reason, out.as_object_mut()) {
            fields.insert("reason".into(), reason.as_str().into());
        }
        out
    }

    pub fn from_json(value: &Value) -> Option<Block> {
        Some(Block {
            kind: BlockKind::parse(value.get("kind")?.as_str()?)?,
            value: value.get("value")?.as_str()?.to_owned(),
            added_at: value.get("added_at")?.as_u64()?,
            reason: value
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// Most entries the list holds (one KV value stays well under its limits).
pub const MAX_BLOCKS: usize = 500;

/// Checks and normalizes a value to block. Hosts are lowercased; a document
/// URL must be a valid `client_id` URL; a client id is one we could have issued.
pub fn normalize_block(kind: BlockKind, value: &str) -> Result<String, String> {
    let value = value.trim();
    match kind {
        BlockKind::ClientId => {
            let plausible = (1..=128).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if plausible {
                Ok(value.to_owned())
            } else {
                Err("client_id is not a client id this server issues (for a metadata document, use document_url)".into())
            }
        }
        BlockKind::DocumentUrl => {
            crate::oauth::cimd::check_client_id_url(value)?;
            Ok(value.to_owned())
        }
        BlockKind::DocumentHost => {
            let host = value.to_ascii_lowercase();
            let valid = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if valid {
                Ok(host)
            } else {
                Err("document_host must be a host name such as chatgpt.com (no scheme, port or path)".into())
            }
        }
    }
}

/// The operator's block list, as stored under [`keys::blocks`]: a JSON array
/// of [`Block::to_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockList(pub Vec<Block>);

impl BlockList {
    pub fn to_json(&self) -> Value {
        Value::Array(self.0.iter().map(Block::to_json).collect())
    }

    /// `None` when the stored value is not a list of blocks.
    pub fn from_json(value: &Value) -> Option<BlockList> {
        value
            .as_array()?
            .iter()
            .map(Block::from_json)
            .collect::<Option<Vec<_>>>()
            .map(BlockList)
    }

    /// The entry that blocks `client_id`, if any: by id, by document URL, or by
    /// the host a document URL names.
    pub fn blocking(&self, client_id: &str) -> Option<&Block> {
        let document = crate::oauth::cimd::is_document_client_id(client_id);
        let host = document
            .then(|| {
                crate::urls::Url::parse(client_id)
                    .ok()
                    // `chatgpt.com.` is the same host as `chatgpt.com`.
                    .and_then(|u| {
                        u.host_str()
                            .map(|h| h.strip_suffix('.').unwrap_or(h).to_owned())
                    })
            })
            .flatten();
        self.0.iter().find(|b| match b.kind {
            BlockKind::ClientId => !document && b.value == client_id,
            BlockKind::DocumentUrl => document && b.value == client_id,
            BlockKind::DocumentHost => host.as_deref() == Some(b.value.as_str()),
        })
    }

    /// Adds an entry; `false` when the same kind and value is listed already.
    pub fn add(&mut self, block: Block) -> Result<bool, String> {
        if self
            .0
            .iter()
            .any(|b| b.kind == block.kind && b.value == block.value)
        {
            return Ok(false);
        }
        if self.0.len() >= MAX_BLOCKS {
            return Err(format!("the block list holds {MAX_BLOCKS} entries already"));
        }
        self.0.push(block);
        Ok(true)
    }

    /// Removes an entry; `false` when it was not listed.
    pub fn remove(&mut self, kind: BlockKind, value: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|b| !(b.kind == kind && b.value == value));
        self.0.len() != before
    }
}

/// The block list from storage (one KV read). A value that no longer decodes
/// is a fault, not an empty list: an operator's blocks must not silently lapse.
pub async fn load_blocks(store: &dyn Kv) -> Result<BlockList, HttpError> {
    let raw = store
        .get(&keys::blocks())
        .await
        .map_err(crate::oauth::kv::store_fault)?;
    match raw {
        None => Ok(BlockList::default()),
        Some(r) => serde_json::from_str::<Value>(&r)
            .ok()
            .and_then(|v| BlockList::from_json(&v))
            .ok_or_else(|| {
                HttpError::internal(Fault::Encoding, "block list value is not a block list")
            }),
    }
}

/// How long KV keeps what the operator made (the block list, static
/// clients): ten years, renewed by every edit. KV wants a lifetime on each key.
pub const OPERATOR_RECORD_TTL: u64 = 3650 * 86_400;

/// Writes the block list back.
pub async fn save_blocks(store: &dyn Kv, list: &BlockList) -> Result<(), HttpError> {
    let json = list.to_json().to_string();
    store
        .put(&keys::blocks(), &json, OPERATOR_RECORD_TTL)
        .await
        .map_err(crate::oauth::kv::store_fault)
}

/// Why a client was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `CLIENT_POLICY=listed` and no entry of `ALLOWED_CLIENTS` admits it.
    NotListed,
    /// On the block list.
    Blocked(BlockKind),
}

impl Refusal {
    fn log_reason(&self) -> String {
        match self {
            Refusal::NotListed => "not in ALLOWED_CLIENTS (CLIENT_POLICY=listed)".to_owned(),
            Refusal::Blocked(kind) => format!("on the block list by {}", kind.as_str()),
        }
    }
}

/// Whether `client_id` may connect: the policy (document clients) and the
/// block list. Reads the block list (one KV read).
pub async fn check(
    admission: &Admission,
    store: &dyn Kv,
    client_id: &str,
) -> Result<Option<Refusal>, HttpError> {
    let document = crate::oauth::cimd::is_document_client_id(client_id);
    if document && !admission.admits_document(client_id) {
        return Ok(Some(Refusal::NotListed));
    }
    let blocks = load_blocks(store).await?;
    Ok(blocks.blocking(client_id).map(|b| Refusal::Blocked(b.kind)))
}

/// The line the operator sees for a refusal, one per refused request.
pub fn log_line(endpoint: &str, client_id: &str, refusal: &Refusal) -> String {
    format!(
        "client refused at {endpoint}: client_id={} reason={}",
        client_id.chars().take(300).collect::<String>(),
        refusal.log_reason()
    )
}

/// Our page for a refused client: it names the client and says that the
/// operator has not allowed it. Never a redirect.
pub fn refusal_page(name: &str, client_id: &str, refusal: &Refusal) -> Reply {
    let what = match refusal {
        Refusal::NotListed => "This server's operator has not allowed this application: only the applications the operator lists may connect.",
        Refusal::Blocked(_) => "This server's operator has not allowed this application: it has been blocked.",
    };
    let message = format!(
        "{name} ({client_id}) cannot connect to this server. {what} Nothing was sent back to the application. If you need it, ask the operator of this server."
    );
    crate::web::message_page(403, "Application not allowed", &message).logged(log_line(
        "/authorize",
        client_id,
        refusal,
    ))
}

fn registration_refused(description: &str) -> Reply {
    Reply::json(
        403,
        &json!({ "error": "access_denied", "error_description": description }),
    )
    .no_store()
}

/// `POST /register` with `REGISTRATION=off`: `403 access_denied`.
pub fn registration_closed(admission: &Admission) -> Option<Reply> {
    (!admission.registration).then(|| {
        registration_refused("dynamic client registration is turned off on this server; ask its operator for a client")
    })
}

/// `POST /register` of a public client whose (derived) id is blocked: `403
/// access_denied`, one log line. Reads the block list (one KV read).
pub async fn blocked_registration(
    store: &dyn Kv,
    client_id: &str,
) -> Result<Option<Reply>, HttpError> {
    let blocks = load_blocks(store).await?;
    Ok(blocks.blocking(client_id).map(|b| {
        registration_refused("this server's operator has blocked this client").logged(log_line(
            "/register",
            client_id,
            &Refusal::Blocked(b.kind),
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> ClientPattern {
        ClientPattern::parse(raw).unwrap()
    }

    #[test]
    fn exact_entries_match_byte_for_byte() {
        let e = p("https://claude.ai/oauth/claude-code-client-metadata");
        assert!(e.matches("https://claude.ai/oauth/claude-code-client-metadata"));
        assert!(!e.matches("https://claude.ai/oauth/claude-code-client-metadata?x"));
        assert!(!e.matches("https://CLAUDE.ai/oauth/claude-code-client-metadata"));
    }

    #[test]
    fn prefix_patterns_end_at_a_path_segment_and_keep_the_host() {
        let e = p("https://chatgpt.com/oauth/*");
        assert!(e.matches("https://chatgpt.com/oauth/abc/client.json"));
        assert!(e.matches("https://ChatGPT.com/oauth/codex/x.json?redirect_uri=y"));
        assert!(!e.matches("https://chatgpt.com/oauthx/abc"));
        assert!(!e.matches("https://chatgpt.com.evil.example/oauth/abc"));
        assert!(!e.matches("https://evil.example/oauth/abc"));
        assert!(!e.matches("https://sub.chatgpt.com/oauth/abc"));
        assert!(!e.matches("https://chatgpt.com:8443/oauth/abc"));
        // The default port and a percent-encoded host are the same URL to a browser.
        assert!(e.matches("https://chatgpt.com:443/oauth/abc/client.json"));
        assert!(e.matches("https://%63hatgpt.com/oauth/abc/client.json"));
    }

    #[test]
    fn host_patterns_are_bounded_at_a_label() {
        let e = p("https://*.example.com/*");
        assert!(e.matches("https://a.example.com/client.json"));
        assert!(e.matches("https://a.b.example.com/x"));
        assert!(!e.matches("https://example.com/x"));
        assert!(!e.matches("https://badexample.com/x"));
        assert!(!e.matches("https://example.com.evil.example/x"));
    }

    #[test]
    fn patterns_that_allow_too_much_are_refused() {
        for bad in [
            "*",
            "https://*",
            "https://*/*",
            "https://*.com/*",
            "https://a*.example.com/*",
            "https://example.com/*/x",
            "https://example.com/a*",
            "https://example.com*",
            "http://example.com/*",
            "https://user@example.com/*",
            "https://*.*.example.com/*",
            "https://example.com/../*",
            "not a url",
            "https://example.com/",
        ] {
            assert!(ClientPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listed_admits_only_matching_documents() {
        let a = Admission {
            policy: ClientPolicy::Listed,
            allowed_clients: vec![p("https://chatgpt.com/oauth/*")],
            registration: true,
        };
        assert!(a.admits_document("https://chatgpt.com/oauth/x/client.json"));
        assert!(!a.admits_document("https://claude.ai/oauth/x"));
        assert!(Admission::default().admits_document("https://claude.ai/oauth/x"));
    }

    #[test]
    fn blocks_name_an_id_a_document_or_a_host() {
        let mut list = BlockList::default();
        let block = |kind, value: &str| Block {
            kind,
            value: value.into(),
            added_at: 1,
            reason: None,
        };
        assert!(list.add(block(BlockKind::ClientId, "abc")).unwrap());
        assert!(!list.add(block(BlockKind::ClientId, "abc")).unwrap());
        list.add(block(BlockKind::DocumentUrl, "https://a.example/c.json"))
            .unwrap();
        list.add(block(BlockKind::DocumentHost, "chatgpt.com"))
            .unwrap();
        assert_eq!(
            list.blocking("abc").map(|b| b.kind),
            Some(BlockKind::ClientId)
        );
        assert!(list.blocking("abd").is_none());
        assert!(list.blocking("https://a.example/c.json").is_some());
        assert!(list.blocking("https://a.example/other.json").is_none());
        assert!(list
            .blocking("https://ChatGPT.com/oauth/1/client.json")
            .is_some());
        assert!(list.blocking("https://sub.chatgpt.com/oauth/1").is_none());
        // Other spellings of the blocked host, as the browser reads them.
        assert!(list
            .blocking("https://%63hatgpt.com/oauth/1/client.json")
            .is_some());
        assert!(list
            .blocking("https://chatgpt.com.:443/oauth/1/client.json")
            .is_some());
        assert!(list.remove(BlockKind::ClientId, "abc"));
        assert!(list.blocking("abc").is_none());
    }

    #[test]
    fn the_stored_list_round_trips_and_a_damaged_one_is_refused() {
        let list = BlockList(vec![
            Block {
                kind: BlockKind::DocumentHost,
                value: "chatgpt.com".into(),
                added_at: 7,
                reason: Some("not approved".into()),
            },
            Block {
                kind: BlockKind::ClientId,
                value: "abc".into(),
                added_at: 8,
                reason: None,
            },
        ]);
        assert_eq!(BlockList::from_json(&list.to_json()), Some(list));
        for bad in [
            json!({}),
            json!([{"kind": "host", "value": "a", "added_at": 1}]),
            json!([{"kind": "client_id", "added_at": 1}]),
        ] {
            assert_eq!(BlockList::from_json(&bad), None, "{bad}");
        }
    }

    #[test]
    fn block_values_are_checked() {
        assert_eq!(
            normalize_block(BlockKind::DocumentHost, "ChatGPT.com").unwrap(),
            "chatgpt.com"
        );
        assert!(normalize_block(BlockKind::DocumentHost, "https://chatgpt.com").is_err());
        assert!(normalize_block(BlockKind::DocumentUrl, "http://a.example/x").is_err());
        assert!(normalize_block(BlockKind::ClientId, "https://a.example/x").is_err());
    }

    #[test]
    fn the_refusal_page_names_the_client_and_logs_one_line() {
        let r = refusal_page("Claude", "https://claude.ai/oauth/x", &Refusal::NotListed);
        assert_eq!(r.status, 403);
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains("Claude") && body.contains("https://claude.ai/oauth/x"));
        assert!(body.contains("operator has not allowed"));
        let log = r.log.unwrap_or_default();
        assert!(log.contains("client_id=https://claude.ai/oauth/x"), "{log}");
    }
}
