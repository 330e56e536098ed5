//! `c15tctl`: the c15t control plane's command line. Thin: it parses flags, reads files and
//! secrets, calls `c15t-control` (or the pure `c15t-model`/`c15t-codegen` for file-based
//! commands), writes what they return, and prints.

mod connection;
mod ops;
mod output;
mod runtime;
mod secret_input;
mod tokens;
mod users;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use c15t_control::{
    Control, ControlError, CustomerPatch, DestinationPatch, ImportOutcome, KeySource, Project,
    Secret, SystemClock, TargetProfile, generate_project, parse_setting,
};
use c15t_model::{
    Catalogue, CustomerConfig, CustomerId, CustomerSpec, DatabaseSpec, DestinationSpec,
    Environment, RawValue, SecretRef,
};
use clap::{Args, Parser, Subcommand};

use crate::output::{Out, print};
use crate::secret_input::{SecretSource, parse_secret_arg, read_secret};

/// Exit code for invalid input (validation errors, unreadable or malformed files, bad flags).
const EXIT_INVALID: u8 = 2;
/// Exit code for failures writing output or reaching the database.
const EXIT_IO: u8 = 3;
/// Exit code for a conflicting concurrent change (reload and retry).
const EXIT_CONFLICT: u8 = 4;
/// Exit code for a missing customer or destination.
const EXIT_NOT_FOUND: u8 = 5;

