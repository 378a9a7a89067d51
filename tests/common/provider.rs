//! The upstream identity provider of the in-memory platform: it signs in whoever
//! the test says, and the test controls how it refreshes and reads its call counts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mcp_oauth_worker::outbound::{HttpClient, LocalBoxFuture};
use mcp_oauth_worker::upstream::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
};
use mcp_oauth_worker::user::UserProfile;

use super::faults::{after, before, FaultPlan};
use super::yield_now;

/// How the fake provider answers a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamRefresh {
    /// Tokens never expire: nothing to refresh.
    Nothing,
    /// New tokens each time (numbered), as rotating providers do.
    Rotate,
    /// The provider refuses: the user revoked us.
    Revoked,
    /// The provider cannot be reached.
    Down,
}

/// A provider that signs in whoever the test says, and whose refresh behaviour
/// and call counts the test controls and reads.
pub struct FakeProvider {
    pub user: RefCell<UserProfile>,
    pub refresh_mode: RefCell<UpstreamRefresh>,
    /// Upstream refresh calls, and the upstream refresh tokens they spent.
    pub refresh_calls: Cell<u32>,
    pub spent_refresh_tokens: RefCell<Vec<String>>,
    pub issued: Cell<u32>,
    /// Faults injected into the provider's calls (shared with the platform).
    pub faults: Rc<FaultPlan>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        FakeProvider {
            user: RefCell::new(user("ada")),
            refresh_mode: RefCell::new(UpstreamRefresh::Nothing),
            refresh_calls: Cell::new(0),
            spent_refresh_tokens: RefCell::new(Vec::new()),
            issued: Cell::new(0),
            faults: Rc::new(FaultPlan::default()),
        }
    }
}

pub fn user(login: &str) -> UserProfile {
    UserProfile {
        id: format!("test:{login}-id"),
        login: login.into(),
        name: None,
        email: Some(format!("{login}@example.com")),
        provider: "test".into(),
    }
}

pub fn upstream_tokens(n: u32, expires_at: u64) -> UpstreamTokens {
    UpstreamTokens {
        access_token: format!("up-access-{n}").into(),
        refresh_token: Some(format!("up-refresh-{n}").into()),
        expires_at: Some(expires_at),
        scope: None,
    }
}

impl IdentityProvider for FakeProvider {
    fn kind(&self) -> &'static str {
        "test"
    }

    fn authorize_url(&self, params: &AuthorizeParams<'_>) -> String {
        format!(
            "https://idp.example/authorize?state={}",
            params.state.secret()
        )
    }

    fn exchange<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        Box::pin(async move {
            // The provider's token endpoint: a code it has not redeemed yet
            // may fail (500) or never answer; a lost answer spends the code.
            let fault = before(&self.faults, "upstream.exchange", true)
                .await
                .map_err(UpstreamError::Network)?;
            if params.code.secret() != "idp-code" {
                return Err(UpstreamError::Provider("bad code".into()));
            }
            let n = self.issued.get() + 1;
            self.issued.set(n);
            after(fault, "upstream.exchange", ()).map_err(UpstreamError::Network)?;
            Ok(SignIn {
                user: self.user.borrow().clone(),
                // Expiring soon, so every refresh asks the provider.
                tokens: upstream_tokens(n, params.now + 60),
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        Box::pin(async move {
            let mode = self.refresh_mode.borrow().clone();
            let fresh = tokens
                .expires_at
                .is_some_and(|at| at > now + mcp_oauth_worker::upstream::REFRESH_MARGIN_SECS);
            if mode == UpstreamRefresh::Nothing || fresh {
                return Ok(None);
            }
            self.refresh_calls.set(self.refresh_calls.get() + 1);
            let fault = before(&self.faults, "upstream.refresh", true)
                .await
                .map_err(UpstreamError::Network)?;
            // A real provider answers later: let other requests run meanwhile.
            yield_now().await;
            yield_now().await;
            match mode {
                UpstreamRefresh::Revoked => Err(UpstreamError::Revoked("revoked".into())),
                UpstreamRefresh::Down => Err(UpstreamError::Network("down".into())),
                _ => {
                    let spent = tokens
                        .refresh_token
                        .as_ref()
                        .map(|t| t.secret().to_owned())
                        .unwrap_or_default();
                    let mut list = self.spent_refresh_tokens.borrow_mut();
                    if list.contains(&spent) {
                        // A rotating provider refuses a spent refresh token.
                        return Err(UpstreamError::Revoked("refresh token reused".into()));
                    }
                    list.push(spent);
                    let n = self.issued.get() + 1;
                    self.issued.set(n);
                    // A lost answer: the provider rotated (the old refresh
                    // token is spent) but we never see the new tokens.
                    after(fault, "upstream.refresh", ()).map_err(UpstreamError::Network)?;
                    Ok(Some(upstream_tokens(n, now + 60)))
                }
            }
        })
    }
}
