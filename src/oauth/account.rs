//! `/account`: the connected-applications page, where a person sees the
//! grants they gave and revokes them.
//!
//! - **Sign-in.** `GET /account/login` sends the browser to the same upstream
//!   provider as an authorization, with a state of its own kind
//!   (`account.<random>`), which `GET /callback` recognises and hands here.
//!   Nothing is stored: the state is bound to the browser by a cookie holding
//!   a random value that never appears in a URL and a MAC over it and the
//!   state (`Site::binding_cookie`), and the PKCE verifier and nonce towards the provider are derived
//!   from the state with `SECRET_KEY` (`crypto::derive`), so the callback
//!   recomputes them. `ALLOWED_USERS` applies as at any sign-in.
//! - **Session.** A signed cookie (`__Host-account` on https; HttpOnly,
//!   SameSite=Lax) naming the user, with a random CSRF value, for
//!   [`SESSION_TTL_SECS`]. The upstream tokens of this sign-in are not kept.
//! - **Revocation.** `POST /account/revoke` with the session's CSRF value and
//!   either `grant` (one grant) or `all=1`. The grant's object ends the grant
//!   (its refresh token stops working at once, its access records are deleted)
//!   and only if it belongs to the signed-in user. `all=1` ends one batch
//!   (`connections::PAGE_SIZE`) per request; when grants remain (more of them,
//!   or some could not be ended just now) the page says so and its "Revoke
//!   all" continues with them.
//! - **The list** comes from the user's grant index, checked grant by grant
//!   (`oauth::connections`), a page at a time (`?cursor=<end>.<grant id>`);
//!   a grant that cannot be read is left out of its page with a notice.

use crate::http::{HttpError, Reply};
use crate::keys::user_index;
use crate::oauth::connections;
use crate::oauth::crypto::{self, derive};
use crate::oauth::index::IndexCommand;
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::site::{store_fault, Site};
use crate::oauth::store::Store;
use crate::oauth::types::CsrfToken;
use crate::outbound::HttpClient;
use crate::upstream::{AuthorizeParams, ExchangeParams, ProviderSource};
use crate::user::user_allowed;
use crate::web::{self, account as page};

/// How long an account session lasts.
pub const SESSION_TTL_SECS: u64 = 15 * 60;
/// How long an account sign-in may take at the provider.
pub const SIGN_IN_TTL_SECS: u64 = 600;
/// The prefix of an account sign-in's state, which tells it apart at /callback
/// from an authorization's (`<grant id>.<secret>`, grant ids being 16+ chars).
pub const STATE_PREFIX: &str = "account.";

const SESSION_COOKIE: &str = "account";
const STATE_COOKIE: &str = "account-state";
const SESSION_PURPOSE: &str = "account-session";

/// The signed contents of the session cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub login: String,
    pub csrf: CsrfToken,
    pub expires_at: u64,
}

impl Session {
    /// `<expires>\n<csrf>\n<user id>\n<login>` (then signed): plain lines
    /// rather than JSON, one decoder fewer in the bundle. Only the login may
    /// hold a line break, and it comes last.
    fn encode(&self) -> Option<String> {
        (!self.user_id.contains('\n')).then(|| {
            format!(
                "{}\n{}\n{}\n{}",
                self.expires_at,
                self.csrf.secret(),
                self.user_id,
                self.login
            )
        })
    }

    fn decode(raw: &[u8]) -> Option<Session> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut parts = text.splitn(4, '\n');
        let expires_at = parts.next()?.parse().ok()?;
        let csrf = CsrfToken::new(parts.next()?);
        let user_id = parts.next()?.to_owned();
        let login = parts.next()?.to_owned();
        Some(Session {
            user_id,
            login,
            csrf,
            expires_at,
        })
    }
}

/// Whether a `/callback` state belongs to an account sign-in.
pub fn is_account_state(state: &str) -> bool {
    state.starts_with(STATE_PREFIX)
}

fn verifier_for(site: &Site<'_>, state: &str) -> CodeVerifier {
    CodeVerifier::from_random_bytes(&derive(site.ring().current(), "account-pkce", state))
}

