//! The 2026-07-28 request-state seal as the Worker builds it (the server's key ring,
//! AES-256-GCM), with a clock the test moves.

use std::cell::Cell;

use mcp_oauth_worker::mcp::input::{StateSeal, STATE_PURPOSE};
use mcp_oauth_worker::oauth::crypto::{Keyring, OsEntropy};

pub struct TestSeal {
    pub keyring: Keyring,
    pub now: Cell<u64>,
}

impl TestSeal {
    pub fn new(now: u64) -> TestSeal {
        TestSeal::with_secret("test-secret-0123456789abcdef-0123", now)
    }

    pub fn with_secret(secret: &str, now: u64) -> TestSeal {
        TestSeal {
            keyring: Keyring::new(secret, None),
            now: Cell::new(now),
        }
    }
}

impl StateSeal for TestSeal {
    fn seal(&self, plaintext: &[u8], context: &str) -> Option<String> {
        let rng = OsEntropy;
        self.keyring
            .seal_value(plaintext, STATE_PURPOSE, context, &rng)
            .ok()
    }

    fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        self.keyring.open_value(sealed, STATE_PURPOSE, context).ok()
    }

    fn now(&self) -> u64 {
        self.now.get()
    }
}
