//! The commands a grant's object runs, their answers, and the port that
//! sends them ([`GrantObjects`]). They cross the boundary to the Durable
//! Object as JSON; errors stay typed ([`GrantError`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::codes::{self, CodeRedemption};
use super::state::{AuthorizationRequest, Effect, GrantError, GrantState, Keys, Props, Step};
use super::{inspect, revoke};
use crate::oauth::crypto::Entropy;
use crate::oauth::kv::StoreError;
use crate::oauth::types::{
    AnyToken, AuthCode, PresentedVerifier, RefreshToken, StateToken, UpstreamVerifier,
};
use crate::outbound::LocalBoxFuture;

/// A command to a grant's serializer.
#[derive(Debug, Serialize, Deserialize)]
// Externally tagged (serde's default): internally tagged enums buffer their input
// and cost several KB of wasm each.
#[serde(rename_all = "snake_case")]
pub enum GrantCommand {
    Begin {
        grant_id: String,
        request: AuthorizationRequest,
        upstream_verifier: UpstreamVerifier,
        nonce: String,
        /// When the consent form that begins it expires (0: no form).
        #[serde(default)]
        hold_until: u64,
    },
    TakeState {
        state: StateToken,
    },
    IssueCode {
        props: Props,
    },
    /// The upstream sign-in failed or was refused: forget the grant.
    Abandon,
    Redeem {
        code: AuthCode,
        client_id: String,
        redirect_uri: Option<String>,
        code_verifier: Option<PresentedVerifier>,
        resource: Option<String>,
    },
    /// Rotation, with the upstream refresh and the sign-in policy checked inside
    /// the grant's serialization (see `object`).
    Refresh {
        refresh_token: RefreshToken,
        client_id: String,
        scope: Option<Vec<String>>,
        resource: Option<String>,
    },
    Revoke {
        token: AnyToken,
        client_id: String,
    },
    /// Read-only: the grant's status if it is live (`inspect::GrantView`).
    Status,
    /// Read-only: whether a token of this grant is live (`inspect::GrantView`).
    Introspect(AnyToken),
    /// Ends the grant without a token: its user on the account page
    /// (`user_id` must match) or an operator (`None`). Answers a bool.
    End(Option<String>),
}

/// The answer of a grant command: the command's value as JSON, or its error.
pub type GrantAnswer = Result<serde_json::Value, GrantError>;

/// The grants' Durable Objects, as the flows call them (`crate::keys::grant`
/// names each one).
pub trait GrantObjects {
    /// Runs `command` in the serializer of grant `grant_id` and returns its answer.
    fn grant<'a>(
        &'a self,
        grant_id: &'a str,
        command: &'a GrantCommand,
    ) -> LocalBoxFuture<'a, Result<GrantAnswer, StoreError>>;
}

/// Back to a typed result on the caller's side.
pub fn typed<T: DeserializeOwned>(answer: GrantAnswer) -> Result<T, GrantError> {
    answer.and_then(|v| serde_json::from_value(v).map_err(|_| GrantError::Internal))
}

/// A step's answer as JSON.
pub(crate) fn answer_of<T: Serialize>(result: Result<T, GrantError>) -> GrantAnswer {
    result.and_then(|v| serde_json::to_value(v).map_err(|_| GrantError::Internal))
}

/// What a transition produced: the state to keep (`None` deletes it), the KV
/// effects to apply after storing it, and the answer.
pub struct Outcome {
    pub state: Option<GrantState>,
    pub effects: Vec<Effect>,
    pub answer: GrantAnswer,
}

impl<T: Serialize> From<Step<T>> for Outcome {
    fn from(step: Step<T>) -> Outcome {
        Outcome {
            state: step.state,
            effects: step.effects,
            answer: answer_of(step.result),
        }
    }
}

/// Runs every command that needs nothing but the state (all but `Refresh`,
/// which the object runs itself because it may call the upstream provider).
pub fn execute(
    state: Option<GrantState>,
    command: GrantCommand,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Outcome {
    match command {
        GrantCommand::Begin {
            grant_id,
            request,
            upstream_verifier,
            nonce,
            hold_until,
        } => codes::begin(
            state,
            &grant_id,
            request,
            upstream_verifier,
            (nonce, hold_until),
            now,
            rng,
        )
        .into(),
        GrantCommand::TakeState { state: token } => codes::take_state(state, &token, now).into(),
        GrantCommand::IssueCode { props } => {
            codes::issue_code(state, &props, now, keys, rng).into()
        }
        GrantCommand::Abandon => {
            // Only a grant that never issued a code may be forgotten this way.
            if state.as_ref().is_none_or(|s| s.user_id.is_none()) {
                // Kept as a trace while its consent form is valid, so the
                // form cannot begin it again.
                let trace = state.filter(|s| s.hold_until > now).map(|mut s| {
                    s.pending = None;
                    s.expires_at = s.hold_until;
                    s
                });
                Step::ok(trace, (), Vec::new()).into()
            } else {
                Step::<()>::fail(state, GrantError::Internal).into()
            }
        }
        GrantCommand::Redeem {
            code,
            client_id,
            redirect_uri,
            code_verifier,
            resource,
        } => {
            let input = CodeRedemption {
                code: &code,
                client_id: &client_id,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_ref().map(PresentedVerifier::secret),
                resource: resource.as_deref(),
            };
            codes::redeem_code(state, &input, now, keys, rng).into()
        }
        GrantCommand::Revoke { token, client_id } => {
            revoke::revoke(state, &token, &client_id, now).into()
        }
        GrantCommand::Status => {
            let answer = inspect::status(state.as_ref(), now);
            Step::ok(state, answer, Vec::new()).into()
        }
        GrantCommand::Introspect(token) => {
            let answer = inspect::introspect(state.as_ref(), &token, now);
            Step::ok(state, answer, Vec::new()).into()
        }
        GrantCommand::End(user_id) => revoke::end_by_owner(state, user_id.as_deref(), now).into(),
        GrantCommand::Refresh { .. } => Step::<()>::fail(state, GrantError::Internal).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redemption_never_prints_its_code_or_verifier() {
        let command = GrantCommand::Redeem {
            code: AuthCode::new("mcpc.grant.code-secret"),
            client_id: "c".into(),
            redirect_uri: None,
            code_verifier: Some(PresentedVerifier::new("verifier-secret-value")),
            resource: None,
        };
        let printed = format!("{command:?}");
        assert!(!printed.contains("code-secret"), "{printed}");
        assert!(!printed.contains("verifier-secret-value"), "{printed}");
        // The wire form is unchanged: the bare string.
        let wire = serde_json::to_string(&command).unwrap();
        assert!(
            wire.contains("\"code_verifier\":\"verifier-secret-value\""),
            "{wire}"
        );
    }
}