fn nonce_for(site: &Site<'_>, state: &str) -> String {
    crypto::b64(&derive(site.ring().current(), "account-nonce", state))
}

/// The signed-in user of this browser, if the session cookie is valid (not
/// yet checked against a sign-out: [`live_session`]).
pub fn session(site: &Site<'_>) -> Option<Session> {
    site.cookie(SESSION_COOKIE)
        .and_then(|c| site.ring().verify(SESSION_PURPOSE, c))
        .and_then(|raw| Session::decode(&raw))
        .filter(|s| site.now < s.expires_at)
}

/// The signed-in user, if the session is valid and the user has not signed
/// out since it was issued (the time is kept in the user's index object, so
/// signing out ends every copy of the cookie, not only this browser's).
pub async fn live_session(
    site: &Site<'_>,
    store: &dyn Store,
) -> Result<Option<Session>, HttpError> {
    let Some(session) = session(site) else {
        return Ok(None);
    };
    let issued_at = session.expires_at.saturating_sub(SESSION_TTL_SECS);
    let signed_out = store
        .index(&user_index(&session.user_id), &IndexCommand::SignedOutAt)
        .await
        .map_err(store_fault)?;
    let ended = signed_out
        .first()
        .and_then(|t| t.parse::<u64>().ok())
        .is_some_and(|at| issued_at <= at);
    Ok((!ended).then_some(session))
}

fn message(status: u16, title: &str, text: &str) -> Reply {
    web::message_page(status, title, text)
}

/// `GET /account`: the list, or off to sign in.
pub async fn show(site: &Site<'_>, store: &dyn Store, query: &str) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let Some(session) = live_session(site, store).await? else {
        // Not signed in (or the session ended): straight to the sign-in.
        return Ok(Reply::redirect("/account/login"));
    };
    let number = |name: &str| field(query.as_bytes(), name).and_then(|n| n.parse().ok());
    let cursor = match field(query.as_bytes(), "cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => match connections::Cursor::parse(&raw) {
            Some(c) => Some(c),
            None => return Ok(message(400, "This page cannot be shown", "The link names a page of connections this server did not make. Open /account to start from the first page.")),
        },
    };
    let grants =
        connections::live_page(store, &user_index(&session.user_id), cursor.as_ref()).await?;
    Ok(page::connections(
        &session.login,
        &grants,
        session.csrf.secret(),
        page::Outcome {
            revoked: number("revoked"),
            left: field(query.as_bytes(), "left").as_deref() == Some("1"),
            failed: number("failed").unwrap_or(0),
            paged: cursor.is_some(),
        },
    ))
}

/// `GET /account/login`: off to the identity provider.
pub async fn login(site: &Site<'_>, upstream: &dyn ProviderSource) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let provider = upstream.provider().await?;
    let state = format!("{STATE_PREFIX}{}", site.random()?);
    let location = provider.authorize_url(&AuthorizeParams {
        callback_url: &site.callback_url(),
        state: state.as_str().into(),
        pkce_challenge: &pkce::challenge_for(&verifier_for(site, &state)),
        nonce: nonce_for(site, &state).as_str().into(),
    });
    Ok(Reply::redirect(&location).header(
        "Set-Cookie",
        &site.set_cookie(
            STATE_COOKIE,
            &site.binding_cookie(&state)?,
            SIGN_IN_TTL_SECS,
        ),
    ))
}

