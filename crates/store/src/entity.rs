//! SeaORM row types, one module per table. They mirror today's schema and are converted to and
//! from `c15t_model` and the store's record types in `sea.rs`; nothing outside this crate sees
//! them.

pub mod customer {
    //! `customers`: one row per customer, with the config revision.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        /// JSON array of strings, NULL when the spec omits it.
        pub environments: Option<String>,
        /// JSON array of strings.
        pub trusted_origins: String,
        pub log_level: Option<String>,
        pub database_provider: String,
        pub database_url: String,
        /// JSON of the token's `RawValue` (a secret reference).
        pub database_token_ref: String,
        /// JSON of the events debug secret's `RawValue` (a secret reference), if set.
        pub events_debug_secret_ref: Option<String>,
        pub revision: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod destination {
    //! `destinations`: a customer's destinations, ordered by `position`.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "destinations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub position: i32,
        pub name: String,
        pub kind: String,
        pub enabled: bool,
        pub environment: Option<String>,
        pub category: Option<String>,
        /// JSON object of `RawValue`s.
        pub settings: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod vault {
    //! `vaults`: a customer's sealed secrets (opaque ciphertext).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "vaults")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub ciphertext: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_token {
    //! `api_tokens`: customer API tokens, by hash only.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: String,
        pub name: String,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deployment {
    //! `deployments`: one row per deploy attempt; files as a JSON array of `[path, contents]`.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deployments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: String,
        pub environment: String,
        pub target: String,
        pub config_revision: i64,
        pub content_hash: String,
        pub files: String,
        pub status: String,
        pub url: Option<String>,
        pub error: Option<String>,
        pub remote_version: Option<String>,
        pub rollback_of: Option<i64>,
        pub created_at: DateTimeUtc,
        pub started_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub job_id: Option<i64>,
        /// JSON object: secret binding name to fingerprint.
        pub secret_fingerprints: Option<String>,
        /// The generated JavaScript entry module uploaded (managed deploys).
        pub entry_module: Option<String>,
        /// The name of the runtime module uploaded beside it.
        pub runtime_module: Option<String>,
        /// Where the release went, e.g. `cloudflare:<account id>` (none before migration 5).
        pub destination: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit {
    //! `audit_log`: append-only.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub resource: String,
        pub customer_id: Option<String>,
        pub before_json: Option<String>,
        pub after_json: Option<String>,
        /// JSON array of `AuditChange`s (entries with a state before and after).
        pub changes_json: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job {
    //! `jobs`: the durable job queue.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub payload: String,
        pub dedupe_key: Option<String>,
        pub status: String,
        pub run_at: DateTimeUtc,
        pub attempts: i32,
        pub max_attempts: i32,
        pub locked_by: Option<String>,
        pub lease_expires_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    //! `deliveries`: a customer's delivery settings as JSON (`c15t_model::Delivery`).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub settings: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_delivery {
    //! `webhook_deliveries`: one row per delivery attempt of a webhook message.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: String,
        pub message_id: String,
        pub event_type: String,
        pub attempt: i32,
        pub status_code: Option<i32>,
        pub outcome: String,
        pub error: Option<String>,
        pub duration_ms: i64,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod health_check {
    //! `health_checks`: the latest probe of each live deployment.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "health_checks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub deployment_id: i64,
        pub customer_id: String,
        pub environment: String,
        pub url: String,
        pub up: bool,
        pub status_code: Option<i32>,
        pub latency_ms: Option<i64>,
        pub error: Option<String>,
        pub consecutive_failures: i32,
        pub checks: i64,
        pub checked_at: DateTimeUtc,
        /// JSON of a `Drift`, NULL when the live state matched or was not read.
        pub drift_json: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user {
    //! `users`: people who log in to the admin UI (password as an argon2id hash).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub password_hash: String,
        pub role: String,
        pub customer_id: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    //! `sessions`: admin UI sessions, by the SHA-256 of their cookie token only.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub token_hash: String,
        pub csrf_token: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod worker_name {
    //! `worker_names`: the worker names customer environments hold (live or reserved).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "worker_names")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub customer_id: String,
        pub environment: String,
        pub live: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod worker_route {
    //! `worker_routes`: where each environment's Cloudflare worker answers, and its custom
    //! domain's state.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "worker_routes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub environment: String,
        pub worker: String,
        pub workers_dev: bool,
        pub hostname: Option<String>,
        pub domain_id: Option<String>,
        pub zone_id: Option<String>,
        pub zone_name: Option<String>,
        pub domain_state: Option<String>,
        pub message: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
