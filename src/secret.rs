//! A secret string that cannot print: `Debug` shows `Secret([redacted])`, there
//! is no `Display` and no `PartialEq` (compare secrets with
//! `oauth::crypto::ct_eq`), and the value is reached only through
//! [`Secret::expose`].

use std::fmt;

/// A secret string. `Debug` never prints it; the value is reached only through
/// [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
