//! The configured upstream identity provider. Its settings are parsed with the
//! configuration (`Config::upstream`); the discovery document and its back-off
//! are this isolate's (`Isolate::discovery_or_backoff`). (Its refresh runs
//! inside the grant's object: `oauth::grant::object`.)

use crate::config::{Config, UpstreamSettings};
use crate::http::HttpError;
use crate::isolate::Discovery;
use crate::upstream::dev::DevProvider;
use crate::upstream::oidc::discovery_failed;
use crate::upstream::IdentityProvider;

use super::platform::{now, FetchClient};

fn settings(config: &Config) -> Result<Option<&UpstreamSettings>, HttpError> {
    config
        .upstream
        .as_ref()
        .map(Option::as_ref)
        .map_err(|e| HttpError::Config(e.to_string()))
}

/// Checks the provider's settings (without contacting it), so `/health` reports a
/// deployment that cannot sign anyone in.
pub fn check_settings(config: &Config) -> Result<(), HttpError> {
    settings(config).map(|_| ())
}

/// The provider that signs users in, for the origin `issuer`.
pub async fn provider(
    config: &Config,
    issuer: &str,
) -> Result<Box<dyn IdentityProvider>, HttpError> {
    let Some(settings) = settings(config)? else {
        return Ok(Box::new(DevProvider {
            origin: issuer.to_owned(),
            ring: config.keyring.clone(),
        }));
    };
    let discovered = match settings.issuer_to_discover() {
        None => None,
        Some(wanted) => {
            let isolate = super::isolate();
            match isolate.discovery_or_backoff(wanted, now()) {
                Discovery::Kept(doc) => Some(doc),
                Discovery::BackOff { retry_after } => {
                    return Err(HttpError::Unavailable { retry_after })
                }
                Discovery::Fetch => {
                    match crate::upstream::oidc::discover(&FetchClient, wanted).await {
                        Ok(doc) => {
                            isolate.keep_discovery(doc.clone(), now());
                            Some(doc)
                        }
                        Err(e) => {
                            isolate.discovery_failed(now());
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
        .clone()
        .provider(discovered)
        .map_err(|e| HttpError::Config(e.to_string()))
}

/// Where the `list_github_repos` tool reaches GitHub's API.
pub fn github_api_base(config: &Config) -> &str {
    match &config.upstream {
        Ok(Some(UpstreamSettings::GitHub(s))) => &s.api_url,
        _ => crate::config::upstream::GITHUB_DEFAULT_API_URL,
    }
}
