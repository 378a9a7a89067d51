//! Shared fixtures of the native tests: an in-memory platform that runs the
//! core exactly as the Worker does (KV with TTLs, one grant object per grant
//! running `oauth::grant::object::GrantObject`, commands and answers through
//! JSON), a scriptable upstream identity provider, deterministic randomness, a
//! clock, a cookie jar, and a tiny executor for concurrent requests.
#![allow(dead_code)]

pub mod apps_world;
pub mod browser;
pub mod cimd_clients;
pub mod documents;
pub mod fault_world;
pub mod faults;
pub mod flow_world;
pub mod grant_harness;
pub mod http;
pub mod mcp_harness;
pub mod mcp_seal;
pub mod platform;
pub mod provider;
pub mod upstream_fixtures;

// Not every test file uses every fixture.
#[allow(unused_imports)]
pub use browser::{
    authorize_query, body_text, form, form_field, grant_of, json_of, json_of as body_json,
    location, mcp_caller, query_param, s, Browser, Jar, FORM,
};
#[allow(unused_imports)]
pub use documents::{fake_sign, FakeDocuments};
#[allow(unused_imports)]
pub use faults::{Fault, FaultPlan, Never};
pub use http::NoHttp;
#[allow(unused_imports)]
pub use platform::{Counts, Faulty, IndexSlot, ObjectSlot, Platform};
#[allow(unused_imports)]
pub use provider::{upstream_tokens, user, FakeProvider, UpstreamRefresh};

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use mcp_oauth_worker::config::Config;
use mcp_oauth_worker::oauth::crypto::{CryptoError, Entropy};

pub const T0: u64 = 1_750_000_000;
pub const SECRET: &str = "test-server-secret-0123456789abcdef-xyz";
pub const ISSUER: &str = "https://mcp.example";
pub const RESOURCE: &str = "https://mcp.example/mcp";
pub const REDIRECT: &str = "https://app.example.com/callback";
/// The deployment's `ADMIN_TOKEN`, where a test sets one.
pub const ADMIN: &str = "admin-token-0123456789abcdef-0123456789";

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Deterministic randomness: a counter run through SplitMix64, so every
/// secret differs but every run is the same.
pub struct CountingEntropy(pub Cell<u64>);

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in buf.chunks_mut(8) {
            let n = self.0.get();
            self.0.set(n.wrapping_add(SPLITMIX_STEP));
            chunk.copy_from_slice(&splitmix(n).to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

const SPLITMIX_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64: the value after the counter `n`.
fn splitmix(n: u64) -> u64 {
    let n = n.wrapping_add(SPLITMIX_STEP);
    let mut z = n;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Settings as a deployment would have them; `extra` adds or replaces variables.
pub fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", SECRET),
        ("PUBLIC_URL", ISSUER),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid")
}

/// Yields to the executor once, so concurrent requests really interleave.
pub struct YieldNow(bool);

pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs `futures` concurrently on this thread and returns their outputs in order.
pub fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    struct JoinAll<F: Future> {
        futures: Vec<Option<Pin<Box<F>>>>,
        outputs: Vec<Option<F::Output>>,
    }
    impl<F: Future> Future for JoinAll<F> {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            // Safe: nothing here is structurally pinned (the futures are boxed).
            let this = unsafe { self.get_unchecked_mut() };
            let mut pending = false;
            for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
                if let Some(f) = slot {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(v) => {
                            *out = Some(v);
                            *slot = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(this.outputs.iter_mut().map(|o| o.take().unwrap()).collect())
            }
        }
    }
    let n = futures.len();
    pollster::block_on(JoinAll {
        futures: futures.into_iter().map(|f| Some(Box::pin(f))).collect(),
        outputs: (0..n).map(|_| None).collect(),
    })
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
