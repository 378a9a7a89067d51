//! What a bad setting becomes: one [`ConfigError`] that names the variable and
//! says how to set it.

/// A setting is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set. {hint}")]
    Missing { name: &'static str, hint: String },
    #[error("{name} is invalid: {reason}. {hint}")]
    Invalid {
        name: &'static str,
        reason: String,
        hint: String,
    },
}

impl ConfigError {
    /// The variable this error is about.
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

pub(crate) fn secret_hint(name: &str) -> String {
    format!(
        "Set it with `npx wrangler secret put {name}` (locally: add it to .dev.vars, see .dev.vars.example)."
    )
}

pub(crate) fn var_hint(name: &str) -> String {
    format!("Set it under [vars] in wrangler.toml (locally: in .dev.vars, see .dev.vars.example); {name} is documented in .dev.vars.example.")
}
