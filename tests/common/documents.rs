//! Client ID Metadata Documents as the in-memory platform serves them: scripted
//! answers to document fetches, an isolate cache, a stand-in signature check and
//! a jti register.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use mcp_oauth_worker::oauth::cimd::{ClientDocuments, DocumentCache, FetchError, Fetched, SigAlg};
use mcp_oauth_worker::outbound::LocalBoxFuture;

use super::faults::{before, FaultPlan};
use super::yield_now;

/// Scripted answers to document fetches, an isolate cache, a stand-in
/// signature check, and a jti register.
///
/// The stand-in signature of `signed` under a key is `fake_sign(kid, signed)`:
/// real RS256/ES256 verification is WebCrypto's, tested in e2e; here only the
/// core's plumbing around it is.
#[derive(Default)]
pub struct FakeDocuments {
    pub answers: RefCell<HashMap<String, Result<Fetched, FetchError>>>,
    pub fetches: RefCell<Vec<String>>,
    pub cache: RefCell<DocumentCache>,
    pub used: RefCell<HashMap<String, u64>>,
    pub faults: Rc<FaultPlan>,
}

pub fn fake_sign(key: &serde_json::Value, signed: &[u8]) -> Vec<u8> {
    let mut out = key.to_string().into_bytes();
    out.extend_from_slice(signed);
    mcp_oauth_worker::oauth::crypto::hash_token(&String::from_utf8_lossy(&out)).into_bytes()
}

impl FakeDocuments {
    /// Serves `doc` at `url` with 200 and `cache_control`.
    pub fn serve(&self, url: &str, doc: &serde_json::Value, cache_control: Option<&str>) {
        self.answer(
            url,
            Ok(Fetched {
                status: 200,
                cache_control: cache_control.map(str::to_owned),
                content_type: Some("application/json".into()),
                body: doc.to_string().into_bytes(),
            }),
        );
    }
    pub fn answer(&self, url: &str, answer: Result<Fetched, FetchError>) {
        self.answers.borrow_mut().insert(url.to_owned(), answer);
    }
    pub fn fetch_count(&self, url: &str) -> usize {
        self.fetches.borrow().iter().filter(|u| *u == url).count()
    }
}

impl ClientDocuments for FakeDocuments {
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(async move {
            before(&self.faults, "fetch.document", false)
                .await
                .map_err(FetchError::Unreachable)?;
            self.fetches.borrow_mut().push(url.to_owned());
            yield_now().await;
            self.answers
                .borrow()
                .get(url)
                .cloned()
                .unwrap_or(Err(FetchError::Unreachable("no such host".into())))
        })
    }
    fn cache(&self) -> &RefCell<DocumentCache> {
        &self.cache
    }
    fn verify_signature<'a>(
        &'a self,
        _alg: SigAlg,
        jwk: &'a serde_json::Value,
        signed: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { Ok(fake_sign(jwk, signed) == signature) })
    }
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        until: u64,
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            yield_now().await;
            let mut used = self.used.borrow_mut();
            if used.contains_key(key) {
                return Ok(false);
            }
            used.insert(key.to_owned(), until);
            Ok(true)
        })
    }
}
