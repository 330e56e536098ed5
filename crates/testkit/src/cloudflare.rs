//! A fake of the Cloudflare Workers API, strict enough that a deployer bug fails a test.
//!
//! [`FakeCloudflare::start`] serves on `127.0.0.1` with an ephemeral port; point the code under
//! test at [`FakeCloudflare::base_url`] (`http://127.0.0.1:PORT/client/v4`) where it would use
//! `https://api.cloudflare.com/client/v4`. Register accounts and tokens with
//! [`FakeCloudflare::add_account`], then inspect what arrived with [`FakeCloudflare::script`],
//! [`FakeCloudflare::requests`] and the counters.
//!
//! # What it implements
//!
//! Every answer uses Cloudflare's envelope
//! `{"success", "errors": [{"code", "message"}], "messages", "result"}`
//! ([API docs](https://developers.cloudflare.com/api/)). Calls need
//! `Authorization: Bearer <token>`: without it (or malformed) 400 with code 6003; an unknown
//! token 401 and a token of another account 403, both code 10000 "Authentication error". An
//! unknown script is 404 with code 10007 (`workers.api.error.script_not_found`).
//!
//! - `PUT /accounts/{account}/workers/scripts/{script}`
//!   ([Upload Worker Module](https://developers.cloudflare.com/api/resources/workers/subresources/scripts/methods/update/)):
//!   `multipart/form-data` with a `metadata` part (JSON, sent as a plain field as wrangler's
//!   `create-worker-upload-form.ts` does, or with content type `application/json`) and one part
//!   per module whose name and filename are the module name
//!   ([multipart upload metadata](https://developers.cloudflare.com/workers/configuration/multipart-upload-metadata/)).
//!   Checked: `main_module` (required; must name an uploaded part of type
//!   `application/javascript+module` or `text/javascript+module`), `compatibility_date`
//!   (required, `YYYY-MM-DD`, not in the future), `compatibility_flags` (array of strings),
//!   `bindings` (`plain_text`/`secret_text` with `text`, `json` with `json`; other types and
//!   repeated names refused), `annotations` (`workers/message` of at most 100 characters,
//!   `workers/tag`), `keep_bindings` (binding types carried over from the previous version).
//!   Other module content types (`application/source-map`, commonjs, wasm, text, data) are
//!   accepted as non-main parts. The script name must match `^[a-z0-9][a-z0-9_-]*$` and have at
//!   most 63 characters (code 10016). A body over the limit (default 10 MiB, Cloudflare's paid
//!   plan size limit, see [`FakeCloudflare::set_body_limit`]) is refused with 413, code 10027.
//!   Other upload errors are 400 with code 10021. A successful upload stores a new version and
//!   deploys it to 100%; the answer is the script object (`id`, `etag`, `created_on`,
//!   `modified_on`, `has_modules`, ...) with the new version's id in `deployment_id`, which is
//!   where Cloudflare (and wrangler, reading it) put it.
//! - `POST .../scripts/{script}/versions`
//!   ([Upload Version](https://developers.cloudflare.com/api/resources/workers/subresources/scripts/subresources/versions/methods/create/)):
//!   the same upload and checks for an existing script, without deploying.
//! - `GET .../scripts/{script}/versions` (newest first in `result.items`, paginated with `page`
//!   and `per_page`, default 10, at most 100, `result_info` as Cloudflare's) and
//!   `GET .../versions/{version_id}` (`id`, `number`, `metadata`, `annotations`,
//!   `resources.bindings` without secret values, `resources.script_runtime`).
//! - `GET .../scripts/{script}/deployments` (newest first in `result.deployments`) and
//!   `POST .../deployments` ([Create Deployment](https://developers.cloudflare.com/api/resources/workers/subresources/scripts/subresources/deployments/methods/create/)):
//!   `{"strategy": "percentage", "versions": [{"version_id", "percentage"}], "annotations"}`;
//!   one or two existing versions, percentages in (0, 100] summing to 100, a
//!   `workers/message` of at most 50 characters (the OpenAPI schema's limit). This is how a
//!   rollback is made; like Cloudflare, the fake refuses (400, code 10220, "The following
//!   secrets have changed: A, B", the text wrangler's `rollback` parses) to deploy a version
//!   older than the one live when their secrets differ, unless `?force=true` is given.
//! - `PUT .../scripts/{script}/secrets` (`{"name", "text", "type": "secret_text"}`) and
//!   `GET .../secrets` (names and types only). As on Cloudflare, putting a secret creates a new
//!   version (the live one plus the secret) and deploys it; it is refused while traffic is
//!   split between two versions.
//! - `GET /accounts/{account}/workers/subdomain` (`{"subdomain"}`), and
//!   `GET`/`POST .../scripts/{script}/subdomain` (`{"enabled", "previews_enabled"}`).
//! - The `workers.dev` edge: a request whose `Host` is `{script}.{subdomain}.workers.dev`
//!   is answered as that worker (see [`edge`]).
//! - `DELETE .../scripts/{script}`, `GET /accounts/{account}/workers/scripts` (the account's
//!   scripts), and `GET /user/tokens/verify` (or `/accounts/{account}/tokens/verify`).
//!
//! Version and deployment ids are UUIDs, answered hyphenated and lower-case unless
//! [`FakeCloudflare::set_id_forms`] asks for another [`IdForm`] (hyphenless, upper-case), in
//! the upload's answer or in every other; requests must name a version by its canonical id.
//!
//! JSON request bodies must be sent with `Content-Type: application/json`.
//!
//! Secret values are stored (tests read them with [`Script::secrets`]) but never returned by
//! any route.
//!
//! # Rate limits and faults
//!
//! [`RateLimit`] models Cloudflare's per-token limit
//! ([1200 requests per 5 minutes](https://developers.cloudflare.com/fundamentals/api/reference/limits/)):
//! over it, 429 with code 971 and `Retry-After` in whole seconds, rounded up. [`Faults`] inject
//! 500s (code 10013), slow answers, connections closed before the request has any effect, and
//! connections closed after it took effect (the answer to a successful upload is lost), drawn
//! from an RNG seeded by [`Faults::seed`] so a test sees the same faults on every run. Faults
//! can be limited to a path, a method and a number of requests ([`Faults::max_faults`]: "lose
//! the answer to the first upload, then behave").
//!
//! Error codes other than 10000, 10007, 10013, 10021, 10027, 10220 and 971 are
//! Cloudflare-style codes chosen to be distinct; tests of a client should rely on status and
//! `success`, and on codes only where this page names them.

mod api;
pub mod domains;
pub mod edge;
mod model;
mod server;
mod upload;

pub use edge::WorkerHealth;
pub use model::{
    Binding, Deployment, DeploymentVersion, Faults, IdForm, IdForms, ModulePart, RateLimit,
    RecordedRequest, Script, Version,
};
pub use server::{DEFAULT_BODY_LIMIT, FakeCloudflare};
