//! The upstream provider built from its settings. The settings themselves are
//! parsed with the rest of the configuration (`crate::config::upstream`, kept
//! in `Config::upstream`); they are re-exported here under their old path.

use super::github::GitHubProvider;
use super::google::GoogleProvider;
use super::oidc::{discover, DiscoveryDocument, OidcProvider};
use super::{IdentityProvider, UpstreamError};
use crate::outbound::HttpClient;

pub use crate::config::upstream::*;

impl UpstreamSettings {
    /// The provider, given the discovery document of [`Self::issuer_to_discover`] when
    /// there is one (e.g. from a cache). Without it, an OIDC provider is a `Config` error.
    pub fn provider(
        self,
        discovered: Option<DiscoveryDocument>,
    ) -> Result<Box<dyn IdentityProvider>, UpstreamError> {
        Ok(match self {
            UpstreamSettings::GitHub(s) => Box::new(GitHubProvider::new(s)),
            UpstreamSettings::Google(s) => Box::new(GoogleProvider::new(s)),
            UpstreamSettings::Oidc(s) => match discovered {
                Some(doc) if doc.issuer == s.issuer => Box::new(OidcProvider::new(s, doc)),
                Some(_) => {
                    return Err(UpstreamError::Config(
                        "the discovery document is for another issuer than OIDC_ISSUER".into(),
                    ))
                }
                None => {
                    return Err(UpstreamError::Config(
                        "the OpenID Connect provider's discovery document is needed".into(),
                    ))
                }
            },
        })
    }

    /// The provider, fetching the discovery document first when one is needed.
    pub async fn connect(
        self,
        http: &dyn HttpClient,
    ) -> Result<Box<dyn IdentityProvider>, UpstreamError> {
        let discovered = match self.issuer_to_discover() {
            Some(issuer) => Some(discover(http, issuer).await?),
            None => None,
        };
        self.provider(discovered)
    }
}
