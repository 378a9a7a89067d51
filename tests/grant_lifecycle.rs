//! A grant's whole life, driven through the grant's object exactly as the
//! Worker runs it: every command goes through `Store::grant` of the in-memory
//! platform (`tests/common`), which sends it across JSON to the real object
//! runner (`GrantObject::run`: its gate, its storage, its KV effects) and
//! brings the answer back across JSON. Each test names the rule (RFC 6749,
//! RFC 7636, RFC 8707, RFC 7009, OAuth 2.1) it checks.

mod common;

use std::cell::RefCell;

use common::{block_on, join_all, Platform, UpstreamRefresh, T0};
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::crypto::{self, purpose, Keyring};
use mcp_oauth_worker::oauth::grant::command::{typed, GrantAnswer, GrantCommand};
use mcp_oauth_worker::oauth::grant::{
    self, grant_of_state, parse_token, AccessError, AccessRecord, AuthorizationRequest, GrantError,
    GrantState, Props, TakenState, TokenKind, TokenPair, CODE_TTL_SECS, PENDING_TTL_SECS,
    REFRESH_GRACE_SECS,
};
use mcp_oauth_worker::oauth::pkce::CodeChallenge;
use mcp_oauth_worker::oauth::store::GrantObjects;
use mcp_oauth_worker::oauth::types::{
    AnyToken, AuthCode, PresentedVerifier, RefreshToken, StateToken, UpstreamVerifier,
};
use mcp_oauth_worker::upstream::UpstreamTokens;
use mcp_oauth_worker::user::{UserContext, UserProfile};

const SECRET: &str = common::SECRET;
const ACCESS_TTL: u64 = 3600;
const REFRESH_TTL: u64 = 30 * 24 * 3600;

const CLIENT: &str = "client-one";
const OTHER_CLIENT: &str = "client-two";
const REDIRECT: &str = "https://app.example/callback";
const RESOURCE: &str = "https://mcp.example/mcp";

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Well formed, but not the verifier of `CHALLENGE`.
const OTHER_VERIFIER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const UPSTREAM_ACCESS: &str = "gho_UPSTREAM_ACCESS_TOKEN_do_not_store_0001";
const UPSTREAM_REFRESH: &str = "ghr_UPSTREAM_REFRESH_TOKEN_do_not_store_0002";