#[derive(Debug, Parser)]
#[command(
    name = "c15tctl",
    version,
    about = "c15t control plane: customers, destinations, secrets and worker generation"
)]
struct Cli {
    /// Database URL: a SQLite file (created on first use) or postgres://...
    #[arg(
        long,
        global = true,
        env = "C15T_DATABASE_URL",
        default_value = "sqlite://c15t.db?mode=rwc"
    )]
    database_url: String,
    /// The control plane's age key file (created by `c15tctl keys init`).
    #[arg(long, global = true, env = "C15T_KEY_FILE", default_value = "c15t.key")]
    key_file: PathBuf,
    /// Who is acting, for the audit log.
    #[arg(long, global = true, env = "C15T_ACTOR")]
    actor: Option<String>,
    #[command(flatten)]
    delivery: ops::DeliveryFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a worker project from a customer file or a stored customer.
    Generate(GenerateArgs),
    /// Check a customer file and report every problem.
    Validate {
        /// The declarative customer file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List the destination kinds and their settings.
    Catalogue {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the target profiles.
    Targets,
    /// Database schema.
    #[command(subcommand)]
    Db(DbCommand),
    /// The control plane's encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Customers in the database.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Destinations of a stored customer.
    #[command(subcommand)]
    Destination(DestinationCommand),
    /// Create or update a customer from a declarative file (idempotent); secrets `{ env = "VAR" }`
    /// are read from the environment and stored encrypted.
    Import {
        /// The declarative customer file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The c15t runtime module uploaded next to every managed worker.
    #[command(subcommand)]
    Runtime(runtime::RuntimeCommand),
    /// Compare what each environment's config generates with what is live.
    Plan {
        #[command(flatten)]
        scope: ops::Scope,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deploy environments now (all out-of-sync ones of the fleet without --customer).
    Deploy {
        #[command(flatten)]
        scope: ops::Scope,
        /// Deploys at a time.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier successful deployment live again.
    Rollback {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// The deployment to restore.
        #[arg(long)]
        to: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A customer's deployments, newest first.
    Deployments {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// Only this environment.
        #[arg(long = "env")]
        environment: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What happens after a customer's config changes.
    #[command(subcommand)]
    Strategy(ops::StrategyCommand),
    /// Where a customer's deploys go and where its webhooks are sent.
    #[command(subcommand)]
    Delivery(ops::DeliveryCommand),
    /// Health of live workers.
    Health {
        /// Only this customer.
        #[arg(long)]
        customer: Option<String>,
        /// Probe now instead of showing the last probes.
        #[arg(long)]
        check: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The durable job queue.
    #[command(subcommand)]
    Jobs(ops::JobsCommand),
    /// Customer API tokens (for the HTTP API and CI downloads).
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// People who log in to the admin web UI.
    #[command(subcommand)]
    User(users::UserCommand),
    /// The audit log, newest first.
    Audit {
        /// Only this customer's entries.
        #[arg(long)]
        customer: Option<String>,
        /// How many entries (at most 200 a page).
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Only entries older than this entry id (the last id of the previous page).
        #[arg(long)]
        before: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// A declarative customer file (TOML).
    #[arg(
        long,
        short,
        conflicts_with = "customer",
        required_unless_present = "customer"
    )]
    config: Option<PathBuf>,
    /// A stored customer's id.
    #[arg(long)]
    customer: Option<String>,
    /// Output directory; created if missing, generated files are overwritten.
    #[arg(long, short)]
    out: PathBuf,
    /// The environment to generate.
    #[arg(long = "env", default_value = Environment::PRODUCTION)]
    environment: String,
    /// Target profile (see `c15tctl targets`).
    #[arg(long, default_value = TargetProfile::ALL[0].id)]
    target: String,
    /// Config revision recorded in the headers (file input only; stored customers use theirs).
    #[arg(long, default_value_t = 1, conflicts_with = "customer")]
    revision: u64,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply pending migrations (they are also applied on every connect).
    Migrate,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create the key file (mode 0600); refuses to overwrite one, and refuses when the
    /// database already holds secrets (a new key could not open them).
    Init,
    /// Add a new key, re-encrypt every stored secret to it, then retire the old key. Safe to
    /// run again after an interruption: it resumes.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum CustomerCommand {
    /// Add a customer (without destinations).
    Add {
        /// Customer id, e.g. cust_abc123.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// An environment (repeat); default production.
        #[arg(long = "env")]
        environments: Vec<String>,
        /// A trusted origin (repeat).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// c15t log level: error, warn, info, debug.
        #[arg(long)]
        log_level: Option<String>,
        /// The Turso database URL.
        #[arg(long)]
        turso_url: String,
        /// Where the Turso auth token comes from: `prompt` (default), `stdin` or `env:VAR`.
        #[arg(long, default_value = "prompt")]
        turso_token_from: String,
    },
    /// List customers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a customer's configuration (secrets as fingerprints).
    Show {
        /// Customer id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Edit a customer.
    Edit {
        /// Customer id.
        id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// Replace the environments (repeat).
        #[arg(long = "env")]
        environments: Vec<String>,
        /// Replace the trusted origins (repeat).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Remove every trusted origin.
        #[arg(long, conflicts_with = "origins")]
        clear_origins: bool,
        /// New log level.
        #[arg(long)]
        log_level: Option<String>,
        /// New Turso database URL.
        #[arg(long)]
        turso_url: Option<String>,
        /// Replace the Turso auth token, read from `prompt`, `stdin` or `env:VAR`.
        #[arg(long)]
        turso_token_from: Option<String>,
        /// The secret of `POST /analytics/events?debug=1` on the customer's workers:
        /// `generate` (a random one, printed once), `prompt`, `stdin`, `env:VAR`, or `none`
        /// (debug mode off). Deploy afterwards to bind it.
        #[arg(long, value_name = "SOURCE")]
        events_debug_secret: Option<String>,
        /// Fail if the customer changed since this revision.
        #[arg(long)]
        expect_revision: Option<u64>,
    },
    /// Remove a customer with its destinations and secrets.
    Remove {
        /// Customer id.
        id: String,
        /// Fail if the customer changed since this revision.
        #[arg(long)]
        expect_revision: Option<u64>,
    },
}

#[derive(Debug, Args)]
struct DestinationFields {
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Only this environment (default: every environment).
    #[arg(long = "env")]
    environment: Option<String>,
    /// Consent category (necessary, functionality, measurement, experience, marketing).
    #[arg(long)]
    category: Option<String>,
    /// A setting, `key=value` (repeat). Secret settings are refused here: use --secret.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// A secret setting, read from a prompt without echo, stdin (`KEY=stdin`) or an environment
    /// variable (`KEY=env:VAR`); never from the command line (repeat).
    #[arg(long = "secret", value_name = "KEY[=SOURCE]")]
    secrets: Vec<String>,
    /// Fail if the customer changed since this revision.
    #[arg(long)]
    expect_revision: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum DestinationCommand {
    /// Add a destination.
    Add {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id, unique within the customer.
        #[arg(long)]
        id: String,
        /// Destination type (see `c15tctl catalogue`).
        #[arg(long = "type")]
        kind: String,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        fields: DestinationFields,
    },
    /// List a customer's destinations.
    List {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one destination (secrets as fingerprints).
    Show {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Edit a destination.
    Edit {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
        /// Deploy to every environment.
        #[arg(long, conflicts_with = "environment")]
        all_environments: bool,
        /// Remove a setting (repeat).
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
        #[command(flatten)]
        fields: DestinationFields,
    },
    /// Enable a destination.
    Enable {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
    },
    /// Disable a destination (it stays in the worker, switched off).
    Disable {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
    },
    /// Check a destination's stored settings against its vendor (Meta Graph API, GA4
    /// validation server, PostHog); exits 6 if the vendor refuses them or cannot be reached.
    Test {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        vendors: connection::VendorFlags,
    },
    /// Remove a destination and its secrets.
    Remove {
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Destination id.
        id: String,
        /// Fail if the customer changed since this revision.
        #[arg(long)]
        expect_revision: Option<u64>,
    },
}

/// An error that carries its exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            code: EXIT_INVALID,
            error,
        }
    }
}

impl From<ControlError> for Failure {
    fn from(e: ControlError) -> Self {
        let code = match &e {
            ControlError::Conflict { .. }
            | ControlError::SecretsChanged { .. }
            | ControlError::WorkerNameTaken(_) => EXIT_CONFLICT,
            ControlError::NotFound { .. } => EXIT_NOT_FOUND,
            ControlError::Store(_) | ControlError::Secrets(_) => EXIT_IO,
            _ => EXIT_INVALID,
        };
        Self {
            code,
            error: e.into(),
        }
    }
}

fn invalid(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_INVALID,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&Failure {
                code: EXIT_IO,
                error: anyhow!(e).context("cannot start the async runtime"),
            });
            return ExitCode::from(EXIT_IO);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            report(&f);
            ExitCode::from(f.code)
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(f: &Failure) {
    eprintln!("error: {:#}", f.error);
}

/// Logs go to standard error; `RUST_LOG` sets the level (default: warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let actor = cli.actor.clone().unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
        )
    });
    match cli.command {
        Command::Generate(args) if args.config.is_some() => generate_from_file(args),
        Command::Validate { config } => {
            let customer = load(&config)?;
            print(&format!(
                "{}: ok (customer `{}`, {} destinations, environments {})",
                config.display(),
                customer.customer.id,
                customer.destinations.len(),
                customer
                    .environments
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Ok(())
        }
        Command::Catalogue { json } => {
            print(&if json {
                output::catalogue_json()
            } else {
                output::catalogue_table()
            });
            Ok(())
        }
        Command::Targets => {
            for t in TargetProfile::ALL {
                print(&format!("{:<16} {}", t.id, t.description));
            }
            Ok(())
        }
        Command::Runtime(command) => runtime::run(command),
        Command::Keys(KeysCommand::Init) => {
            // Only for a database without vaults: a new key could not open stored ones.
            let store = open_store(&cli.database_url).await?;
            let recipient = c15t_control::keys_init_for(&cli.key_file, &*store).await?;
            print(&format!(
                "created {} (public key {recipient}); keep it safe and private",
                cli.key_file.display()
            ));
            Ok(())
        }
        command => {
            let control = connect(&cli.database_url, &cli.key_file)
                .await?
                .with_delivery(cli.delivery.options()?);
            online(&control, &actor, command).await
        }
    }
}

async fn open_store(url: &str) -> Result<c15t_control::Database, Failure> {
    c15t_control::open_database(url).await.map_err(|e| Failure {
        code: EXIT_IO,
        error: anyhow!(e).context("cannot open the database"),
    })
}

async fn connect(url: &str, key_file: &Path) -> Result<Control, Failure> {
    let store = open_store(url).await?;
    let keys = KeySource::load(key_file.to_owned())?;
    Ok(Control::new(store, keys, Arc::new(SystemClock)))
}

async fn online(control: &Control, actor: &str, command: Command) -> Result<(), Failure> {
    match command {
        Command::Db(DbCommand::Migrate) => {
            print("database schema is up to date");
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let report = control.keys_rotate(actor).await?;
            print(&format!(
                "rotated to {}: {} vaults re-encrypted, {} already current{}",
                report.recipient,
                report.resealed,
                report.already_current,
                if report.resumed {
                    " (resumed an interrupted rotation)"
                } else {
                    ""
                }
            ));
            Ok(())
        }
        Command::Customer(c) => customer(control, actor, c).await,
        Command::Plan { scope, json } => ops::plan(control, scope, json).await,
        Command::Deploy {
            scope,
            concurrency,
            json,
        } => ops::deploy(control, actor, scope, concurrency, json).await,
        Command::Rollback { customer, to, json } => {
            ops::rollback(control, actor, &customer, to, json).await
        }
        Command::Deployments {
            customer,
            environment,
            limit,
            json,
        } => ops::deployments(control, &customer, environment.as_deref(), limit, json).await,
        Command::Strategy(c) => ops::strategy(control, actor, c).await,
        Command::Delivery(c) => ops::delivery(control, actor, c).await,
        Command::Health {
            customer,
            check,
            json,
        } => ops::health(control, customer.as_deref(), check, json).await,
        Command::Jobs(c) => ops::jobs(control, c).await,
        Command::Token(c) => tokens::run(control, actor, c).await,
        Command::User(c) => users::run(control, actor, c).await,
        Command::Destination(d) => destination(control, actor, d).await,
        Command::Import { config, json } => {
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read customer file {}", config.display()))?;
            let spec: CustomerSpec = toml::from_str(&text)
                .with_context(|| format!("{} is not a valid customer file", config.display()))?;
            let resolver = |var: &str| std::env::var(var).ok().map(Secret::new);
            let outcome = control.import(actor, spec, &resolver).await?;
            if json {
                print(&serde_json::to_string_pretty(&outcome).map_err(|e| invalid(anyhow!(e)))?);
            } else {
                let (what, revision) = match outcome {
                    ImportOutcome::Created { revision } => ("created", revision),
                    ImportOutcome::Updated { revision } => ("updated", revision),
                    ImportOutcome::Unchanged { revision } => ("unchanged", revision),
                };
                print(&format!(
                    "{}: {what} (revision {revision})",
                    config.display()
                ));
            }
            Ok(())
        }
        Command::Audit {
            customer,
            limit,
            before,
            json,
        } => {
            let id = customer.map(|c| customer_id(&c)).transpose()?;
            let entries = control.audit_page(id.as_ref(), before, limit).await?;
            Out::new(json).audit(&entries);
            Ok(())
        }
        Command::Generate(args) => {
            let id = customer_id(args.customer.as_deref().unwrap_or_default())?;
            let (environment, target) = env_and_target(&args)?;
            let project = control.generate(&id, &environment, target).await?;
            finish_generate(&args.out, &project)
        }
        Command::Validate { .. }
        | Command::Catalogue { .. }
        | Command::Targets
        | Command::Runtime(_)
        | Command::Keys(KeysCommand::Init) => {
            unreachable!("handled without a database")
        }
    }
}

async fn customer(control: &Control, actor: &str, command: CustomerCommand) -> Result<(), Failure> {
    match command {
        CustomerCommand::Add {
            id,
            name,
            environments,
            origins,
            log_level,
            turso_url,
            turso_token_from,
        } => {
            let token = read_secret("Turso auth token", &source_arg(&turso_token_from)?)?;
            let spec = CustomerSpec {
                events_debug_secret: None,
                id: id.clone(),
                name,
                environments: (!environments.is_empty()).then_some(environments),
                trusted_origins: origins,
                log_level,
                database: DatabaseSpec {
                    provider: "turso".to_owned(),
                    url: turso_url,
                    // Replaced by the stored secret's reference.
                    auth_token: RawValue::Secret(SecretRef::Env("TURSO_AUTH_TOKEN".to_owned())),
                },
                destinations: Vec::new(),
            };
            let revision = control.customer_add(actor, spec, token).await?;
            print(&format!("added customer `{id}` (revision {revision})"));
            Ok(())
        }
        CustomerCommand::List { json } => {
            Out::new(json).customers(&control.customer_list().await?);
            Ok(())
        }
        CustomerCommand::Show { id, json } => {
            let view = control.customer_show(&customer_id(&id)?).await?;
            Out::new(json).customer(&view);
            Ok(())
        }
        CustomerCommand::Edit {
            id,
            name,
            environments,
            origins,
            clear_origins,
            log_level,
            turso_url,
            turso_token_from,
            events_debug_secret,
            expect_revision,
        } => {
            let database_token = match turso_token_from {
                Some(s) => Some(read_secret("Turso auth token", &source_arg(&s)?)?),
                None => None,
            };
            let mut generated = None;
            let events_debug_secret = match events_debug_secret.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some("generate") => {
                    let value = generate_secret();
                    generated = Some(value.clone());
                    Some(Some(Secret::new(value)))
                }
                Some(source) => Some(Some(read_secret(
                    "events debug secret",
                    &source_arg(source)?,
                )?)),
            };
            let patch = CustomerPatch {
                name,
                environments: (!environments.is_empty()).then_some(environments),
                trusted_origins: if clear_origins {
                    Some(Vec::new())
                } else {
                    (!origins.is_empty()).then_some(origins)
                },
                log_level,
                database_url: turso_url,
                database_token,
                events_debug_secret,
            };
            let revision = control
                .customer_edit(actor, &customer_id(&id)?, patch, expect_revision)
                .await?;
            print(&format!("updated customer `{id}` (revision {revision})"));
            if let Some(value) = generated {
                // Shown this once: the control plane keeps it sealed in the customer's vault.
                print(&format!(
                    "events debug secret (shown once; deploy to bind it): {value}\n\
                     use it as `Authorization: Bearer <secret>` on POST /analytics/events?debug=1"
                ));
            }
            Ok(())
        }
        CustomerCommand::Remove {
            id,
            expect_revision,
        } => {
            control
                .customer_remove(actor, &customer_id(&id)?, expect_revision)
                .await?;
            print(&format!("removed customer `{id}`"));
            Ok(())
        }
    }
}

async fn destination(
    control: &Control,
    actor: &str,
    command: DestinationCommand,
) -> Result<(), Failure> {
    match command {
        DestinationCommand::Add {
            customer,
            id,
            kind,
            disabled,
            fields,
        } => {
            let cid = customer_id(&customer)?;
            let (set, secrets) = settings(control.catalogue(), &kind, &fields)?;
            let spec = DestinationSpec {
                id: id.clone(),
                name: fields.name.clone().unwrap_or_else(|| id.clone()),
                kind,
                enabled: !disabled,
                environment: fields.environment.clone(),
                category: fields.category.clone(),
                settings: set,
            };
            let revision = control
                .destination_add(actor, &cid, spec, secrets, fields.expect_revision)
                .await?;
            print(&format!(
                "added destination `{id}` to `{customer}` (revision {revision})"
            ));
            Ok(())
        }
        DestinationCommand::Test {
            customer,
            id,
            json,
            vendors,
        } => connection::test(control, &customer, &id, json, &vendors).await,
        DestinationCommand::List { customer, json } => {
            Out::new(json).destinations(&control.destination_list(&customer_id(&customer)?).await?);
            Ok(())
        }
        DestinationCommand::Show { customer, id, json } => {
            let d = control
                .destination_show(&customer_id(&customer)?, &id)
                .await?;
            Out::new(json).destination(&d);
            Ok(())
        }
        DestinationCommand::Edit {
            customer,
            id,
            all_environments,
            unset,
            fields,
        } => {
            let cid = customer_id(&customer)?;
            let current = control.destination_show(&cid, &id).await?;
            let (set, secrets) = settings(control.catalogue(), &current.kind, &fields)?;
            let environment = if all_environments {
                Some(None)
            } else {
                fields.environment.clone().map(Some)
            };
            let patch = DestinationPatch {
                name: fields.name.clone(),
                enabled: None,
                environment,
                category: fields.category.clone(),
                set,
                unset,
                secrets,
            };
            let revision = control
                .destination_edit(actor, &cid, &id, patch, fields.expect_revision)
                .await?;
            print(&format!(
                "updated destination `{id}` of `{customer}` (revision {revision})"
            ));
            Ok(())
        }
        DestinationCommand::Enable {
            ref customer,
            ref id,
        }
        | DestinationCommand::Disable {
            ref customer,
            ref id,
        } => {
            let enabled = matches!(command, DestinationCommand::Enable { .. });
            let patch = DestinationPatch {
                enabled: Some(enabled),
                ..DestinationPatch::default()
            };
            let revision = control
                .destination_edit(actor, &customer_id(customer)?, id, patch, None)
                .await?;
            let what = if enabled { "enabled" } else { "disabled" };
            print(&format!(
                "{what} destination `{id}` of `{customer}` (revision {revision})"
            ));
            Ok(())
        }
        DestinationCommand::Remove {
            customer,
            id,
            expect_revision,
        } => {
            let revision = control
                .destination_remove(actor, &customer_id(&customer)?, &id, expect_revision)
                .await?;
            print(&format!(
                "removed destination `{id}` from `{customer}` (revision {revision})"
            ));
            Ok(())
        }
    }
}

/// Plain settings and secret values given on the command line.
type Settings = (BTreeMap<String, RawValue>, BTreeMap<String, Secret>);

/// Splits `--set` and `--secret` flags into typed settings and secret values. A secret field
/// given with `--set` is refused without echoing the value.
fn settings(
    catalogue: &Catalogue,
    kind: &str,
    fields: &DestinationFields,
) -> Result<Settings, Failure> {
    let mut set = BTreeMap::new();
    for arg in &fields.set {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| invalid(anyhow!("--set {arg}: write `key=value`")))?;
        if catalogue
            .get(kind)
            .and_then(|k| k.field(key))
            .is_some_and(|f| f.secret)
        {
            return Err(invalid(anyhow!(
                "--set {key}=...: `{key}` is a secret; use `--secret {key}` (prompt, stdin or env:VAR) so the value stays out of shell history"
            )));
        }
        set.insert(key.to_owned(), parse_setting(catalogue, kind, key, value));
    }
    let mut secrets = BTreeMap::new();
    for arg in &fields.secrets {
        let (key, source) = parse_secret_arg(arg)?;
        let value = read_secret(&key, &source)?;
        secrets.insert(key, value);
    }
    Ok((set, secrets))
}

fn source_arg(text: &str) -> Result<SecretSource, Failure> {
    Ok(parse_secret_arg(&format!("token={text}"))?.1)
}

fn customer_id(text: &str) -> Result<CustomerId, Failure> {
    CustomerId::new(text).map_err(|e| invalid(anyhow!("customer id `{text}`: {e}")))
}

fn env_and_target(args: &GenerateArgs) -> Result<(Environment, &'static TargetProfile), Failure> {
    let environment =
        Environment::new(args.environment.as_str()).map_err(|e| invalid(anyhow!("--env: {e}")))?;
    let target = TargetProfile::by_id(&args.target).ok_or_else(|| {
        let ids: Vec<_> = TargetProfile::ALL
            .iter()
            .map(|t| format!("`{}`", t.id))
            .collect();
        invalid(anyhow!(
            "--target: unknown target `{}`; use one of {}",
            args.target,
            ids.join(", ")
        ))
    })?;
    Ok((environment, target))
}

fn generate_from_file(args: GenerateArgs) -> Result<(), Failure> {
    let path = args.config.clone().unwrap_or_default();
    let customer = load(&path)?;
    let (environment, target) = env_and_target(&args)?;
    let project =
        generate_project(&customer, &environment, target, args.revision).map_err(invalid)?;
    finish_generate(&args.out, &project)
}

fn finish_generate(out: &Path, project: &Project) -> Result<(), Failure> {
    project.write_to(out).map_err(|error| Failure {
        code: EXIT_IO,
        error: error.into(),
    })?;
    print(&format!(
        "generated {} ({} files, {}) into {}",
        project.worker_name,
        project.files.len(),
        project.content_hash,
        out.display()
    ));
    Ok(())
}

/// Reads, parses and validates a customer file.
fn load(path: &Path) -> Result<CustomerConfig, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read customer file {}", path.display()))
        .map_err(invalid)?;
    let spec: CustomerSpec = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid customer file", path.display()))
        .map_err(invalid)?;
    spec.validate(&Catalogue::builtin())
        .with_context(|| format!("{} is invalid", path.display()))
        .map_err(invalid)
}

/// 32 random bytes as 64 hex digits, for a generated secret.
fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
