//! The c15t control plane's HTTP layer (being written): the REST API under `/api/v1`, the
//! seed's `/api/control-plane` download endpoints, the OpenAPI document, operational endpoints
//! and the admin web UI. Every handler calls `c15t-control`; none touches the store.
