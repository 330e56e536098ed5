//! Outbound network policy of the c15t control plane, shared by every crate that connects to a
//! URL a customer supplied: the SSRF guard ([`SsrfPolicy`], [`GuardedResolver`]) that webhooks
//! (`c15t-deploy`) and connection tests of destinations (`c15t-vendors`) go through, and the
//! retry schedule ([`RetrySchedule`]) the control layer's job queue retries webhook messages
//! on.
//!
//! This is a leaf crate: it depends on no other c15t crate, so that using the guard does not
//! pull a deployer (or the code generator behind it) into a crate's build. What a sender's
//! attempt came to is told to the schedule through [`Answer`] and [`Failure`], which the
//! sender's own types implement.
//!
//! **Invariant:** no connection is made to an address [`SsrfPolicy`] refuses: a client that
//! installs [`GuardedResolver`] resolves and checks names in one step, so the checked address
//! is the one connected to. Hosts written as IP literals never reach a resolver; callers check
//! them with [`SsrfPolicy::check`] before sending, follow no redirects and use no proxy from
//! the environment.

mod retry;
mod ssrf;

pub use retry::{Answer, Failure, NextStep, RetrySchedule, Verdict};
pub use ssrf::{BlockedRange, GuardedResolver, RefusedAddr, ResolveFailed, SsrfPolicy};
