//! Where the authorization server keeps things, as its flows see it: three
//! ports, each implemented by the Cloudflare shell over the platform and by
//! `tests/common` in memory.
//!
//! - [`Kv`] (`oauth::kv`): Workers KV, keys with TTLs;
//! - [`GrantObjects`] (`oauth::grant::command`): the call to a grant's
//!   serializer, its Durable Object;
//! - [`IndexObjects`] (`oauth::index`): the call to a user's or a client's
//!   grant index object.
//!
//! A flow that needs all three takes a [`Store`]; one that needs less takes
//! the port it uses. The grant objects themselves see KV and the indexes only
//! (`grant::object::EffectStore`), never this module. The key layout is
//! `crate::keys`.

pub use crate::oauth::grant::command::GrantObjects;
pub use crate::oauth::index::IndexObjects;
pub use crate::oauth::kv::{KeyPage, Kv, StoreError};

/// All of the authorization server's storage: anything that implements the
/// three ports.
pub trait Store: Kv + GrantObjects + IndexObjects {}

impl<T: Kv + GrantObjects + IndexObjects + ?Sized> Store for T {}
