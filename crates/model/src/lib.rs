//! Domain model of the c15t control plane: customers, destinations, the destination catalogue,
//! the declarative customer file and its validation. No I/O: every function here is pure.

#![warn(missing_docs)]

pub mod bindings;
pub mod catalogue;
mod customer;
pub mod delivery;
mod destination;
mod ids;
pub mod limits;
mod pattern;
mod problem;
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
pub use rollout::{ROLLOUT_DWELL_MAX_SECS, ROLLOUT_STEPS_MAX, Rollout};
pub use spec::{
    CustomerConfig, CustomerSpec, DatabaseSpec, DestinationSpec, RawValue, SAFE_INTEGER_MAX,
};
pub use url_check::check_url;