/// `GET /callback` for an account sign-in (the state says so).
pub async fn callback(
    site: &Site<'_>,
    upstream: &dyn ProviderSource,
    http: &dyn HttpClient,
    state: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Reply, HttpError> {
    if !site.binding_holds(STATE_COOKIE, state) {
        return Ok(message(400, "This sign-in cannot continue", "This sign-in was started in another browser, was already used, or took too long. Open /account and sign in again."));
    }
    let clear = site.clear_cookie(STATE_COOKIE);
    let fail = |text: &str| {
        message(400, "This sign-in cannot continue", text).header("Set-Cookie", &clear)
    };
    if error.is_some() {
        return Ok(fail(
            "The identity provider did not sign you in. Open /account to try again.",
        ));
    }
    let Some(code) = code else {
        return Ok(fail("The identity provider sent no code."));
    };
    let provider = upstream.provider().await?;
    let verifier = verifier_for(site, state);
    let nonce = nonce_for(site, state);
    let callback = site.callback_url();
    let params = ExchangeParams {
        code: code.into(),
        callback_url: &callback,
        pkce_verifier: verifier.secret().into(),
        nonce: nonce.as_str().into(),
        now: site.now,
    };
    let Ok(sign_in) = provider.exchange(http, params).await else {
        return Ok(fail(
            "The identity provider could not complete the sign-in. Open /account to try again.",
        ));
    };
    if !user_allowed(&site.config.allowed_users, &sign_in.user) {
        return Ok(message(
            403,
            "Not allowed",
            "You are not on this server's list of allowed users.",
        )
        .header("Set-Cookie", &clear));
    }
    let session = Session {
        user_id: sign_in.user.id,
        login: sign_in.user.login,
        csrf: CsrfToken::new(site.random()?),
        expires_at: site.now + SESSION_TTL_SECS,
    };
    let Some(payload) = session.encode() else {
        return Ok(fail("This account's id cannot be kept in a session."));
    };
    let cookie = site.set_cookie(
        SESSION_COOKIE,
        &site.ring().sign(SESSION_PURPOSE, payload.as_bytes()),
        SESSION_TTL_SECS,
    );
    Ok(Reply::redirect("/account")
        .header("Set-Cookie", &clear)
        .header("Set-Cookie", &cookie))
}

/// The first value of `name` in a form body or query string. (A plain
/// reader rather than a derived decoder per form: a smaller bundle.)
pub(crate) fn field(input: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(input)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `POST /account/revoke`.
pub async fn revoke(site: &Site<'_>, store: &dyn Store, body: &[u8]) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let Some(session) = live_session(site, store).await? else {
        return Ok(message(401, "Your session has ended", "Sign-in sessions on this page last 15 minutes. Open /account and sign in again; nothing was revoked."));
    };
    let Some(csrf) = field(body, "csrf").map(CsrfToken::new) else {
        return Ok(message(
            400,
            "Nothing was revoked",
            "The form was incomplete.",
        ));
    };
    // The CSRF value lives in the signed, HttpOnly session and in the page this
    // server rendered for it; a cross-site form has neither.
    if csrf != session.csrf {
        return Ok(message(403, "Nothing was revoked", "This request did not come from your account page (cross-site request refused). Open /account and try again."));
    }
    let ended = if field(body, "all").as_deref() == Some("1") {
        // One batch per request; the page offers to continue while any remain.
        let batch =
            connections::end_batch(store, &user_index(&session.user_id), Some(&session.user_id))
                .await?;
        let mut to = format!("/account?revoked={}", batch.ended);
        if batch.more {
            to.push_str("&left=1");
        }
        if batch.failed > 0 {
            to.push_str(&format!("&failed={}", batch.failed));
        }
        return Ok(Reply::redirect(&to));
    } else if let Some(grant) = field(body, "grant").filter(|g| !g.is_empty()) {
        usize::from(connections::end(store, &grant, Some(&session.user_id)).await?)
    } else {
        return Ok(message(
            400,
            "Nothing was revoked",
            "The form named no connection.",
        ));
    };
    Ok(Reply::redirect(&format!("/account?revoked={ended}")))
}

/// `POST /account/logout`: ends the session on the server too (every copy
/// of the cookie, see [`live_session`]), then clears this browser's. (No CSRF
/// check: another site signing a person out of this page costs them nothing
/// but a sign-in.)
pub async fn logout(site: &Site<'_>, store: &dyn Store) -> Result<Reply, HttpError> {
    if let Some(session) = session(site) {
        store
            .index(
                &user_index(&session.user_id),
                &IndexCommand::SignOut(site.now),
            )
            .await
            .map_err(store_fault)?;
    }
    Ok(Reply::redirect("/account").header("Set-Cookie", &site.clear_cookie(SESSION_COOKIE)))
}
