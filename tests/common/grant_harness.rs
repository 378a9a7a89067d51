//! One grant on one deployment, driven command by command through the grant's
//! object as the Worker runs it (`Store::grant` of the in-memory platform, across
//! JSON both ways): the harness of the `tests/grant_*.rs` files on a grant's life,
//! with the authorization requests, props and secrets they use.

use std::cell::RefCell;

use super::{block_on, join_all, Platform, T0};
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::crypto::{self, Keyring};
use mcp_oauth_worker::oauth::grant::command::{typed, GrantAnswer, GrantCommand};
use mcp_oauth_worker::oauth::grant::{
    self, AccessError, AuthorizationRequest, GrantError, GrantState, Props, TakenState, TokenPair,
};
use mcp_oauth_worker::oauth::pkce::CodeChallenge;
use mcp_oauth_worker::oauth::store::GrantObjects;
use mcp_oauth_worker::oauth::types::{
    AnyToken, AuthCode, PresentedVerifier, RefreshToken, StateToken, UpstreamVerifier,
};
use mcp_oauth_worker::upstream::UpstreamTokens;
use mcp_oauth_worker::user::{UserContext, UserProfile};

pub const SECRET: &str = super::SECRET;
pub const ACCESS_TTL: u64 = 3600;
pub const REFRESH_TTL: u64 = 30 * 24 * 3600;

pub const CLIENT: &str = "client-one";
pub const OTHER_CLIENT: &str = "client-two";
pub const REDIRECT: &str = "https://app.example/callback";
pub const RESOURCE: &str = "https://mcp.example/mcp";

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Well formed, but not the verifier of `CHALLENGE`.
pub const OTHER_VERIFIER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

pub const UPSTREAM_ACCESS: &str = "gho_UPSTREAM_ACCESS_TOKEN_do_not_store_0001";
pub const UPSTREAM_REFRESH: &str = "ghr_UPSTREAM_REFRESH_TOKEN_do_not_store_0002";

pub fn request_with_scope(scope: &[&str]) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: CLIENT.into(),
        redirect_uri: REDIRECT.into(),
        redirect_uri_sent: true,
        scope: scope.iter().map(|s| s.to_string()).collect(),
        resource: RESOURCE.into(),
        code_challenge: CodeChallenge::try_from(CHALLENGE.to_owned()).unwrap(),
        state: Some("client-state-123".into()),
    }
}

pub fn request() -> AuthorizationRequest {
    request_with_scope(&["mcp", "github:repos"])
}

pub fn props_with(upstream_access: &str) -> Props {
    Props {
        user: UserProfile {
            id: "github:42".into(),
            login: "octocat".into(),
            name: Some("The Octocat".into()),
            email: Some("octo@example.com".into()),
            provider: "github".into(),
        },
        upstream: Some(UpstreamTokens {
            access_token: upstream_access.into(),
            refresh_token: Some(UPSTREAM_REFRESH.into()),
            // Due for an upstream refresh (within REFRESH_MARGIN_SECS).
            expires_at: Some(T0 + 60),
            scope: Some("repo".into()),
        }),
    }
}

pub fn props() -> Props {
    props_with(UPSTREAM_ACCESS)
}

