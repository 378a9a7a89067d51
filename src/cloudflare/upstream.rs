//! The configured upstream identity provider. (Its refresh runs inside the
//! grant's object: `oauth::grant::object`.)

use std::cell::RefCell;

use worker::Env;

use crate::config::{Config, ProviderKind};
use crate::http::HttpError;
use crate::upstream::dev::DevProvider;
use crate::upstream::oidc::DiscoveryDocument;
use crate::upstream::settings::{settings_for, UpstreamSettings};
use crate::upstream::IdentityProvider;

use super::platform::{now, FetchClient};

/// A fetched OpenID Connect discovery document is reused for this long by the
/// same isolate, so a sign-in does not pay for discovery every time.
const DISCOVERY_CACHE_SECS: u64 = 3600;

thread_local! {
    static DISCOVERY: RefCell<Option<(u64, DiscoveryDocument)>> = const { RefCell::new(None) };
}

fn settings(env: &Env, kind: ProviderKind) -> Result<Option<UpstreamSettings>, HttpError> {
    settings_for(kind, |name| env.var(name).ok().map(|v| v.to_string()))
        .map_err(|e| HttpError::Config(e.to_string()))
}

/// Checks the provider's settings (without contacting it), so `/health` reports a
/// deployment that cannot sign anyone in.
pub fn check_settings(env: &Env, config: &Config) -> Result<(), HttpError> {
    settings(env, config.provider).map(|_| ())
}

/// The provider that signs users in, for the origin `issuer`.
pub async fn provider(
    env: &Env,
    config: &Config,
    issuer: &str,
) -> Result<Box<dyn IdentityProvider>, HttpError> {
    let Some(settings) = settings(env, config.provider)? else {
        return Ok(Box::new(DevProvider {
            origin: issuer.to_owned(),
            ring: config.keyring.clone(),
        }));
    };
    let discovered = match settings.issuer_to_discover() {
        None => None,
        Some(wanted) => {
            let cached = DISCOVERY.with(|c| {
                c.borrow()
                    .as_ref()
                    .filter(|(at, doc)| now() < at + DISCOVERY_CACHE_SECS && doc.issuer == wanted)
                    .map(|(_, doc)| doc.clone())
            });
            match cached {
                Some(doc) => Some(doc),
                None => {
                    let doc = crate::upstream::oidc::discover(&FetchClient, wanted)
                        .await
                        .map_err(|e| {
                            HttpError::Config(format!("OIDC_ISSUER discovery failed: {e}"))
                        })?;
                    DISCOVERY.with(|c| *c.borrow_mut() = Some((now(), doc.clone())));
                    Some(doc)
                }
            }
        }
    };
    settings
        .provider(discovered)
        .map_err(|e| HttpError::Config(e.to_string()))
}

/// Where the `list_github_repos` tool reaches GitHub's API.
pub fn github_api_base(env: &Env, config: &Config) -> String {
    if config.provider == ProviderKind::GitHub {
        if let Ok(Some(UpstreamSettings::GitHub(s))) = settings(env, ProviderKind::GitHub) {
            return s.api_url;
        }
    }
    "https://api.github.com".to_owned()
}
