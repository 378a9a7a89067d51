//! The configured upstream identity provider. (Its refresh runs inside the
//! grant's object: `oauth::grant::object`.)

use std::cell::{Cell, RefCell};

use worker::Env;

use crate::config::{Config, ProviderKind};
use crate::http::HttpError;
use crate::upstream::dev::DevProvider;
use crate::upstream::oidc::{discovery_failed, DiscoveryDocument, DISCOVERY_RETRY_SECS};
use crate::upstream::settings::{settings_for, UpstreamSettings};
use crate::upstream::IdentityProvider;

use super::platform::{now, FetchClient};

/// A fetched OpenID Connect discovery document is reused for this long by the
/// same isolate, so a sign-in does not pay for discovery every time.
const DISCOVERY_CACHE_SECS: u64 = 3600;

thread_local! {
    static DISCOVERY: RefCell<Option<(u64, DiscoveryDocument)>> = const { RefCell::new(None) };
    /// When discovery last failed: requests in the next `DISCOVERY_RETRY_SECS`
    /// get the 503 at once instead of each waiting on a failing provider.
    static DISCOVERY_FAILED_AT: Cell<u64> = const { Cell::new(0) };
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
                    let retry_at = DISCOVERY_FAILED_AT.with(Cell::get) + DISCOVERY_RETRY_SECS;
                    let now_secs = now();
                    if now_secs < retry_at {
                        return Err(HttpError::Unavailable {
                            retry_after: retry_at - now_secs,
                        });
                    }
                    match crate::upstream::oidc::discover(&FetchClient, wanted).await {
                        Ok(doc) => {
                            DISCOVERY.with(|c| *c.borrow_mut() = Some((now(), doc.clone())));
                            Some(doc)
                        }
                        Err(e) => {
                            DISCOVERY_FAILED_AT.with(|f| f.set(now()));
                            let (error, log) = discovery_failed(&e);
                            worker::console_error!("{log}");
                            return Err(error);
                        }
                    }
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
