//! Basic auth against bcrypt hashes, off the connection thread, with a cache of the
//! verifications that succeeded.
//!
//! bcrypt is slow by design (tens of milliseconds at cost 10), and a scraper sends the
//! same credentials every scrape, so a (user, password, hash) that verified once is
//! remembered, as the SHA-256 digest of the three, and later requests with it are let
//! in at the cost of a digest and a constant-time comparison. Verifications run on the
//! runtime's blocking threads, at most [`BCRYPT_AT_ONCE`] at a time, so neither the
//! accept loop nor the rendering waits for one. An unknown user is checked against a
//! dummy hash, so it takes as long as a wrong password.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::Engine;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Verifications of passwords not in the cache that run at once.
const BCRYPT_AT_ONCE: usize = 2;
/// Successful verifications remembered; the oldest is forgotten first.
const CACHE_ENTRIES: usize = 128;
/// A hash no password matches in practice, checked for unknown users (cost 10).
const DUMMY_HASH: &str = "$2b$10$cBqGPQ7Wn0kuq2yQ1mb2aexoj6YV3yGtr9y4uoyHCFdpq8WY3hSdm";

type Digest = [u8; 32];

/// The users and the cache of one server.
pub(super) struct Auth {
    users: BTreeMap<String, String>,
    verified: Mutex<VecDeque<Digest>>,
    slots: Arc<Semaphore>,
}

impl Auth {
    pub(super) fn new(users: BTreeMap<String, String>) -> Auth {
        Auth {
            users,
            verified: Mutex::new(VecDeque::with_capacity(CACHE_ENTRIES)),
            slots: Arc::new(Semaphore::new(BCRYPT_AT_ONCE)),
        }
    }

    /// Whether the `Authorization` header value names a user with its password.
    pub(super) async fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let digest = digest(&user, &password, &hash);
        if known && self.cached(&digest) {
            return true;
        }
        let Ok(_permit) = self.slots.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if ok && known {
            self.remember(digest);
        }
        ok && known
    }

    fn cached(&self, digest: &Digest) -> bool {
        let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        // Every entry is compared, each in constant time.
        verified
            .iter()
            .fold(0u8, |hit, d| hit | d.ct_eq(digest).unwrap_u8())
            == 1
    }

    fn remember(&self, digest: Digest) {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.iter().any(|d| bool::from(d.ct_eq(&digest))) {
            return;
        }
        if verified.len() == CACHE_ENTRIES {
            verified.pop_front();
        }
        verified.push_back(digest);
    }
}

fn digest(user: &str, password: &str, hash: &str) -> Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, password, hash] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `Basic base64(user:password)` (the scheme in any case) as (user, password).
fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pw: &str) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        format!("Basic {b64}").into_bytes()
    }

    #[test]
    fn passwords_are_checked_and_successes_cached() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let users = BTreeMap::from([("alice".to_owned(), bcrypt::hash("s3cret", 4).unwrap())]);
        let auth = Auth::new(users);
        rt.block_on(async {
            assert!(!auth.check(None).await);
            assert!(!auth.check(Some(b"Bearer x")).await);
            assert!(!auth.check(Some(&header("alice", "wrong"))).await);
            assert!(!auth.check(Some(&header("bob", "s3cret"))).await);
            assert!(auth.verified.lock().unwrap().is_empty());
            assert!(auth.check(Some(&header("alice", "s3cret"))).await);
            assert_eq!(auth.verified.lock().unwrap().len(), 1);
            assert!(auth.check(Some(&header("alice", "s3cret"))).await);
            assert_eq!(auth.verified.lock().unwrap().len(), 1);
            assert!(!auth.check(Some(&header("alice", "s3cret2"))).await);
        });
        assert!(DUMMY_HASH.parse::<bcrypt::HashParts>().is_ok());
    }
}
