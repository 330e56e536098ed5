//! Preparing a deploy of the whole fleet: every customer's worker for one environment,
//! generated and hashed, with its decrypted secret bindings. The work of the fleet bench
//! (`benches/fleet.rs`), built on the library's public pieces (the store's pages, the model's
//! validation, the generator, [`c15t_control::secret_values`]); its tests are in
//! `tests/it/fleet.rs`.
//!
//! The store is read in pages (three queries per page, see `Store::customer_configs`) while
//! worker threads, one per core, validate, generate and open vaults: loading and CPU work
//! overlap. Opening a vault is one X25519 operation per customer (all of a customer's secrets
//! share one age file), which makes it the largest CPU cost, hence the threads.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use c15t_codegen::{Input, TargetProfile};
use c15t_model::{Catalogue, CustomerId, Environment};
use c15t_secrets::{Keyring, Secret, Vault};
use c15t_store::{Revision, StoredConfig};

use c15t_control::{ControlError, secret_values};
use c15t_store::Store;

/// Customers read from the store per query page, at most.
const PAGE: u64 = 1000;
/// The first page's size; each next page doubles up to [`PAGE`]. The worker threads idle until
/// the first page has arrived, so it is kept small.
const FIRST_PAGE: u64 = 100;
/// Customers handed to a worker thread at a time: small enough to keep both cores busy to the
/// end, large enough that the channel is not the cost.
const BATCH: usize = 50;

/// One customer's worker, ready to deploy.
#[derive(Debug)]
pub struct PreparedWorker {
    /// The customer.
    pub customer: CustomerId,
    /// The config revision it was generated from.
    pub revision: Revision,
    /// The worker's name on Cloudflare.
    pub worker_name: String,
    /// The generated project's content hash (`sha256:…`); equal to the hash of the live
    /// deployment means there is nothing to deploy. The files are not kept (a fleet's would
    /// take hundreds of megabytes): generation is deterministic, so the deployer regenerates
    /// them and gets this hash again.
    pub content_hash: String,
    /// The worker's secret bindings, name and value, database token first, then destinations
    /// in configured order (as [`Bindings::plan_for`] orders them).
    pub secrets: Vec<(String, Secret)>,
}

/// A customer whose worker could not be prepared; the rest of the fleet is unaffected.
#[derive(Debug)]
pub struct FleetFailure {
    /// The customer's id as stored.
    pub customer: String,
    /// Why: invalid config, refused generation, undecryptable vault or missing secret.
    pub error: ControlError,
}

/// Where the time of a [`fleet_prepare`] went.
///
/// Loading runs on the calling task while worker threads prepare what has arrived, so the
/// phases overlap: `load` is wall time until the last page arrived; the two CPU phases are
/// summed over all worker threads (divide by `threads` for their share of wall time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimings {
    /// Wall time from the start until the store returned its last page.
    pub load: Duration,
    /// Thread time spent validating configs and generating (and hashing) projects.
    pub validate_generate: Duration,
    /// Thread time spent opening vaults and building secret bindings.
    pub vaults_bindings: Duration,
    /// Worker threads used.
    pub threads: usize,
    /// Wall time of the whole call.
    pub total: Duration,
}

/// Every customer's worker for one environment, in customer id order.
#[derive(Debug, Default)]
pub struct FleetPlan {
    /// Workers ready to deploy.
    pub workers: Vec<PreparedWorker>,
    /// Customers that do not deploy to this environment.
    pub skipped: Vec<CustomerId>,
    /// Customers whose worker could not be prepared.
    pub failures: Vec<FleetFailure>,
    /// Where the time went.
    pub timings: PhaseTimings,
}

/// Prepares a deploy of the whole fleet to `environment`: loads every customer's config
/// and vault, validates, generates and hashes each worker, and builds its decrypted
/// secret-binding set.
///
/// A customer that fails (invalid config, vault that does not open, a binding whose value
/// is missing from the vault) is listed in [`FleetPlan::failures`] and does not stop the
/// others; callers that deploy all-or-nothing check that list is empty. Customers without
/// `environment` are listed in [`FleetPlan::skipped`]. The call fails only if the store
/// cannot be read.
///
/// CPU work runs on one OS thread per available core, not on the async runtime, so the
/// calling task stays responsive while the fleet is prepared.
pub async fn fleet_prepare(
    store: &dyn Store,
    keyring: Arc<Keyring>,
    catalogue: Catalogue,
    environment: &Environment,
    target: &TargetProfile,
) -> Result<FleetPlan, ControlError> {
    let start = Instant::now();
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let job = Arc::new(Job {
        catalogue,
        keyring,
        environment: environment.clone(),
        target: *target,
    });
    let (sender, receiver) = mpsc::channel::<(usize, Vec<StoredConfig>)>();
    let receiver = Arc::new(Mutex::new(receiver));
    let latch = Latch::new(threads);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let job = Arc::clone(&job);
            let receiver = Arc::clone(&receiver);
            let guard = latch.guard();
            thread::spawn(move || {
                let _guard = guard;
                job.run(&receiver)
            })
        })
        .collect();

    let loaded = load_into(store, &sender).await;
    drop(sender);
    let load = start.elapsed();
    latch.wait().await;

    let mut plan = FleetPlan::default();
    let mut outcomes = Vec::new();
    for handle in handles {
        // The latch has opened, so every thread has finished: joining does not block.
        let done = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        plan.timings.validate_generate += done.validate_generate;
        plan.timings.vaults_bindings += done.vaults_bindings;
        outcomes.extend(done.outcomes);
    }
    loaded?;
    outcomes.sort_unstable_by_key(|(index, _)| *index);
    for (_, outcome) in outcomes {
        match outcome {
            Outcome::Ready(worker) => plan.workers.push(worker),
            Outcome::Skipped(id) => plan.skipped.push(id),
            Outcome::Failed(failure) => plan.failures.push(failure),
        }
    }
    plan.timings.load = load;
    plan.timings.threads = threads;
    plan.timings.total = start.elapsed();
    Ok(plan)
}

