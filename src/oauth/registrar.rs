//! Who a client is: the registrar role (after oxide-auth's `Registrar`).
//! Given a `client_id`, a [`Registrar`] answers the client's metadata, its
//! redirect URIs above all, which `oauth::authorize::validate` then holds the
//! request's `redirect_uri` to (RFC 6749 §3.1.2.2, exact match).
//!
//! Two kinds of client, one implementation each:
//! - [`RegisteredClients`]: clients of dynamic registration (RFC 7591) and of
//!   the operator, one KV record each (`crate::keys::client`);
//! - [`DocumentClients`]: clients whose `client_id` is the URL of a Client ID
//!   Metadata Document, fetched, validated and cached (`oauth::cimd`).
//!
//! [`Clients`] picks by the shape of the id: a URL is a document client.

use crate::http::HttpError;
use crate::keys;
use crate::oauth::cimd::{self, ClientDocuments, DocumentClient, DocumentError};
use crate::oauth::kv::store_fault;
use crate::oauth::kv::Kv;
use crate::oauth::register::Client;

/// A client a registrar knows.
#[derive(Debug, Clone)]
pub enum KnownClient {
    /// Registered (a KV record).
    Registered(Client),
    /// Known from its metadata document.
    Document(DocumentClient),
}

impl KnownClient {
    /// The client's metadata, whichever way it is known.
    pub fn client(&self) -> &Client {
        match self {
            KnownClient::Registered(c) => c,
            KnownClient::Document(d) => &d.client,
        }
    }

    pub fn into_client(self) -> Client {
        match self {
            KnownClient::Registered(c) => c,
            KnownClient::Document(d) => d.client,
        }
    }
}

/// Why a registrar could not answer.
pub enum RegistrarError {
    /// Storage failed (a 503 for the caller).
    Fault(HttpError),
    /// The client's metadata document cannot be fetched or is not acceptable.
    Document(DocumentError),
}

/// Who is this client? (Called with static dispatch: an isolate runs one
/// thread, so the futures need no `Send` bound.)
#[allow(async_fn_in_trait)]
pub trait Registrar {
    /// The client `client_id` names; `Ok(None)` for an id nobody registered
    /// (or whose record is gone).
    async fn client(&self, client_id: &str) -> Result<Option<KnownClient>, RegistrarError>;
}

/// Registered clients, by their KV record.
pub struct RegisteredClients<'a>(pub &'a dyn Kv);

impl RegisteredClients<'_> {
    /// The registered client `client_id`, or `None` for an id we never
    /// issued. (An expired record is still answered: its expiry is for the
    /// caller to judge.)
    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, HttpError> {
        // Client ids we issue are base64url; anything else is not worth a read.
        let plausible = (1..=128).contains(&client_id.len())
            && client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plausible {
            return Ok(None);
        }
        let raw = self
            .0
            .get(&keys::client(client_id))
            .await
            .map_err(store_fault)?;
        // A record that no longer decodes is not a client we can vouch for.
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }
}

impl Registrar for RegisteredClients<'_> {
    async fn client(&self, client_id: &str) -> Result<Option<KnownClient>, RegistrarError> {
        self.get(client_id)
            .await
            .map(|c| c.map(KnownClient::Registered))
            .map_err(RegistrarError::Fault)
    }
}

/// Clients known by their metadata document (`oauth::cimd::resolve`: this
/// isolate's copy, or fetched and validated).
pub struct DocumentClients<'a> {
    pub documents: &'a dyn ClientDocuments,
    pub now: u64,
}

impl DocumentClients<'_> {
    pub async fn get(&self, client_id: &str) -> Result<DocumentClient, DocumentError> {
        cimd::resolve(self.documents, client_id, self.now).await
    }
}

impl Registrar for DocumentClients<'_> {
    async fn client(&self, client_id: &str) -> Result<Option<KnownClient>, RegistrarError> {
        self.get(client_id)
            .await
            .map(|d| Some(KnownClient::Document(d)))
            .map_err(RegistrarError::Document)
    }
}

/// Every client: a `client_id` that is a URL names a metadata document
/// (`cimd::is_document_client_id`), anything else a registration.
pub struct Clients<'a> {
    pub registered: RegisteredClients<'a>,
    pub documents: DocumentClients<'a>,
}

impl<'a> Clients<'a> {
    pub fn new(kv: &'a dyn Kv, documents: &'a dyn ClientDocuments, now: u64) -> Clients<'a> {
        Clients {
            registered: RegisteredClients(kv),
            documents: DocumentClients { documents, now },
        }
    }
}

impl Registrar for Clients<'_> {
    async fn client(&self, client_id: &str) -> Result<Option<KnownClient>, RegistrarError> {
        if cimd::is_document_client_id(client_id) {
            self.documents.client(client_id).await
        } else {
            self.registered.client(client_id).await
        }
    }
}
