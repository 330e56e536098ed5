//! Domain model of the c15t control plane: customers, destinations, the destination catalogue,
//! the declarative customer file and its validation. No I/O: every function here is pure.
//!
//! A [`CustomerSpec`] is a customer as written (a `customer.toml`, a JSON body, or a value
//! built in code); [`CustomerSpec::validate`] checks it against the [`Catalogue`] and gives a
//! [`CustomerConfig`], or every [`Problem`] at once, each naming its field. The configuration
//! is what `c15t-codegen` generates a worker from, and [`Bindings`] says which vars and
//! secrets that worker reads.
//!
//! # Example
//!
//! ```
//! use c15t_model::{
//!     Bindings, Catalogue, CustomerSpec, DatabaseSpec, DestinationSpec, Environment, RawValue,
//!     SecretRef,
//! };
//!
//! let mut spec = CustomerSpec {
//!     id: "acme".into(),
//!     name: "Acme".into(),
//!     environments: Some(vec!["production".into(), "staging".into()]),
//!     trusted_origins: vec!["https://www.acme.example".into()],
//!     log_level: None,
//!     database: DatabaseSpec {
//!         provider: "turso".into(),
//!         url: "libsql://acme.turso.io".into(),
//!         auth_token: RawValue::Secret(SecretRef::Env("TURSO_AUTH_TOKEN".into())),
//!     },
//!     events_debug_secret: None,
//!     destinations: vec![DestinationSpec {
//!         id: "meta".into(),
//!         name: "Meta Pixel".into(),
//!         kind: "meta-pixel".into(),
//!         enabled: true,
//!         environment: Some("production".into()),
//!         category: None,
//!         settings: [
//!             ("pixelId".to_owned(), RawValue::Text("1234567890".into())),
//!             (
//!                 "accessToken".to_owned(),
//!                 RawValue::Secret(SecretRef::Env("META_ACCESS_TOKEN".into())),
//!             ),
//!         ]
//!         .into(),
//!     }],
//! };
//! let catalogue = Catalogue::builtin();
//! let config = spec.validate(&catalogue)?;
//!
//! // The production worker reads the database token and Meta's access token as secrets;
//! // staging has no destination, so only the token.
//! let production = Bindings::plan(&config, &Environment::production());
//! let names: Vec<&str> = production.secrets.iter().map(|s| s.name.as_str()).collect();
//! assert_eq!(names.len(), 2);
//! let staging = Bindings::plan(&config, &Environment::new("staging")?);
//! assert_eq!(staging.secrets.len(), 1);
//!
//! // Every problem at once, each with its path; secret values are never echoed.
//! spec.destinations[0].settings.insert("pixelId".into(), RawValue::Text("no".into()));
//! spec.trusted_origins.push("not a url".into());
//! let errors = spec.validate(&catalogue).unwrap_err();
//! let paths: Vec<&str> = errors.problems().iter().map(|p| p.path.as_str()).collect();
//! assert_eq!(paths, ["trusted_origins[1]", "destinations[0].settings.pixelId"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod bindings;
pub mod catalogue;
mod customer;
pub mod delivery;
mod destination;
pub mod health;
mod ids;
pub mod limits;
mod pattern;
mod problem;
mod role;
mod rollout;
mod spec;
mod url_check;

pub use bindings::{Bindings, SecretBinding};
pub use catalogue::{
    Catalogue, ConsentCategory, FieldSpec, FieldType, KindSpec, Pattern, ScriptsVendor,
    ServerEvents,
};
pub use customer::{Customer, DatabaseBinding, LogLevel, TrustedOrigin};
pub use delivery::{Delivery, DeployTarget, Routing, Strategy, WebhookEndpoint, check_hostname};
pub use destination::{Destination, EnvironmentScope, SecretRef, SettingValue};
pub use ids::{
    CUSTOMER_ID_MAX, CustomerId, DESTINATION_ID_MAX, DestinationId, ENVIRONMENT_MAX, Environment,
    IdError, WORKER_NAME_MAX, is_dns_label, legacy_worker_name, worker_name,
};
pub use limits::{
    CONFIG_BYTES_MAX, DESTINATIONS_MAX, ENVIRONMENTS_MAX, SETTING_MAX, TRUSTED_ORIGINS_MAX,
};
pub use problem::{Problem, ValidationErrors, check_text, is_invisible};
pub use role::UserRole;
pub use rollout::{ROLLOUT_DWELL_MAX_SECS, ROLLOUT_STEPS_MAX, Rollout};
pub use spec::{
    CustomerConfig, CustomerSpec, DatabaseSpec, DestinationSpec, RawValue, SAFE_INTEGER_MAX,
};
pub use url_check::check_url;