/// Reads every page and hands it to the worker threads in batches numbered in id order.
async fn load_into(
    store: &dyn Store,
    sender: &mpsc::Sender<(usize, Vec<StoredConfig>)>,
) -> Result<(), ControlError> {
    let mut after: Option<CustomerId> = None;
    let mut index = 0;
    let mut limit = FIRST_PAGE;
    loop {
        let page = store.customer_configs(after.as_ref(), limit).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        let next = CustomerId::new(last.spec.id.as_str()).map_err(|e| {
            ControlError::Store(c15t_store::StoreError::Corrupt {
                what: format!("customer id `{}`: {e}", last.spec.id),
            })
        })?;
        let full = page.len() as u64 == limit;
        limit = (limit * 2).min(PAGE);
        let mut rest = page.into_iter();
        loop {
            let batch: Vec<StoredConfig> = rest.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                break;
            }
            let len = batch.len();
            // The threads only stop once the sender is dropped, so they are still there.
            let _ = sender.send((index, batch));
            index += len;
        }
        if !full {
            return Ok(());
        }
        after = Some(next);
    }
}

/// What every worker thread needs, shared.
struct Job {
    catalogue: Catalogue,
    keyring: Arc<Keyring>,
    environment: Environment,
    target: TargetProfile,
}

/// What one worker thread did.
struct ThreadResult {
    outcomes: Vec<(usize, Outcome)>,
    validate_generate: Duration,
    vaults_bindings: Duration,
}

enum Outcome {
    Ready(PreparedWorker),
    Skipped(CustomerId),
    Failed(FleetFailure),
}

impl Job {
    /// Prepares batches until the loader is done.
    fn run(&self, receiver: &Mutex<mpsc::Receiver<(usize, Vec<StoredConfig>)>>) -> ThreadResult {
        let mut result = ThreadResult {
            outcomes: Vec::new(),
            validate_generate: Duration::ZERO,
            vaults_bindings: Duration::ZERO,
        };
        loop {
            let next = receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok((first, batch)) = next else {
                return result;
            };
            for (offset, stored) in batch.into_iter().enumerate() {
                let outcome = self.prepare(stored, &mut result);
                result.outcomes.push((first + offset, outcome));
            }
        }
    }

    fn prepare(&self, stored: StoredConfig, times: &mut ThreadResult) -> Outcome {
        let customer = stored.spec.id.clone();
        let fail = |error: ControlError| {
            Outcome::Failed(FleetFailure {
                customer: customer.clone(),
                error,
            })
        };
        let started = Instant::now();
        let config = match stored.spec.validate(&self.catalogue) {
            Ok(config) => config,
            Err(e) => return fail(e.into()),
        };
        if !config.has_environment(&self.environment) {
            return Outcome::Skipped(config.customer.id);
        }
        let project = c15t_codegen::generate(&Input {
            config: &config,
            environment: &self.environment,
            target: &self.target,
            revision: stored.revision,
        });
        let generated = Instant::now();
        times.validate_generate += generated - started;
        let project = match project {
            Ok(project) => project,
            Err(e) => return fail(e.into()),
        };

        let secrets = self.secrets(&config, stored.vault.as_deref());
        times.vaults_bindings += generated.elapsed();
        match secrets {
            Ok(secrets) => Outcome::Ready(PreparedWorker {
                customer: config.customer.id,
                revision: stored.revision,
                worker_name: project.worker_name,
                content_hash: project.content_hash,
                secrets,
            }),
            Err(e) => fail(e),
        }
    }

    /// Opens the vault and pairs every secret binding of the environment's worker with its
    /// value.
    fn secrets(
        &self,
        config: &c15t_model::CustomerConfig,
        vault: Option<&str>,
    ) -> Result<Vec<(String, Secret)>, ControlError> {
        let mut vault = match vault {
            Some(ciphertext) => self.keyring.open(ciphertext)?,
            None => Vault::default(),
        };
        secret_values(config, &self.environment, &mut vault)
    }
}

/// Counts worker threads down; the async side waits until all have finished, without
/// blocking its runtime thread.
struct Latch(Arc<Mutex<LatchState>>);

struct LatchState {
    running: usize,
    waker: Option<Waker>,
}

/// Held by a worker thread; counts down when dropped, also when the thread panics.
struct LatchGuard(Arc<Mutex<LatchState>>);

impl Latch {
    fn new(running: usize) -> Self {
        Self(Arc::new(Mutex::new(LatchState {
            running,
            waker: None,
        })))
    }

    fn guard(&self) -> LatchGuard {
        LatchGuard(Arc::clone(&self.0))
    }

    fn wait(&self) -> LatchWait<'_> {
        LatchWait(&self.0)
    }
}

impl Drop for LatchGuard {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.running -= 1;
        if state.running == 0
            && let Some(waker) = state.waker.take()
        {
            waker.wake();
        }
    }
}

struct LatchWait<'a>(&'a Mutex<LatchState>);

impl Future for LatchWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.running == 0 {
            Poll::Ready(())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