/// One grant on one deployment: the platform (KV, the grant's object, the
/// upstream provider, the clock) and the grant's id.
pub struct Harness {
    pub p: Platform,
    pub grant_id: String,
    /// Every secret handed out, to look for in what was stored.
    pub secrets: RefCell<Vec<String>>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::seeded(1)
    }

    pub fn seeded(seed: u64) -> Harness {
        let p = Platform::new();
        p.rng.0.set(seed);
        let grant_id = crypto::random_id(&p.rng).unwrap();
        Harness {
            p,
            grant_id,
            secrets: RefCell::new(vec![UPSTREAM_ACCESS.into(), UPSTREAM_REFRESH.into()]),
        }
    }

    pub fn now(&self) -> u64 {
        self.p.now.get()
    }

    pub fn advance(&self, secs: u64) {
        self.p.advance(secs);
    }

    /// What the Worker does with one command: `Store::grant`.
    pub fn run(&self, command: GrantCommand) -> GrantAnswer {
        block_on(self.p.grant(&self.grant_id, &command)).expect("the platform answers")
    }

    /// The grant's stored state, as its object keeps it.
    pub fn state(&self) -> Option<GrantState> {
        self.p
            .object_state(&self.grant_id)
            .map(|json| serde_json::from_str(&json).expect("the stored state decodes"))
    }

    pub fn keep(&self, secret: &str) {
        self.secrets.borrow_mut().push(secret.to_owned());
    }

    pub fn begin_with(&self, request: AuthorizationRequest) -> String {
        let answer = self.run(GrantCommand::Begin {
            grant_id: self.grant_id.clone(),
            request,
            upstream_verifier: UpstreamVerifier::new("upstream-pkce-verifier"),
            nonce: "upstream-nonce".into(),
            hold_until: 0,
        });
        let token: StateToken = typed(answer).unwrap();
        self.keep(token.secret());
        token.secret().to_owned()
    }

    pub fn begin(&self) -> String {
        self.begin_with(request())
    }

    pub fn take_state(&self, token: &str) -> Result<TakenState, GrantError> {
        typed(self.run(GrantCommand::TakeState {
            state: StateToken::new(token),
        }))
    }

    pub fn issue_code_with(&self, props: Props) -> Result<String, GrantError> {
        let code: Result<AuthCode, GrantError> = typed(self.run(GrantCommand::IssueCode { props }));
        code.map(|c| {
            self.keep(c.secret());
            c.secret().to_owned()
        })
    }

    pub fn issue_code(&self) -> Result<String, GrantError> {
        self.issue_code_with(props())
    }

    /// Consent, upstream sign-in and callback: the authorization code.
    pub fn code_for(&self, request: AuthorizationRequest) -> String {
        let state = self.begin_with(request);
        self.take_state(&state).unwrap();
        self.issue_code().unwrap()
    }

    pub fn code(&self) -> String {
        self.code_for(request())
    }

    pub fn redeem_command(
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        resource: Option<&str>,
    ) -> GrantCommand {
        GrantCommand::Redeem {
            code: AuthCode::new(code),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.map(str::to_owned),
            code_verifier: code_verifier.map(PresentedVerifier::new),
            resource: resource.map(str::to_owned),
        }
    }

    pub fn redeem_as(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        resource: Option<&str>,
    ) -> Result<TokenPair, GrantError> {
        let command =
            Harness::redeem_command(code, client_id, redirect_uri, code_verifier, resource);
        let pair = typed(self.run(command));
        self.remember(&pair);
        pair
    }

    /// A well-behaved client's redemption.
    pub fn redeem(&self, code: &str) -> Result<TokenPair, GrantError> {
        self.redeem_as(code, CLIENT, Some(REDIRECT), Some(VERIFIER), Some(RESOURCE))
    }

    pub fn tokens(&self) -> TokenPair {
        let code = self.code();
        self.redeem(&code).unwrap()
    }

    pub fn refresh_command(
        refresh_token: &str,
        client_id: &str,
        scope: Option<&[&str]>,
        resource: Option<&str>,
    ) -> GrantCommand {
        GrantCommand::Refresh {
            refresh_token: RefreshToken::new(refresh_token),
            client_id: client_id.into(),
            scope: scope.map(|s| s.iter().map(|x| x.to_string()).collect()),
            resource: resource.map(str::to_owned),
        }
    }

    pub fn refresh_as(
        &self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<&[&str]>,
        resource: Option<&str>,
    ) -> Result<TokenPair, GrantError> {
        let command = Harness::refresh_command(refresh_token, client_id, scope, resource);
        let pair = typed(self.run(command));
        self.remember(&pair);
        pair
    }

    pub fn refresh(&self, refresh_token: &str) -> Result<TokenPair, GrantError> {
        self.refresh_as(refresh_token, CLIENT, None, None)
    }

    /// Several refreshes with the same token, all in flight at once on this
    /// platform (they interleave wherever a command awaits).
    pub fn concurrent_refreshes(
        &self,
        refresh_token: &str,
        n: usize,
    ) -> Vec<Result<TokenPair, GrantError>> {
        let commands: Vec<GrantCommand> = (0..n)
            .map(|_| Harness::refresh_command(refresh_token, CLIENT, None, None))
            .collect();
        let answers = join_all(
            commands
                .iter()
                .map(|c| self.p.grant(&self.grant_id, c))
                .collect(),
        );
        answers
            .into_iter()
            .map(|a| {
                let pair = typed(a.expect("the platform answers"));
                self.remember(&pair);
                pair
            })
            .collect()
    }

    pub fn revoke_as(&self, token: &str, client_id: &str) -> Result<(), GrantError> {
        typed(self.run(GrantCommand::Revoke {
            token: AnyToken::new(token),
            client_id: client_id.into(),
        }))
    }

    pub fn remember(&self, pair: &Result<TokenPair, GrantError>) {
        if let Ok(pair) = pair {
            self.keep(pair.access_token.secret());
            self.keep(pair.refresh_token.secret());
        }
    }

    pub fn record(&self, access_token: &str) -> Option<String> {
        self.p
            .kv_get(&keys::access(&crypto::hash_token(access_token)))
    }

    /// What /mcp does: one KV read, then `authenticate`.
    pub fn authenticate(&self, access_token: &str) -> Result<UserContext, AccessError> {
        grant::authenticate(
            self.record(access_token).as_deref(),
            access_token,
            &[RESOURCE],
            self.now(),
            &self.p.config.keyring,
        )
    }

    pub fn access_records(&self) -> usize {
        self.p.kv_keys("access:").len()
    }
}

pub fn ring() -> Keyring {
    Keyring::new(SECRET, None)
}

/// The RFC 6749 error code of a failed command.
pub fn oauth_error<T: std::fmt::Debug>(result: Result<T, GrantError>) -> String {
    match result {
        Err(GrantError::OAuth { error, .. }) => error,
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

pub fn is_state_error<T: std::fmt::Debug>(result: Result<T, GrantError>) -> bool {
    matches!(result, Err(GrantError::State(_)))
}
