//! [`CloudflareLimits`]: the client-side limiter that keeps each API token under Cloudflare's
//! request rate limit.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use c15t_secrets::Secret;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Cloudflare's documented global limit: 1,200 requests per five minutes per user (token).
pub const CLOUDFLARE_LIMIT: usize = 1200;
/// The window of [`CLOUDFLARE_LIMIT`].
pub const CLOUDFLARE_WINDOW: Duration = Duration::from_secs(300);

/// One request-rate limiter per API token, shared by every
/// [`CloudflareDeployer`](super::CloudflareDeployer) built with the same registry.
///
/// Tokens are keyed by their SHA-256, so the registry never holds a token. A request waits
/// (asynchronously, first come first served) for a slot instead of failing.
///
/// The window is sliding and counts a request from the moment it is sent until `window` after
/// its answer arrived (or it failed), so no window of Cloudflare's, measured at the times
/// requests reach it, ever sees more than `limit` of them, whatever the network delay.
pub struct CloudflareLimits {
    limit: usize,
    window: Duration,
    tokens: Mutex<HashMap<[u8; 32], Arc<TokenLimiter>>>,
}

impl CloudflareLimits {
    /// A registry allowing `limit` requests per `window` per token (at least one).
    pub fn new(limit: usize, window: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            window,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// A registry with Cloudflare's own limit ([`CLOUDFLARE_LIMIT`] per [`CLOUDFLARE_WINDOW`]).
    pub fn cloudflare() -> Arc<Self> {
        Self::new(CLOUDFLARE_LIMIT, CLOUDFLARE_WINDOW)
    }

    /// Requests allowed per window per token.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The sliding window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The limiter of `token`, created on first use.
    pub(crate) fn for_token(&self, token: &Secret) -> Arc<TokenLimiter> {
        let key: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .entry(key)
            .or_insert_with(|| Arc::new(TokenLimiter::new(self.limit, self.window)))
            .clone()
    }
}

impl fmt::Debug for CloudflareLimits {
    // Only counts: the keys are token hashes, which are nobody's business either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("CloudflareLimits")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("tokens", &tokens)
            .finish()
    }
}

/// The sliding window of one token.
pub(crate) struct TokenLimiter {
    limit: usize,
    window: Duration,
    state: Mutex<Window>,
    /// Serialises waiters: only the head of the queue watches the clock, the others wait
    /// their turn in FIFO order (tokio's mutex is fair).
    turn: tokio::sync::Mutex<()>,
    /// Signalled when a request in flight finishes, which may start its window early enough
    /// to matter to the head waiter.
    finished: Notify,
}

#[derive(Default)]
struct Window {
    in_flight: usize,
    /// When each finished request of the last `window` finished, oldest first.
    finished: VecDeque<Instant>,
}

impl TokenLimiter {
    fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            state: Mutex::new(Window::default()),
            turn: tokio::sync::Mutex::new(()),
            finished: Notify::new(),
        }
    }

    /// Waits for a slot; the slot is held until the returned permit drops.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        let _turn = self.turn.lock().await;
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while state
                    .finished
                    .front()
                    .is_some_and(|&at| at + self.window <= now)
                {
                    state.finished.pop_front();
                }
                if state.in_flight + state.finished.len() < self.limit {
                    state.in_flight += 1;
                    return Permit {
                        limiter: Arc::clone(self),
                    };
                }
                // Full: the oldest finished request leaves the window first; with none, only
                // a request in flight finishing can help.
                state.finished.front().map(|&at| at + self.window - now)
            };
            match wait {
                Some(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut finished => {}
                    }
                }
                None => finished.await,
            }
        }
    }

    fn release(&self) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.in_flight -= 1;
            state.finished.push_back(Instant::now());
        }
        self.finished.notify_waiters();
    }
}

/// A request's slot in its token's window; dropping it (when the answer arrived or the request
/// failed) starts the slot's expiry.
pub(crate) struct Permit {
    limiter: Arc<TokenLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time with short windows: only lower bounds on waiting are asserted, which a slow
    // machine cannot break.
    #[tokio::test]
    async fn waits_for_a_slot_instead_of_failing() {
        let limits = CloudflareLimits::new(2, Duration::from_millis(100));
        let limiter = limits.for_token(&Secret::from("t"));
        let start = Instant::now();
        drop(limiter.acquire().await);
        drop(limiter.acquire().await);
        // The third request waits until the first finished one leaves the window.
        drop(limiter.acquire().await);
        assert!(start.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn requests_in_flight_count() {
        let limits = CloudflareLimits::new(1, Duration::from_millis(50));
        let limiter = limits.for_token(&Secret::from("t"));
        let held = limiter.acquire().await;
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire().await.limiter.limit })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "a slot in flight is taken");
        let released = Instant::now();
        drop(held);
        waiter.await.expect("waiter");
        assert!(released.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn same_token_shares_one_limiter_and_debug_shows_no_token() {
        let limits = CloudflareLimits::new(5, Duration::from_secs(1));
        let a = limits.for_token(&Secret::from("token-a"));
        let b = limits.for_token(&Secret::from("token-a"));
        let c = limits.for_token(&Secret::from("token-b"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let debug = format!("{limits:?}");
        assert!(!debug.contains("token-a"), "{debug}");
        assert!(debug.contains("tokens: 2"), "{debug}");
    }
}
