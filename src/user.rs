//! Who is calling: the signed-in user as the MCP server and its tools see them.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The scope every token needs to use the MCP server at all.
pub const SCOPE_MCP: &str = "mcp";
/// The scope a tool needs to read the user's GitHub repositories.
pub const SCOPE_GITHUB_REPOS: &str = "github:repos";
/// Every scope this server knows, in the order it advertises them.
pub const ALL_SCOPES: &[&str] = &[SCOPE_MCP, SCOPE_GITHUB_REPOS];

/// The identity an upstream provider vouched for, as stored (encrypted) in a grant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Stable id: `<provider>:<provider's user id>`, e.g. `github:583231`.
    pub id: String,
    /// Login or user name shown to people.
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `dev`, `github`, `google` or `oidc`.
    pub provider: String,
}

impl std::fmt::Debug for UserProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserProfile")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// An authenticated caller of /mcp: whose token it is and what it may do.
#[derive(Debug, Clone)]
pub struct UserContext {
    pub user: UserProfile,
    /// Scopes granted to the presented token.
    pub scopes: Vec<String>,
    /// The OAuth client the token was issued to (`None` for the static `AUTH_TOKEN`).
    pub client_id: Option<String>,
    /// The user's upstream access token (e.g. GitHub's), decrypted for this request
    /// only. Never sent to MCP clients; only to the upstream API it belongs to.
    pub upstream_token: Option<Secret>,
}

impl UserContext {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The sign-in allow-list (`ALLOWED_USERS`): empty allows everyone; otherwise
/// a user is allowed by stable id (`github:12345`, which survives renames), by
/// login or by email, compared ASCII case-insensitively. `allowed` holds
/// lowercase entries. Checked at sign-in and again on every refresh.
pub fn user_allowed(allowed: &[String], user: &UserProfile) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let id = user.id.to_ascii_lowercase();
    let login = user.login.to_ascii_lowercase();
    let email = user.email.as_deref().map(str::to_ascii_lowercase);
    allowed
        .iter()
        .any(|a| *a == id || *a == login || Some(a) == email.as_ref())
}
