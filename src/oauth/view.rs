//! What the authorization server hands to pages and to the admin API for
//! display: plain data, already checked, with no way back into a flow or a
//! store. `web/` imports from `oauth/` only the types of this file.

use serde::Serialize;

/// One live grant, as people and operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    pub grant_id: String,
    pub client_id: String,
    /// The registered name, when the client still exists and gave one.
    pub client_name: Option<String>,
    /// The client's verified host: its `client_id` URL's host for a Client ID
    /// Metadata Document, otherwise the host of the redirect URI.
    pub client_host: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    /// When the person approved it.
    pub connected_at: u64,
    pub last_refreshed_at: Option<u64>,
    pub expires_at: u64,
}

/// One page of the live grants listed in an index.
#[derive(Debug, Default)]
pub struct ConnectionsView {
    /// The live grants of the page, newest first.
    pub connections: Vec<ConnectionView>,
    /// Grants of the page whose object (or client record) could not be read
    /// just now: the page is shown without them, with a notice.
    pub unreadable: Vec<String>,
    /// Where the next page starts (the `cursor` parameter of its link), if
    /// there is one.
    pub next: Option<String>,
    /// Grants per page, and per batch of "revoke all".
    pub page_size: usize,
}