fn request_with_scope(scope: &[&str]) -> AuthorizationRequest {
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

fn request() -> AuthorizationRequest {
    request_with_scope(&["mcp", "github:repos"])
}

fn props_with(upstream_access: &str) -> Props {
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

fn props() -> Props {
    props_with(UPSTREAM_ACCESS)
}

/// One grant on one deployment: the platform (KV, the grant's object, the
/// upstream provider, the clock) and the grant's id.
struct Harness {
    p: Platform,
    grant_id: String,
    /// Every secret handed out, to look for in what was stored.
    secrets: RefCell<Vec<String>>,
}

impl Harness {
    fn new() -> Harness {
        Harness::seeded(1)
    }

    fn seeded(seed: u64) -> Harness {
        let p = Platform::new();
        p.rng.0.set(seed);
        let grant_id = crypto::random_id(&p.rng).unwrap();
        Harness {
            p,
            grant_id,
            secrets: RefCell::new(vec![UPSTREAM_ACCESS.into(), UPSTREAM_REFRESH.into()]),
        }
    }

    fn now(&self) -> u64 {
        self.p.now.get()
    }

    fn advance(&self, secs: u64) {
        self.p.advance(secs);
    }

    /// What the Worker does with one command: `Store::grant`.
    fn run(&self, command: GrantCommand) -> GrantAnswer {
        block_on(self.p.grant(&self.grant_id, &command)).expect("the platform answers")
    }

    /// The grant's stored state, as its object keeps it.
    fn state(&self) -> Option<GrantState> {
        self.p
            .object_state(&self.grant_id)
            .map(|json| serde_json::from_str(&json).expect("the stored state decodes"))
    }

    fn keep(&self, secret: &str) {
        self.secrets.borrow_mut().push(secret.to_owned());
    }

    fn begin_with(&self, request: AuthorizationRequest) -> String {
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

    fn begin(&self) -> String {
        self.begin_with(request())
    }

    fn take_state(&self, token: &str) -> Result<TakenState, GrantError> {
        typed(self.run(GrantCommand::TakeState {
            state: StateToken::new(token),
        }))
    }

    fn issue_code_with(&self, props: Props) -> Result<String, GrantError> {
        let code: Result<AuthCode, GrantError> = typed(self.run(GrantCommand::IssueCode { props }));
        code.map(|c| {
            self.keep(c.secret());
            c.secret().to_owned()
        })
    }

    fn issue_code(&self) -> Result<String, GrantError> {
        self.issue_code_with(props())
    }

    /// Consent, upstream sign-in and callback: the authorization code.
    fn code_for(&self, request: AuthorizationRequest) -> String {
        let state = self.begin_with(request);
        self.take_state(&state).unwrap();
        self.issue_code().unwrap()
    }

    fn code(&self) -> String {
        self.code_for(request())
    }

    fn redeem_command(
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

    fn redeem_as(
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
    fn redeem(&self, code: &str) -> Result<TokenPair, GrantError> {
        self.redeem_as(code, CLIENT, Some(REDIRECT), Some(VERIFIER), Some(RESOURCE))
    }

    fn tokens(&self) -> TokenPair {
        let code = self.code();
        self.redeem(&code).unwrap()
    }

    fn refresh_command(
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

    fn refresh_as(
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

    fn refresh(&self, refresh_token: &str) -> Result<TokenPair, GrantError> {
        self.refresh_as(refresh_token, CLIENT, None, None)
    }

    /// Several refreshes with the same token, all in flight at once on this
    /// platform (they interleave wherever a command awaits).
    fn concurrent_refreshes(
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

    fn revoke_as(&self, token: &str, client_id: &str) -> Result<(), GrantError> {
        typed(self.run(GrantCommand::Revoke {
            token: AnyToken::new(token),
            client_id: client_id.into(),
        }))
    }

    fn remember(&self, pair: &Result<TokenPair, GrantError>) {
        if let Ok(pair) = pair {
            self.keep(pair.access_token.secret());
            self.keep(pair.refresh_token.secret());
        }
    }

    fn record(&self, access_token: &str) -> Option<String> {
        self.p
            .kv_get(&keys::access(&crypto::hash_token(access_token)))
    }

    /// What /mcp does: one KV read, then `authenticate`.
    fn authenticate(&self, access_token: &str) -> Result<UserContext, AccessError> {
        grant::authenticate(
            self.record(access_token).as_deref(),
            access_token,
            &[RESOURCE],
            self.now(),
            &self.p.config.keyring,
        )
    }

    fn access_records(&self) -> usize {
        self.p.kv_keys("access:").len()
    }
}

fn ring() -> Keyring {
    Keyring::new(SECRET, None)
}

/// The RFC 6749 error code of a failed command.
fn oauth_error<T: std::fmt::Debug>(result: Result<T, GrantError>) -> String {
    match result {
        Err(GrantError::OAuth { error, .. }) => error,
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

fn is_state_error<T: std::fmt::Debug>(result: Result<T, GrantError>) -> bool {
    matches!(result, Err(GrantError::State(_)))
}

mod full_life {
    use super::*;

    #[test]
    fn consent_sign_in_code_tokens_refresh_and_revocation() {
        let h = Harness::new();

        // Consent: the grant starts and hands out a state token bound to it.
        let state = h.begin();
        assert_eq!(grant_of_state(&state), Some(h.grant_id.as_str()));

        // Callback: the state is taken once and gives back the consented request.
        h.advance(30);
        let taken = h.take_state(&state).unwrap();
        assert_eq!(taken.request, request());
        assert_eq!(taken.upstream_verifier.secret(), "upstream-pkce-verifier");
        assert_eq!(taken.nonce, "upstream-nonce");

        // The upstream sign-in succeeded: an authorization code for this grant.
        let code = h.issue_code().unwrap();
        assert_eq!(
            parse_token(&code),
            Some((TokenKind::Code, h.grant_id.as_str()))
        );
        assert!(
            h.p.kv_keys("").is_empty(),
            "no token record exists before the code is redeemed"
        );

        // Token endpoint: the code becomes a token pair.
        h.advance(5);
        let pair = h.redeem(&code).unwrap();
        assert_eq!(
            parse_token(pair.access_token.secret()),
            Some((TokenKind::Access, h.grant_id.as_str()))
        );
        assert_eq!(
            parse_token(pair.refresh_token.secret()),
            Some((TokenKind::Refresh, h.grant_id.as_str()))
        );
        assert_eq!(pair.expires_in, ACCESS_TTL);
        assert_eq!(pair.scope, vec!["mcp", "github:repos"]);

        // /mcp: the access token is accepted and names the user.
        let ctx = h.authenticate(pair.access_token.secret()).unwrap();
        assert_eq!(ctx.user.id, "github:42");
        assert_eq!(ctx.client_id.as_deref(), Some(CLIENT));

        // Rotation: a new pair; both access tokens work until they expire.
        h.advance(600);
        let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
        assert_ne!(rotated.access_token, pair.access_token);
        assert_ne!(rotated.refresh_token, pair.refresh_token);
        let ctx = h.authenticate(rotated.access_token.secret()).unwrap();
        assert_eq!(ctx.user.login, "octocat");
        assert_eq!(h.access_records(), 2);

        // RFC 7009: revoking the refresh token ends the whole grant.
        h.advance(10);
        h.revoke_as(rotated.refresh_token.secret(), CLIENT).unwrap();
        assert_eq!(
            h.access_records(),
            0,
            "every access record of the grant is deleted"
        );
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            h.authenticate(rotated.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            oauth_error(h.refresh(rotated.refresh_token.secret())),
            "invalid_grant"
        );
        assert!(h.state().unwrap().revoked_at.is_some());
    }

    #[test]
    fn the_rfc_7636_appendix_b_pair_works_end_to_end() {
        let h = Harness::new();
        let code = h.code();
        // The verifier is sent only at the token endpoint, never stored.
        let pair = h
            .redeem_as(&code, CLIENT, Some(REDIRECT), Some(VERIFIER), None)
            .unwrap();
        assert!(h.authenticate(pair.access_token.secret()).is_ok());
        assert!(h
            .p
            .everything_ever_written()
            .iter()
            .all(|w| !w.contains(VERIFIER)));
    }

    #[test]
    fn the_token_response_is_a_bearer_token_with_space_separated_scope() {
        let h = Harness::new();
        let pair = h.tokens();
        let json = pair.to_json();
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(json["scope"], "mcp github:repos");
        assert_eq!(json["expires_in"], ACCESS_TTL);
        assert_eq!(json["access_token"], pair.access_token.secret());
        assert_eq!(json["refresh_token"], pair.refresh_token.secret());
        let debug = format!("{pair:?}");
        assert!(
            !debug.contains(pair.access_token.secret())
                && !debug.contains(pair.refresh_token.secret()),
            "{debug}"
        );
    }

    #[test]
    fn only_the_current_refresh_token_opens_the_props_for_the_upstream_refresh() {
        // The upstream tokens are sealed under the grant key, which only the
        // current refresh token unwraps: what the provider is asked to refresh
        // shows what each presented token opened.
        let h = Harness::new();
        *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        let pair = h.tokens();
        assert_eq!(
            oauth_error(h.refresh(pair.access_token.secret())),
            "invalid_grant"
        );
        assert_eq!(
            h.p.provider.refresh_calls.get(),
            0,
            "an access token opens nothing"
        );
        let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
        assert_eq!(h.p.provider.refresh_calls.get(), 1);
        assert_eq!(
            *h.p.provider.spent_refresh_tokens.borrow(),
            vec![UPSTREAM_REFRESH.to_owned()]
        );
        // A retry with the spent token gets the same pair and opens nothing.
        assert_eq!(h.refresh(pair.refresh_token.secret()).unwrap(), rotated);
        assert_eq!(
            h.p.provider.refresh_calls.get(),
            1,
            "a spent token opens nothing"
        );
        // The new refresh token opens the props stored with it: the new upstream tokens.
        h.refresh(rotated.refresh_token.secret()).unwrap();
        assert_eq!(
            *h.p.provider.spent_refresh_tokens.borrow(),
            vec![UPSTREAM_REFRESH.to_owned(), "up-refresh-1".to_owned()]
        );
    }

    #[test]
    fn a_refresh_with_new_upstream_tokens_stores_them_for_the_new_access_token() {
        // The upstream refresh now happens inside the grant's object: the fake
        // provider rotates its tokens on every refresh.
        let h = Harness::new();
        let pair = h.tokens();
        *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        let fresh = "up-access-1";
        h.keep(fresh);
        h.keep("up-refresh-1");
        let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
        assert_eq!(h.p.provider.refresh_calls.get(), 1);
        let ctx = h.authenticate(rotated.access_token.secret()).unwrap();
        assert_eq!(ctx.upstream_token.unwrap().expose(), fresh);
        // The old access token keeps the upstream token it was issued with.
        let old = h.authenticate(pair.access_token.secret()).unwrap();
        assert_eq!(old.upstream_token.unwrap().expose(), UPSTREAM_ACCESS);
        // And the next refresh hands the provider the new upstream refresh token.
        let next = h.refresh(rotated.refresh_token.secret()).unwrap();
        assert_eq!(
            h.p.provider
                .spent_refresh_tokens
                .borrow()
                .last()
                .map(String::as_str),
            Some("up-refresh-1")
        );
        let ctx = h.authenticate(next.access_token.secret()).unwrap();
        assert_eq!(ctx.upstream_token.unwrap().expose(), "up-access-2");
        for secret in [fresh, "up-refresh-1", "up-access-2", "up-refresh-2"] {
            assert!(
                h.p.everything_ever_written()
                    .iter()
                    .all(|w| !w.contains(secret)),
                "{secret} stored in the clear"
            );
        }
    }
}

mod authorization_code {
    use super::*;

    #[test]
    fn a_code_is_single_use_and_a_second_redemption_revokes_the_first_tokens() {
        // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3.
        let h = Harness::new();
        let code = h.code();
        let pair = h.redeem(&code).unwrap();
        assert!(h.record(pair.access_token.secret()).is_some());

        h.advance(1);
        assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");
        assert!(
            h.record(pair.access_token.secret()).is_none(),
            "the access record is deleted"
        );
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            oauth_error(h.refresh(pair.refresh_token.secret())),
            "invalid_grant"
        );
    }

    #[test]
    fn a_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code() {
        // RFC 7636 §4.6.
        let h = Harness::new();
        let code = h.code();
        let wrong = h.redeem_as(
            &code,
            CLIENT,
            Some(REDIRECT),
            Some(OTHER_VERIFIER),
            Some(RESOURCE),
        );
        assert_eq!(oauth_error(wrong), "invalid_grant");
        assert_eq!(
            oauth_error(h.redeem(&code)),
            "invalid_grant",
            "the right verifier comes too late"
        );
        assert_eq!(h.access_records(), 0);
    }

    #[test]
    fn a_missing_verifier_is_invalid_request() {
        let h = Harness::new();
        let code = h.code();
        let missing = h.redeem_as(&code, CLIENT, Some(REDIRECT), None, Some(RESOURCE));
        assert_eq!(oauth_error(missing), "invalid_request");
        assert_eq!(h.access_records(), 0);
    }

    #[test]
    fn a_malformed_verifier_is_invalid_request() {
        // RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
        for bad in [
            "short",
            &"a".repeat(129),
            "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
        ] {
            let h = Harness::new();
            let code = h.code();
            let result = h.redeem_as(&code, CLIENT, Some(REDIRECT), Some(bad), Some(RESOURCE));
            assert_eq!(oauth_error(result), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn a_code_issued_to_another_client_is_invalid_grant() {
        let h = Harness::new();
        let code = h.code();
        let result = h.redeem_as(
            &code,
            OTHER_CLIENT,
            Some(REDIRECT),
            Some(VERIFIER),
            Some(RESOURCE),
        );
        assert_eq!(oauth_error(result), "invalid_grant");
        assert_eq!(h.access_records(), 0);
    }

    #[test]
    fn the_redirect_uri_must_be_identical_to_the_authorization_request() {
        // OAuth 2.1 §4.1.3.
        for presented in [
            Some("https://app.example/callback/"),
            Some("https://evil.example/callback"),
            None,
        ] {
            let h = Harness::new();
            let code = h.code();
            let result = h.redeem_as(&code, CLIENT, presented, Some(VERIFIER), Some(RESOURCE));
            assert_eq!(oauth_error(result), "invalid_grant", "{presented:?}");
        }
    }

    #[test]
    fn a_resource_other_than_the_authorized_one_is_invalid_target() {
        // RFC 8707 §2.2.
        let h = Harness::new();
        let code = h.code();
        let result = h.redeem_as(
            &code,
            CLIENT,
            Some(REDIRECT),
            Some(VERIFIER),
            Some("https://other.example/mcp"),
        );
        assert_eq!(oauth_error(result), "invalid_target");
        assert_eq!(h.access_records(), 0);
    }

    #[test]
    fn omitting_the_resource_binds_the_tokens_to_the_authorized_one() {
        let h = Harness::new();
        let code = h.code();
        let pair = h
            .redeem_as(&code, CLIENT, Some(REDIRECT), Some(VERIFIER), None)
            .unwrap();
        let record: AccessRecord =
            serde_json::from_str(&h.record(pair.access_token.secret()).unwrap()).unwrap();
        assert_eq!(record.resource, RESOURCE);
    }

    #[test]
    fn a_code_expires_after_code_ttl() {
        let h = Harness::new();
        let code = h.code();
        h.advance(CODE_TTL_SECS + 1);
        assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");

        let h = Harness::new();
        let code = h.code();
        h.advance(CODE_TTL_SECS - 1);
        assert!(
            h.redeem(&code).is_ok(),
            "still valid just before the end of its lifetime"
        );
    }

    #[test]
    fn a_guessed_code_for_the_grant_neither_works_nor_burns_the_real_one() {
        let h = Harness::new();
        let code = h.code();
        let guess = format!("mcpc.{}.{}", h.grant_id, "A".repeat(43));
        assert_eq!(oauth_error(h.redeem(&guess)), "invalid_grant");
        assert!(h.redeem(&code).is_ok());
    }

    #[test]
    fn a_code_for_an_unknown_grant_is_invalid_grant() {
        let h = Harness::new();
        let code = format!("mcpc.{}.{}", h.grant_id, "A".repeat(43));
        assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");
        assert!(h.state().is_none());
    }

    #[test]
    fn the_granted_scope_is_the_consented_one() {
        let h = Harness::new();
        let code = h.code_for(request_with_scope(&["mcp"]));
        let pair = h.redeem(&code).unwrap();
        assert_eq!(pair.scope, vec!["mcp"]);
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap().scopes,
            vec!["mcp"]
        );
    }
}

mod upstream_state {
    use super::*;

    #[test]
    fn the_state_is_single_use() {
        let h = Harness::new();
        let state = h.begin();
        assert!(h.take_state(&state).is_ok());
        assert!(is_state_error(h.take_state(&state)));
    }

    #[test]
    fn a_wrong_state_token_is_refused_and_does_not_consume_the_right_one() {
        let h = Harness::new();
        let state = h.begin();
        let forged = format!("{}.{}", h.grant_id, "B".repeat(43));
        assert!(is_state_error(h.take_state(&forged)));
        assert!(h.take_state(&state).is_ok());
    }

    #[test]
    fn a_state_expires_after_the_pending_lifetime() {
        let h = Harness::new();
        let state = h.begin();
        h.advance(PENDING_TTL_SECS + 1);
        assert!(is_state_error(h.take_state(&state)));
    }

    #[test]
    fn a_state_of_an_unknown_grant_is_refused() {
        let h = Harness::new();
        let state = format!("{}.{}", h.grant_id, "C".repeat(43));
        assert!(is_state_error(h.take_state(&state)));
    }

    #[test]
    fn a_code_is_issued_only_after_the_state_was_taken() {
        let h = Harness::new();
        assert!(is_state_error(h.issue_code()), "no grant at all");
        h.begin();
        assert!(is_state_error(h.issue_code()), "state not taken yet");
        assert!(h.state().unwrap().user_id.is_none());
    }

    #[test]
    fn a_code_is_issued_once() {
        let h = Harness::new();
        let state = h.begin();
        h.take_state(&state).unwrap();
        let code = h.issue_code().unwrap();
        assert!(is_state_error(h.issue_code()));
        assert!(
            is_state_error(h.take_state(&state)),
            "the sign-in is complete"
        );
        assert!(h.redeem(&code).is_ok(), "the first code is untouched");
    }

    #[test]
    fn a_grant_begins_once() {
        let h = Harness::new();
        h.begin();
        let again = h.run(GrantCommand::Begin {
            grant_id: h.grant_id.clone(),
            request: request(),
            upstream_verifier: UpstreamVerifier::new("v"),
            nonce: "n".into(),
            hold_until: 0,
        });
        assert!(matches!(
            again,
            Err(GrantError::State(
                mcp_oauth_worker::oauth::grant::StateProblem::ConsentUsed
            ))
        ));
        assert!(h.state().is_some());
    }

    #[test]
    fn grant_of_state_reads_the_grant_id_of_well_formed_state_tokens_only() {
        let id = "abcdefghijklmnop"; // 16 characters: the shortest id
        let secret = "s".repeat(43);
        assert_eq!(grant_of_state(&format!("{id}.{secret}")), Some(id));
        assert_eq!(
            grant_of_state(&format!("{}.{secret}", "a".repeat(64))),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(
            grant_of_state(&format!("abcdefghijklmno.{secret}")),
            None,
            "id too short"
        );
        assert_eq!(
            grant_of_state(&format!("{}.{secret}", "a".repeat(65))),
            None,
            "id too long"
        );
        assert_eq!(
            grant_of_state(&format!("abcdefgh:ijklmnop.{secret}")),
            None,
            "bad character"
        );
        assert_eq!(
            grant_of_state(&format!("{id}.{}", "s".repeat(31))),
            None,
            "secret too short"
        );
        assert_eq!(
            grant_of_state(&format!("{id}.{}", "s".repeat(129))),
            None,
            "secret too long"
        );
        assert_eq!(
            grant_of_state(&format!("{id}{secret}")),
            None,
            "no separator"
        );
        assert_eq!(grant_of_state(""), None);
    }

    #[test]
    fn parse_token_reads_the_kind_and_grant_of_our_tokens_only() {
        let id = "abcdefghijklmnop";
        let secret = "s".repeat(43);
        assert_eq!(
            parse_token(&format!("mcpc.{id}.{secret}")),
            Some((TokenKind::Code, id))
        );
        assert_eq!(
            parse_token(&format!("mcpr.{id}.{secret}")),
            Some((TokenKind::Refresh, id))
        );
        assert_eq!(
            parse_token(&format!("mcpa.{id}.{secret}")),
            Some((TokenKind::Access, id))
        );
        assert_eq!(parse_token(&format!("mcpx.{id}.{secret}")), None);
        assert_eq!(parse_token(&format!("mcpa.{id}")), None);
        assert_eq!(parse_token(&format!("mcpa.{id}.short")), None);
        assert_eq!(parse_token(&format!("mcpa.short.{secret}")), None);
    }

    #[test]
    fn abandon_forgets_a_grant_that_never_issued_a_code() {
        let h = Harness::new();
        h.begin();
        assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
        assert!(h.state().is_none());

        let h = Harness::new();
        let state = h.begin();
        h.take_state(&state).unwrap();
        assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
        assert!(h.state().is_none());

        let h = Harness::new();
        assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
        assert!(h.state().is_none());
    }

    #[test]
    fn abandon_keeps_a_grant_that_issued_a_code() {
        let h = Harness::new();
        let code = h.code();
        assert!(matches!(
            h.run(GrantCommand::Abandon),
            Err(GrantError::Internal)
        ));
        assert!(h.state().is_some());
        assert!(h.redeem(&code).is_ok());
        assert!(matches!(
            h.run(GrantCommand::Abandon),
            Err(GrantError::Internal)
        ));
        assert!(h.state().is_some());
    }
}

mod refresh_rotation {
    use super::*;

    #[test]
    fn a_retry_within_the_grace_window_gets_the_same_pair() {
        let h = Harness::new();
        let first = h.tokens();
        h.advance(100);
        let rotated = h.refresh(first.refresh_token.secret()).unwrap();
        h.advance(REFRESH_GRACE_SECS);
        let replay = h.refresh(first.refresh_token.secret()).unwrap();
        assert_eq!(replay.access_token.secret(), rotated.access_token.secret());
        assert_eq!(
            replay.refresh_token.secret(),
            rotated.refresh_token.secret()
        );
        assert_eq!(replay, rotated);
        assert_eq!(h.access_records(), 2, "a replay mints nothing");
        assert!(h.authenticate(replay.access_token.secret()).is_ok());
        assert!(
            h.refresh(replay.refresh_token.secret()).is_ok(),
            "the replayed refresh token is the current one"
        );
    }

    #[test]
    fn reuse_after_the_grace_window_revokes_the_grant() {
        // OAuth 2.1 §4.3.1: reuse of a rotated refresh token signals theft.
        let h = Harness::new();
        let first = h.tokens();
        let rotated = h.refresh(first.refresh_token.secret()).unwrap();
        h.advance(REFRESH_GRACE_SECS + 1);
        assert_eq!(
            oauth_error(h.refresh(first.refresh_token.secret())),
            "invalid_grant"
        );
        assert_eq!(
            oauth_error(h.refresh(rotated.refresh_token.secret())),
            "invalid_grant",
            "the current token dies too"
        );
        assert_eq!(h.access_records(), 0);
        assert_eq!(
            h.authenticate(rotated.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            h.authenticate(first.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
    }

    #[test]
    fn a_token_two_generations_old_revokes_the_grant_even_within_the_grace_window() {
        let h = Harness::new();
        let g0 = h.tokens();
        let g1 = h.refresh(g0.refresh_token.secret()).unwrap();
        let g2 = h.refresh(g1.refresh_token.secret()).unwrap();
        assert_eq!(
            oauth_error(h.refresh(g0.refresh_token.secret())),
            "invalid_grant"
        );
        assert_eq!(
            oauth_error(h.refresh(g2.refresh_token.secret())),
            "invalid_grant"
        );
        assert_eq!(h.access_records(), 0);
    }

    #[test]
    fn a_long_chain_of_rotations_still_detects_an_old_token() {
        let h = Harness::new();
        let mut current = h.tokens();
        let mut old = Vec::new();
        for _ in 0..10 {
            h.advance(REFRESH_GRACE_SECS + 1);
            old.push(current.refresh_token.clone());
            current = h.refresh(current.refresh_token.secret()).unwrap();
        }
        assert_eq!(oauth_error(h.refresh(old[3].secret())), "invalid_grant");
        assert_eq!(
            oauth_error(h.refresh(current.refresh_token.secret())),
            "invalid_grant"
        );
    }

    #[test]
    fn concurrent_refreshes_rotate_once_and_all_get_the_same_pair() {
        // Five refreshes with one token in flight at once, on one platform: the
        // grant's object serializes them, so the first rotates and the others
        // are retries within the grace window that get the same pair.
        let h = Harness::new();
        let first = h.tokens();
        h.advance(500);
        let answers: Vec<TokenPair> = h
            .concurrent_refreshes(first.refresh_token.secret(), 5)
            .into_iter()
            .map(|a| a.expect("every concurrent refresh succeeds"))
            .collect();
        assert_eq!(answers.len(), 5);
        assert!(answers.iter().all(|a| *a == answers[0]));
        assert_ne!(answers[0].refresh_token, first.refresh_token);
        assert_eq!(
            h.access_records(),
            2,
            "exactly one rotation minted one access token"
        );
        assert_eq!(h.state().unwrap().revoked_at, None);
        assert!(h.authenticate(answers[0].access_token.secret()).is_ok());
        let next = h.refresh(answers[0].refresh_token.secret()).unwrap();
        assert_ne!(next, answers[0]);
    }

    #[test]
    fn concurrent_refreshes_refresh_upstream_once_and_never_spend_its_token_twice() {
        // A rotating upstream provider (GitHub App tokens, many OIDC providers):
        // its refresh token is single use. Concurrent refreshes of one grant
        // must call it once, inside the grant's serialization.
        let h = Harness::new();
        let first = h.tokens();
        *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        h.advance(500);
        let answers: Vec<TokenPair> = h
            .concurrent_refreshes(first.refresh_token.secret(), 5)
            .into_iter()
            .map(|a| a.expect("every concurrent refresh succeeds"))
            .collect();
        assert!(answers.iter().all(|a| *a == answers[0]));
        assert_eq!(h.p.provider.refresh_calls.get(), 1);
        let spent = h.p.provider.spent_refresh_tokens.borrow().clone();
        assert_eq!(spent, vec![UPSTREAM_REFRESH.to_owned()]);
        assert_eq!(h.access_records(), 2);
        assert_eq!(h.state().unwrap().revoked_at, None);
        // The new access token carries the provider's new token.
        let ctx = h.authenticate(answers[0].access_token.secret()).unwrap();
        assert_eq!(ctx.upstream_token.unwrap().expose(), "up-access-1");
        // And the next round of concurrent refreshes spends the new upstream
        // refresh token once, never the old one again.
        h.advance(REFRESH_GRACE_SECS + 1);
        let again: Vec<TokenPair> = h
            .concurrent_refreshes(answers[0].refresh_token.secret(), 3)
            .into_iter()
            .map(|a| a.expect("every concurrent refresh succeeds"))
            .collect();
        assert!(again.iter().all(|a| *a == again[0]));
        assert_eq!(h.p.provider.refresh_calls.get(), 2);
        assert_eq!(
            *h.p.provider.spent_refresh_tokens.borrow(),
            vec![UPSTREAM_REFRESH.to_owned(), "up-refresh-1".to_owned()]
        );
    }

    #[test]
    fn a_refresh_may_narrow_the_scope() {
        // RFC 6749 §6.
        let h = Harness::new();
        let first = h.tokens();
        let narrow = h
            .refresh_as(first.refresh_token.secret(), CLIENT, Some(&["mcp"]), None)
            .unwrap();
        assert_eq!(narrow.scope, vec!["mcp"]);
        assert_eq!(
            h.authenticate(narrow.access_token.secret()).unwrap().scopes,
            vec!["mcp"]
        );
    }

    #[test]
    fn a_refresh_may_not_widen_the_scope() {
        let h = Harness::new();
        let code = h.code_for(request_with_scope(&["mcp"]));
        let first = h.redeem(&code).unwrap();
        let wider = h.refresh_as(
            first.refresh_token.secret(),
            CLIENT,
            Some(&["mcp", "github:repos"]),
            None,
        );
        assert_eq!(oauth_error(wider), "invalid_scope");
        assert!(
            h.refresh(first.refresh_token.secret()).is_ok(),
            "a refused request does not spend the token"
        );
    }

    #[test]
    fn a_refresh_for_another_resource_is_invalid_target() {
        let h = Harness::new();
        let first = h.tokens();
        let result = h.refresh_as(
            first.refresh_token.secret(),
            CLIENT,
            None,
            Some("https://other.example/mcp"),
        );
        assert_eq!(oauth_error(result), "invalid_target");
        assert!(h
            .refresh_as(first.refresh_token.secret(), CLIENT, None, Some(RESOURCE))
            .is_ok());
    }

    #[test]
    fn a_refresh_token_of_another_client_is_invalid_grant() {
        let h = Harness::new();
        let first = h.tokens();
        let result = h.refresh_as(first.refresh_token.secret(), OTHER_CLIENT, None, None);
        assert_eq!(oauth_error(result), "invalid_grant");
        assert_eq!(
            h.access_records(),
            1,
            "another client's attempt does not revoke the grant"
        );
        assert!(h.refresh(first.refresh_token.secret()).is_ok());
    }

    #[test]
    fn a_grant_expires_refresh_ttl_after_its_last_rotation() {
        let h = Harness::new();
        let first = h.tokens();
        h.advance(REFRESH_TTL + 1);
        assert_eq!(
            oauth_error(h.refresh(first.refresh_token.secret())),
            "invalid_grant"
        );

        let h = Harness::new();
        let first = h.tokens();
        h.advance(REFRESH_TTL - 1);
        assert!(h.refresh(first.refresh_token.secret()).is_ok());
    }

    #[test]
    fn an_access_token_is_not_a_refresh_token() {
        let h = Harness::new();
        let first = h.tokens();
        assert_eq!(
            oauth_error(h.refresh(first.access_token.secret())),
            "invalid_grant"
        );
        assert!(h.refresh(first.refresh_token.secret()).is_ok());
    }
}

mod revocation {
    use super::*;

    #[test]
    fn revoking_the_access_token_ends_the_grant() {
        // RFC 7009 §2.1.
        let h = Harness::new();
        let pair = h.tokens();
        h.revoke_as(pair.access_token.secret(), CLIENT).unwrap();
        assert_eq!(h.access_records(), 0);
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            oauth_error(h.refresh(pair.refresh_token.secret())),
            "invalid_grant"
        );
    }

    #[test]
    fn revoking_the_refresh_token_ends_the_grant() {
        let h = Harness::new();
        let pair = h.tokens();
        h.revoke_as(pair.refresh_token.secret(), CLIENT).unwrap();
        assert_eq!(h.access_records(), 0);
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            oauth_error(h.refresh(pair.refresh_token.secret())),
            "invalid_grant"
        );
    }

    #[test]
    fn another_client_cannot_revoke_the_grant() {
        // RFC 7009 §2.1: the server verifies the token was issued to the client.
        let h = Harness::new();
        let pair = h.tokens();
        assert!(h
            .revoke_as(pair.refresh_token.secret(), OTHER_CLIENT)
            .is_ok());
        assert!(h
            .revoke_as(pair.access_token.secret(), OTHER_CLIENT)
            .is_ok());
        assert_eq!(h.access_records(), 1);
        assert!(h.authenticate(pair.access_token.secret()).is_ok());
        assert!(h.refresh(pair.refresh_token.secret()).is_ok());
    }

    #[test]
    fn an_unknown_token_is_not_an_error() {
        // RFC 7009 §2.2.
        let h = Harness::new();
        assert!(h
            .revoke_as(
                "mcpr.nothing-here-at-all.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                CLIENT
            )
            .is_ok());
        assert!(h.state().is_none());
        let pair = h.tokens();
        assert!(h.revoke_as("not-a-token", CLIENT).is_ok());
        assert!(h.authenticate(pair.access_token.secret()).is_ok());
    }

    #[test]
    fn revoking_twice_is_harmless() {
        let h = Harness::new();
        let pair = h.tokens();
        h.revoke_as(pair.refresh_token.secret(), CLIENT).unwrap();
        let revoked_at = h.state().unwrap().revoked_at;
        h.advance(10);
        assert!(h.revoke_as(pair.refresh_token.secret(), CLIENT).is_ok());
        assert_eq!(h.state().unwrap().revoked_at, revoked_at);
    }

    #[test]
    fn the_just_rotated_refresh_token_still_revokes_within_the_grace_window() {
        let h = Harness::new();
        let first = h.tokens();
        let rotated = h.refresh(first.refresh_token.secret()).unwrap();
        h.revoke_as(first.refresh_token.secret(), CLIENT).unwrap();
        assert_eq!(h.access_records(), 0);
        assert_eq!(
            oauth_error(h.refresh(rotated.refresh_token.secret())),
            "invalid_grant"
        );
    }
}

mod access_tokens {
    use super::*;

    fn tamper(record: &str, field: &str) -> String {
        let mut value: serde_json::Value = serde_json::from_str(record).unwrap();
        let text = value[field].as_str().unwrap().to_owned();
        let mut bytes = text.into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        value[field] = serde_json::Value::String(String::from_utf8(bytes).unwrap());
        value.to_string()
    }

    #[test]
    fn a_token_for_another_resource_is_wrong_resource() {
        // RFC 8707: the audience is checked.
        let h = Harness::new();
        let pair = h.tokens();
        let record = h.record(pair.access_token.secret());
        let record = record.as_deref();
        let result = grant::authenticate(
            record,
            pair.access_token.secret(),
            &["https://other.example/mcp"],
            h.now(),
            &ring(),
        );
        assert_eq!(result.unwrap_err(), AccessError::WrongResource);
    }

    #[test]
    fn an_access_token_expires_after_its_lifetime() {
        let h = Harness::new();
        let pair = h.tokens();
        h.advance(ACCESS_TTL - 1);
        assert!(h.authenticate(pair.access_token.secret()).is_ok());
        h.advance(1);
        assert_eq!(
            h.authenticate(pair.access_token.secret()).unwrap_err(),
            AccessError::Invalid
        );
    }

    #[test]
    fn an_edited_record_cannot_widen_what_its_token_may_do() {
        // Someone able to write KV changes the record behind a token: a wider
        // scope, a later expiry, another client or resource. The fields are bound
        // into the wrapped key, so the record no longer unwraps.
        let h = Harness::new();
        let first = h.tokens();
        // A token narrowed to `mcp` alone, so widening its scope would matter.
        let pair = h
            .refresh_as(first.refresh_token.secret(), CLIENT, Some(&["mcp"]), None)
            .unwrap();
        assert_eq!(pair.scope, ["mcp"]);
        let record = h.record(pair.access_token.secret()).unwrap().clone();
        let edits: [(&str, serde_json::Value); 4] = [
            ("scope", serde_json::json!(["mcp", "github:repos"])),
            ("expires_at", serde_json::json!(h.now() + 10 * ACCESS_TTL)),
            ("client_id", serde_json::json!("another-client")),
            ("user_id", serde_json::json!("github:1")),
        ];
        for (field, value) in edits {
            let mut edited: serde_json::Value = serde_json::from_str(&record).unwrap();
            edited[field] = value;
            let result = grant::authenticate(
                Some(&edited.to_string()),
                pair.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &ring(),
            );
            assert_eq!(result.unwrap_err(), AccessError::Invalid, "{field}");
        }
        assert!(grant::authenticate(
            Some(&record),
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring()
        )
        .is_ok());
    }

    #[test]
    fn a_tampered_record_is_invalid() {
        let h = Harness::new();
        let pair = h.tokens();
        let record = h.record(pair.access_token.secret()).unwrap().clone();
        for field in ["wrapped_key", "props"] {
            let bad = tamper(&record, field);
            assert_ne!(bad, record);
            let result = grant::authenticate(
                Some(&bad),
                pair.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &ring(),
            );
            assert_eq!(result.unwrap_err(), AccessError::Invalid, "{field}");
        }
        assert_eq!(
            grant::authenticate(
                Some("{not json"),
                pair.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &ring()
            )
            .unwrap_err(),
            AccessError::Invalid
        );
        assert_eq!(
            grant::authenticate(
                None,
                pair.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &ring()
            )
            .unwrap_err(),
            AccessError::Invalid
        );
    }

    #[test]
    fn a_record_needs_the_server_secret() {
        let h = Harness::new();
        let pair = h.tokens();
        let record = h.record(pair.access_token.secret());
        let record = record.as_deref();
        let other = "another-server-secret-0123456789abcdef";
        assert_eq!(
            grant::authenticate(
                record,
                pair.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &Keyring::new(other, None)
            )
            .unwrap_err(),
            AccessError::Invalid
        );
        // After a rotation that keeps the old key as SECRET_KEY_PREVIOUS, it opens.
        assert!(grant::authenticate(
            record,
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &Keyring::new(other, Some(SECRET))
        )
        .is_ok());
    }

    #[test]
    fn a_token_of_another_grant_does_not_open_a_record() {
        let a = Harness::seeded(1);
        let b = Harness::seeded(1_000_000);
        let pa = a.tokens();
        let pb = b.tokens();
        assert_ne!(a.grant_id, b.grant_id);
        let record_a = a.record(pa.access_token.secret());
        let record_a = record_a.as_deref();
        assert_eq!(
            grant::authenticate(
                record_a,
                pb.access_token.secret(),
                &[RESOURCE],
                a.now(),
                &ring()
            )
            .unwrap_err(),
            AccessError::Invalid
        );
        // Same grant id spelled into the token, wrong secret.
        let forged = format!("mcpa.{}.{}", a.grant_id, "Z".repeat(43));
        assert_eq!(
            grant::authenticate(record_a, &forged, &[RESOURCE], a.now(), &ring()).unwrap_err(),
            AccessError::Invalid
        );
        // A refresh token is never an access token.
        assert_eq!(
            grant::authenticate(
                record_a,
                pa.refresh_token.secret(),
                &[RESOURCE],
                a.now(),
                &ring()
            )
            .unwrap_err(),
            AccessError::Invalid
        );
    }

    #[test]
    fn another_access_token_of_the_same_grant_does_not_open_the_record() {
        let h = Harness::new();
        let first = h.tokens();
        let second = h.refresh(first.refresh_token.secret()).unwrap();
        let record = h.record(first.access_token.secret());
        let record = record.as_deref();
        assert_eq!(
            grant::authenticate(
                record,
                second.access_token.secret(),
                &[RESOURCE],
                h.now(),
                &ring()
            )
            .unwrap_err(),
            AccessError::Invalid
        );
    }

    #[test]
    fn the_user_context_has_the_user_the_scope_and_the_upstream_token() {
        let h = Harness::new();
        let pair = h.tokens();
        let ctx = h.authenticate(pair.access_token.secret()).unwrap();
        assert_eq!(ctx.user, props().user);
        assert_eq!(
            ctx.upstream_token.as_ref().map(|s| s.expose()),
            Some(UPSTREAM_ACCESS)
        );
        assert_eq!(ctx.scopes, vec!["mcp", "github:repos"]);
        assert!(ctx.has_scope("github:repos"));
        assert_eq!(ctx.client_id.as_deref(), Some(CLIENT));
    }

    #[test]
    fn a_user_without_upstream_tokens_has_no_upstream_token() {
        let h = Harness::new();
        let state = h.begin();
        h.take_state(&state).unwrap();
        let code = h
            .issue_code_with(Props {
                upstream: None,
                ..props()
            })
            .unwrap();
        let pair = h.redeem(&code).unwrap();
        assert!(h
            .authenticate(pair.access_token.secret())
            .unwrap()
            .upstream_token
            .is_none());
    }
}

mod storage_hygiene {
    use super::*;

    /// The secret part of a token (after `<prefix>.<grant id>.`), or the token.
    fn secret_part(token: &str) -> &str {
        token.rsplit('.').next().unwrap_or(token)
    }

    fn assert_clean(h: &Harness) {
        assert!(!h.p.everything_ever_written().is_empty());
        for secret in h.secrets.borrow().iter() {
            for stored in &h.p.everything_ever_written() {
                assert!(
                    !stored.contains(secret.as_str()),
                    "a plaintext secret is stored: {stored}"
                );
                assert!(
                    !stored.contains(secret_part(secret)),
                    "a token's secret is stored: {stored}"
                );
            }
        }
    }

    #[test]
    fn storage_holds_only_hashes_and_sealed_values() {
        let h = Harness::new();
        let first = h.tokens();
        let rotated = h.refresh(first.refresh_token.secret()).unwrap();
        let replay = h.refresh(first.refresh_token.secret()).unwrap();
        assert_eq!(replay, rotated);
        // A refresh that rotates the upstream tokens too: they are stored sealed.
        *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
        h.keep("up-access-1");
        h.keep("up-refresh-1");
        let third = h.refresh(rotated.refresh_token.secret()).unwrap();
        assert_eq!(h.p.provider.refresh_calls.get(), 1);
        assert!(h.authenticate(third.access_token.secret()).is_ok());
        // Includes the state token, the code, three pairs and both generations
        // of upstream tokens.
        assert!(h.secrets.borrow().len() >= 11);
        assert_clean(&h);
        // And the state currently stored, once more, in full.
        let state = serde_json::to_string(&h.state().unwrap()).unwrap();
        assert!(state.contains(&crypto::hash_token(rotated.refresh_token.secret())));
        assert!(!state.contains(rotated.refresh_token.secret()));
    }

    #[test]
    fn storage_stays_clean_through_theft_and_revocation() {
        let h = Harness::new();
        let first = h.tokens();
        let _ = h.refresh(first.refresh_token.secret()).unwrap();
        h.advance(REFRESH_GRACE_SECS + 1);
        let _ = h.refresh(first.refresh_token.secret());
        let second = {
            let h2 = Harness::seeded(77);
            let p = h2.tokens();
            h2.revoke_as(p.access_token.secret(), CLIENT).unwrap();
            assert_clean(&h2);
            p
        };
        assert_ne!(second.access_token, first.access_token);
        assert_clean(&h);
    }

    #[test]
    fn access_records_carry_the_grant_key_only_wrapped() {
        let h = Harness::new();
        let pair = h.tokens();
        let record: AccessRecord =
            serde_json::from_str(&h.record(pair.access_token.secret()).unwrap()).unwrap();
        assert_eq!(record.grant_id, h.grant_id);
        assert_eq!(record.user_id, "github:42");
        assert_eq!(record.client_id, CLIENT);
        assert_eq!(record.expires_at, h.now() + ACCESS_TTL);
        assert!(!record.props.contains("octocat"), "props are sealed");
        let binding = record.binding();
        assert!(ring()
            .unwrap_key(
                pair.refresh_token.secret(),
                &record.wrapped_key,
                purpose::WRAP_ACCESS,
                &binding
            )
            .is_err());
        assert!(ring()
            .unwrap_key(
                pair.access_token.secret(),
                &record.wrapped_key,
                purpose::WRAP_ACCESS,
                &binding
            )
            .is_ok());
    }
}
