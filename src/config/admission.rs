//! `CLIENT_POLICY`, `ALLOWED_CLIENTS` and `REGISTRATION`: which clients may connect.

use super::error::ConfigError;
use super::values::list;

/// `CLIENT_POLICY`, `ALLOWED_CLIENTS` and `REGISTRATION`.
pub(super) fn admission<G>(get: &G) -> Result<crate::oauth::policy::Admission, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    use crate::oauth::policy::{Admission, ClientPattern, ClientPolicy};
    let policy = match get("CLIENT_POLICY").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("open") => ClientPolicy::Open,
        Some("listed") => ClientPolicy::Listed,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "CLIENT_POLICY",
                reason: format!("'{other}' is not a policy"),
                hint: "Use open (every client may ask to connect, the default) or listed (metadata-document clients must match ALLOWED_CLIENTS).".into(),
            })
        }
    };
    let allowed_clients = list(get("ALLOWED_CLIENTS"))
        .iter()
        .map(|entry| {
            ClientPattern::parse(entry).map_err(|reason| ConfigError::Invalid {
                name: "ALLOWED_CLIENTS",
                reason,
                hint: "Give a comma-separated list of client_id URLs (https://claude.ai/oauth/claude-code-client-metadata) or patterns ending in /* (https://chatgpt.com/oauth/*, https://*.example.com/*).".into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if policy == ClientPolicy::Open && !allowed_clients.is_empty() {
        return Err(ConfigError::Invalid {
            name: "ALLOWED_CLIENTS",
            reason: "it is set, but CLIENT_POLICY is open, so it would have no effect".into(),
            hint:
                "Set CLIENT_POLICY=listed to admit only these clients, or remove ALLOWED_CLIENTS."
                    .into(),
        });
    }
    let registration = match get("REGISTRATION")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "REGISTRATION",
                reason: format!("'{other}' is neither on nor off"),
                hint: "Use on (dynamic client registration at /register, the default) or off."
                    .into(),
            })
        }
    };
    Ok(Admission {
        policy,
        allowed_clients,
        registration,
    })
}
