//! The UI's pages: the customer list, a customer's overview (settings, environments, the
//! destinations table, deployment settings), destination forms, connection tests, deploys,
//! pending changes, deployment history with rollback, the audit log and API tokens.
//!
//! Every customer page first resolves the customer through [`customer_for`], which answers
//! 404 for a customer the user may not see exactly as for one that does not exist.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use c15t_control::{ControlError, CustomerView, EnvironmentPlan, SyncStatus};
use c15t_model::UserRole;
use c15t_model::{CustomerId, DestinationSpec, Environment, Strategy};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::forms::{self, FieldErrors, FormView, Values};
use super::views::{CustomerNav, Tab, badge, csrf_field, page, short_fingerprint, time};
use super::{UiError, UiState, control_message};

type Page = Result<Response, UiError>;

/// Any unknown path under `/ui`.
pub(super) async fn not_found() -> UiError {
    UiError::NotFound
}

/// `GET /ui`: operators go to the customer list, customer admins to their customer.
pub(super) async fn home(Session(session): Session) -> Page {
    let target = match (&session.user.role, &session.user.customer) {
        (UserRole::CustomerAdmin, Some(customer)) => format!("/ui/customers/{customer}"),
        _ => "/ui/customers".to_owned(),
    };
    Ok(Redirect::to(&target).into_response())
}

/// Resolves a customer the session may see; anything else is the same 404.
async fn customer_for(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &str,
) -> Result<(CustomerId, CustomerView), UiError> {
    let id: CustomerId = id.parse().map_err(|_| UiError::NotFound)?;
    if !session.user.may_access(&id) {
        return Err(UiError::NotFound);
    }
    let view = state.control.customer_show(&id).await?;
    Ok((id, view))
}

fn nav<'a>(id: &'a CustomerId, view: &'a CustomerView, tab: Tab) -> Option<CustomerNav<'a>> {
    Some(CustomerNav {
        id: id.as_str(),
        name: &view.spec.name,
        tab,
    })
}

fn environments(view: &CustomerView) -> Vec<String> {
    view.spec
        .environments
        .clone()
        .unwrap_or_else(|| vec!["production".to_owned()])
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// `GET /ui/customers` (operators only).
pub(super) async fn customers(State(state): State<UiState>, Session(session): Session) -> Page {
    if session.user.role != UserRole::Operator {
        return Err(UiError::NotFound);
    }
    let list = state.control.customer_list().await?;
    let content = html! {
        h1 { "Customers" }
        section.card {
            @if list.is_empty() {
                p.muted { "No customers yet. Add one with " code { "c15tctl customer add" } " or " code { "c15tctl import" } "." }
            } @else {
                table #customers {
                    thead { tr { th { "Customer" } th { "ID" } th { "Destinations" } th { "Revision" } th { "Last updated" } } }
                    tbody {
                        @for c in &list {
                            tr {
                                td { a href={ "/ui/customers/" (c.id) } { (c.display_name) } }
                                td { code { (c.id) } }
                                td { (c.destination_count) }
                                td { (c.revision) }
                                td { (time(c.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Customers", Some(&session), None, content).into_response())
}

/// The status people see for one destination: from the plans of the environments it runs in.
fn destination_status(
    d: &DestinationSpec,
    plans: &[EnvironmentPlan],
) -> (&'static str, &'static str) {
    let relevant: Vec<&EnvironmentPlan> = plans
        .iter()
        .filter(|p| {
            d.environment
                .as_deref()
                .is_none_or(|e| e == p.environment.as_str())
        })
        .collect();
    if relevant.is_empty() {
        return ("muted", "No environment");
    }
    if relevant.iter().any(|p| p.status == SyncStatus::Failed) {
        ("failed", "Failed")
    } else if relevant.iter().any(|p| p.status == SyncStatus::Drifted) {
        ("failed", "Drifted")
    } else if relevant.iter().all(|p| p.status == SyncStatus::Synced) {
        ("ok", "Deployed")
    } else {
        ("pending", "Pending")
    }
}

/// Whether a destination forwards server-side events, from the plans: the vendor API it
/// forwards to, or "Browser only" with the setting its API lacks.
fn server_events(d: &DestinationSpec, plans: &[EnvironmentPlan]) -> Markup {
    let forwarding = plans
        .iter()
        .flat_map(|p| &p.events)
        .find(|e| e.destination.as_str() == d.id);
    match forwarding {
        Some(e) if e.state == c15t_control::EventsState::Forwards => html! {
            span.ok title={ "POST /analytics/events is forwarded to the " (e.api) " after consent" } { (e.api) }
        },
        Some(e) => html! {
            span.pending title={ "Set " (e.missing.join(", ")) " to forward server-side events to the " (e.api) } {
                "Browser only (needs " (e.missing.join(", ")) ")"
            }
        },
        None => html! { span.muted { "Browser only" } },
    }
}

fn env_status(plan: &EnvironmentPlan) -> Markup {
    match plan.status {
        SyncStatus::Synced => badge("ok", "Deployed"),
        SyncStatus::OutOfSync => badge("pending", "Pending changes"),
        SyncStatus::NeverDeployed => badge("pending", "Never deployed"),
        SyncStatus::Failed => badge("failed", "Failed"),
        SyncStatus::Drifted => badge("failed", "Drifted"),
    }
}

/// The destinations table with its buttons, re-rendered by htmx after a toggle.
async fn destinations_section(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    view: &CustomerView,
    notice: Option<Markup>,
) -> Markup {
    let plans = state.control.plan(id, None).await;
    let audit = state.control.audit(Some(id), 500).await.unwrap_or_default();
    let last_updated = |d: &DestinationSpec| {
        let resource = format!("customer/{id}/destination/{}", d.id);
        audit.iter().find(|a| a.resource == resource).map(|a| a.at)
    };
    let plans_list = plans.as_ref().map(Vec::as_slice).unwrap_or_default();
    let base = format!("/ui/customers/{id}");
    html! {
        section.card #destinations {
            div.section-head {
                h2 { "Your destinations" }
                div.actions {
                    a.button #add-destination href={ (base) "/destinations/new" } { "+ Add Destination" }
                    @for env in environments(view) {
                        a.button #{ "download-" (env) } href={ (base) "/worker-config?environment=" (env) } { "Download Config (" (env) ")" }
                    }
                    form method="post" action={ (base) "/deploy" } {
                        (csrf_field(session))
                        button.primary type="submit" #deploy { "Deploy" }
                    }
                }
            }
            @if let Some(notice) = notice { (notice) }
            @if let Err(e) = &plans {
                p.error role="alert" { "The status is unknown: " (control_message(e).1) }
            }
            @if view.spec.destinations.is_empty() {
                p.muted { "No destinations yet." }
            } @else {
                table #destination-table {
                    thead { tr { th { "Name" } th { "Kind" } th { "Environment" } th { "Enabled" } th { "Server events" } th { "Status" } th { "Last updated" } th {} } }
                    tbody {
                        @for d in &view.spec.destinations {
                            @let (class, label) = destination_status(d, plans_list);
                            @let kind = state.control.catalogue().get(&d.kind).map_or(d.kind.as_str(), |k| k.display_name);
                            tr #{ "destination-" (d.id) } {
                                td { strong { (d.name) } br; code.muted { (d.id) } }
                                td { (kind) }
                                td { (d.environment.as_deref().unwrap_or("every environment")) }
                                td {
                                    label.switch {
                                        input type="checkbox" name="enabled" checked[d.enabled]
                                            hx-post={ (base) "/destinations/" (d.id) "/enabled" }
                                            hx-vals={ r#"{"enabled": ""# (!d.enabled) r#""}"# }
                                            hx-target="#destinations" hx-swap="outerHTML";
                                        span { @if d.enabled { "Enabled" } @else { "Disabled" } }
                                    }
                                }
                                td.events { (server_events(d, plans_list)) }
                                td.status { (badge(class, label)) }
                                td { @if let Some(at) = last_updated(d) { (time(at)) } @else { span.muted { "—" } } }
                                td.buttons {
                                    a.button.small href={ (base) "/destinations/" (d.id) } { "Edit" }
                                    button.small type="button"
                                        hx-post={ (base) "/destinations/" (d.id) "/test" }
                                        hx-target={ "#test-" (d.id) } hx-swap="innerHTML" { "Test" }
                                    form.inline method="post" action={ (base) "/destinations/" (d.id) "/redeploy" } {
                                        (csrf_field(session))
                                        button.small type="submit" { "Redeploy" }
                                    }
                                    div.test-result id={ "test-" (d.id) } aria-live="polite" {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The "Deployment Settings" card: the strategy selector.
fn strategy_section(
    session: &c15t_control::SessionView,
    id: &CustomerId,
    current: Strategy,
    saved: bool,
) -> Markup {
    let describe = |s: Strategy| match s {
        Strategy::Automatic => "Automatic (deploys on save)",
        Strategy::Manual => "Manual (click Deploy when ready)",
        Strategy::Notify => "Notify (signed webhook; you deploy)",
        Strategy::Gitops => "GitOps (PR to your repo)",
    };
    html! {
        section.card #strategy {
            h2 { "Deployment settings" }
            form method="post" action={ "/ui/customers/" (id) "/strategy" }
                hx-post={ "/ui/customers/" (id) "/strategy" } hx-target="#strategy" hx-swap="outerHTML" hx-trigger="change" {
                (csrf_field(session))
                @for s in Strategy::ALL {
                    label.radio {
                        input type="radio" name="strategy" value=(s.as_str()) checked[s == current];
                        " " (describe(s))
                    }
                }
                noscript { button type="submit" { "Save" } }
                @if saved { p.notice role="status" { "Saved: " (describe(current)) "." } }
            }
        }
    }
}

/// The "Rollout" card: how Cloudflare releases of this customer take traffic.
fn rollout_section(
    session: &c15t_control::SessionView,
    id: &CustomerId,
    current: Option<&c15t_model::Rollout>,
    notice: Option<Markup>,
) -> Markup {
    let (steps, dwell) = match current {
        Some(c15t_model::Rollout::Immediate) => ("immediate".to_owned(), 60),
        Some(c15t_model::Rollout::Gradual { steps, dwell_secs }) => (
            steps
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            *dwell_secs,
        ),
        None => (String::new(), 60),
    };
    html! {
        section.card #rollout {
            h2 { "Rollout" }
            p.muted {
                "How a new release takes traffic on Cloudflare: "
                @match current {
                    Some(r) => { strong { (r.to_string()) } }
                    None => { "the operator's default" }
                }
                ". Each step is probed; a failing probe puts the previous release back at once."
            }
            form method="post" action={ "/ui/customers/" (id) "/rollout" }
                hx-post={ "/ui/customers/" (id) "/rollout" } hx-target="#rollout" hx-swap="outerHTML" {
                (csrf_field(session))
                label { "Steps (percentages, e.g. 10,50,100; " code { "immediate" } "; empty for the default) "
                    input type="text" name="steps" value=(steps) placeholder="10,50,100";
                }
                label { "Seconds between steps "
                    input type="number" name="dwell_secs" min="0" max="3600" value=(dwell);
                }
                button type="submit" { "Save rollout" }
                @if let Some(notice) = notice { (notice) }
            }
        }
    }
}

/// One environment's routing as a paragraph: the custom domain and its state, workers.dev,
/// and whether the next deploy changes it.
fn route_line(route: &c15t_control::RouteStatus) -> Markup {
    let state_class = |state: &str| match state {
        "active" => "ok",
        "error" => "failed",
        _ => "pending",
    };
    html! {
        p.route #{ "route-" (route.environment) } {
            @match (&route.wanted.hostname, &route.domain) {
                (Some(wanted), Some(d)) if *wanted == d.hostname => {
                    "Custom domain " code { (wanted) } " "
                    (badge(state_class(d.state), d.state))
                    @if let Some(zone) = &d.zone_name { " " span.muted { "zone " (zone) } }
                    @if let Some(message) = &d.message { " " span.muted.domain-message { (message) } }
                }
                (Some(wanted), _) => { "Custom domain " code { (wanted) } " " span.muted { "not attached yet" } }
                (None, Some(d)) => { "No custom domain; " code { (d.hostname) } " is detached by the next deploy" }
                (None, None) => { "No custom domain" }
            }
            "; workers.dev " (if route.wanted.workers_dev { "on" } else { "off" })
            @if route.pending { ". " strong { "Pending:" } " the next deploy applies it." }
        }
    }
}

/// The "Domains" card: each environment's custom domain and workers.dev switch.
fn routing_section(
    session: &c15t_control::SessionView,
    id: &CustomerId,
    environments: &[String],
    routes: &[c15t_control::RouteStatus],
    notice: Option<Markup>,
) -> Markup {
    html! {
        section.card #routing {
            h2 { "Domains" }
            p.muted {
                "Where each environment's Cloudflare worker answers: a hostname on one of the "
                "customer's Cloudflare zones (first-party for the consent cookie), and whether it "
                "also answers on workers.dev. Deploying applies a change."
            }
            @for env in environments {
                @let route = routes.iter().find(|r| r.environment.as_str() == env.as_str());
                @let wanted = route.map(|r| r.wanted.clone()).unwrap_or_default();
                h3 { (env) }
                @if let Some(route) = route { (route_line(route)) }
                form method="post" action={ "/ui/customers/" (id) "/routing" }
                    hx-post={ "/ui/customers/" (id) "/routing" } hx-target="#routing" hx-swap="outerHTML" {
                    (csrf_field(session))
                    input type="hidden" name="environment" value=(env);
                    label { "Hostname "
                        input type="text" name="hostname" value=(wanted.hostname.clone().unwrap_or_default()) placeholder="consent.example.com";
                    }
                    label { "Zone id (optional) "
                        input type="text" name="zone_id" value=(wanted.zone_id.clone().unwrap_or_default()) placeholder="32 hex digits";
                    }
                    label.checkbox {
                        input type="checkbox" name="workers_dev" value="on" checked[wanted.workers_dev];
                        " Also answer on workers.dev"
                    }
                    button type="submit" { "Save " (env) " domain" }
                }
            }
            @if let Some(notice) = notice { (notice) }
        }
    }
}

/// The routing form of one environment.
#[derive(Deserialize)]
pub(super) struct RoutingForm {
    environment: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    zone_id: String,
    #[serde(default)]
    workers_dev: Option<String>,
}

/// `POST /ui/customers/{customer}/routing`.
pub(super) async fn routing_set(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RoutingForm>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let environment = form
        .environment
        .parse::<Environment>()
        .map_err(|e| UiError::Control(ControlError::BadRequest(format!("environment: {e}"))))?;
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let routing = c15t_model::Routing {
        hostname: text(&form.hostname),
        zone_id: text(&form.zone_id),
        workers_dev: form.workers_dev.is_some(),
    };
    let changed = state
        .control
        .delivery_set(
            &session.user.actor(),
            &id,
            c15t_control::DeliveryPatch {
                routing: vec![(environment.clone(), routing)],
                ..c15t_control::DeliveryPatch::default()
            },
        )
        .await?;
    if is_htmx(&headers) {
        let saved =
            html! { p.notice role="status" { "Saved " (environment) "; deploy to apply it." } };
        Ok(routing_section(
            &session,
            &id,
            &environments(&view),
            &changed.view.routes,
            Some(saved),
        )
        .into_response())
    } else {
        Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response())
    }
}

/// The rollout form.
#[derive(Deserialize)]
pub(super) struct RolloutForm {
    #[serde(default)]
    steps: String,
    #[serde(default)]
    dwell_secs: Option<String>,
}

/// `POST /ui/customers/{customer}/rollout`.
pub(super) async fn rollout_set(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RolloutForm>,
) -> Page {
    let (id, _) = customer_for(&state, &session, &customer).await?;
    let dwell = match form.dwell_secs.as_deref().map(str::trim) {
        None | Some("") => 60,
        Some(text) => text.parse::<u64>().map_err(|_| {
            UiError::Control(ControlError::BadRequest(format!(
                "dwell_secs: `{}` is not a number of seconds (0 to 3600)",
                text.chars().take(16).collect::<String>()
            )))
        })?,
    };
    let rollout = match form.steps.trim() {
        "" => None,
        text => Some(
            c15t_model::Rollout::parse(text, dwell)
                .map_err(|e| UiError::Control(ControlError::BadRequest(format!("steps: {e}"))))?,
        ),
    };
    let changed = state
        .control
        .delivery_set(
            &session.user.actor(),
            &id,
            c15t_control::DeliveryPatch {
                rollout: Some(rollout),
                ..c15t_control::DeliveryPatch::default()
            },
        )
        .await?;
    if is_htmx(&headers) {
        let saved = html! { p.notice role="status" { "Saved." } };
        Ok(rollout_section(
            &session,
            &id,
            changed.view.delivery.rollout.as_ref(),
            Some(saved),
        )
        .into_response())
    } else {
        Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response())
    }
}

/// `GET /ui/customers/{customer}`.
pub(super) async fn customer_overview(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    overview_page(&state, &session, &id, &view, None, StatusCode::OK).await
}

async fn overview_page(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    view: &CustomerView,
    notice: Option<Markup>,
    status: StatusCode,
) -> Page {
    let delivery = state.control.delivery_show(id).await?;
    let plans = state.control.plan(id, None).await.unwrap_or_default();
    let spec = &view.spec;
    let target = match &delivery.delivery.target {
        c15t_model::DeployTarget::None => "not configured".to_owned(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "configured".to_owned()),
    };
    let content = html! {
        div.grid {
            section.card #settings {
                h2 { "Settings" }
                dl {
                    dt { "Trusted origins" }
                    dd { @if spec.trusted_origins.is_empty() { span.muted { "none" } } @else { ul.plain { @for o in &spec.trusted_origins { li { code { (o) } } } } } }
                    dt { "Database" }
                    dd { (spec.database.provider) " · " code { (spec.database.url) } }
                    dt { "Environments" }
                    dd { (environments(view).join(", ")) }
                    dt { "Deploy target" }
                    dd { (target) }
                    dt { "Revision" }
                    dd { (view.revision) }
                }
            }
            section.card #environments {
                h2 { "Workers" }
                @if plans.is_empty() { p.muted { "No plan: the configuration does not validate." } }
                table {
                    thead { tr { th { "Environment" } th { "Status" } th { "Worker" } th { "Health" } } }
                    tbody {
                        @for p in &plans {
                            tr #{ "env-" (p.environment) } {
                                td { (p.environment) }
                                td { (env_status(p)) }
                                td.worker-url {
                                    @if let Some(url) = p.live.as_ref().and_then(|l| l.url.as_deref()) {
                                        a href=(url) target="_blank" rel="noopener noreferrer" { (url) }
                                    } @else { span.muted { "not deployed" } }
                                }
                                td {
                                    @match &p.health {
                                        Some(h) if h.up => { (badge("ok", "up")) @if let Some(ms) = h.latency_ms { " " span.muted { (ms) " ms" } } }
                                        Some(h) => { (badge("failed", "down")) @if let Some(e) = &h.error { " " span.muted { (e) } } }
                                        None => { span.muted { "not checked yet" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (destinations_section(state, session, id, view, notice).await)
        (strategy_section(session, id, delivery.delivery.strategy, false))
        (rollout_section(session, id, delivery.delivery.rollout.as_ref(), None))
        (routing_section(session, id, &environments(view), &delivery.routes, None))
    };
    Ok((
        status,
        page(
            &spec.name,
            Some(session),
            nav(id, view, Tab::Overview),
            content,
        ),
    )
        .into_response())
}

/// The strategy form.
#[derive(Deserialize)]
pub(super) struct StrategyForm {
    strategy: String,
}

/// `POST /ui/customers/{customer}/strategy`.
pub(super) async fn strategy_set(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StrategyForm>,
) -> Page {
    let (id, _) = customer_for(&state, &session, &customer).await?;
    let strategy: Strategy = form
        .strategy
        .parse()
        .map_err(|e: String| UiError::Control(ControlError::BadRequest(e)))?;
    let changed = state
        .control
        .strategy_set(&session.user.actor(), &id, strategy)
        .await?;
    if is_htmx(&headers) {
        Ok(strategy_section(&session, &id, changed.delivery.strategy, true).into_response())
    } else {
        Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response())
    }
}

/// Which environment a form or link is about; every environment when absent.
#[derive(Deserialize)]
pub(super) struct EnvironmentForm {
    #[serde(default)]
    environment: Option<String>,
}

async fn deploy_environments(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    environments: Vec<Environment>,
) -> Result<Vec<String>, UiError> {
    let mut failures = Vec::new();
    for env in environments {
        if let Err(failure) = state
            .control
            .deploy_detached(&session.user.actor(), id, &env)
            .await
        {
            let (status, message) = control_message(&failure.error);
            if status == StatusCode::NOT_FOUND {
                return Err(UiError::NotFound);
            }
            if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
                return Err(UiError::Control(failure.error));
            }
            failures.push(format!("{env}: {message}"));
        }
    }
    Ok(failures)
}

fn parse_environment(text: &str) -> Result<Environment, UiError> {
    Environment::new(text).map_err(|_| UiError::NotFound)
}

async fn after_deploy(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    failures: Vec<String>,
) -> Page {
    if failures.is_empty() {
        return Ok(Redirect::to(&format!("/ui/customers/{id}/deployments")).into_response());
    }
    let view = state.control.customer_show(id).await?;
    deployments_page(state, session, id, &view, Some(failures)).await
}

/// `POST /ui/customers/{customer}/deploy`: deploys one environment, or every one.
pub(super) async fn deploy(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    Form(form): Form<EnvironmentForm>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let envs = match form.environment.filter(|e| !e.is_empty()) {
        Some(env) => vec![parse_environment(&env)?],
        None => environments(&view)
            .iter()
            .map(|e| parse_environment(e))
            .collect::<Result<_, _>>()?,
    };
    let failures = deploy_environments(&state, &session, &id, envs).await?;
    after_deploy(&state, &session, &id, failures).await
}

/// `POST /ui/customers/{customer}/destinations/{destination}/redeploy`: deploys the
/// environments the destination runs in.
pub(super) async fn destination_redeploy(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, destination)): Path<(String, String)>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let d = view
        .spec
        .destinations
        .iter()
        .find(|d| d.id == destination)
        .ok_or(UiError::NotFound)?;
    let envs = match &d.environment {
        Some(env) => vec![parse_environment(env)?],
        None => environments(&view)
            .iter()
            .map(|e| parse_environment(e))
            .collect::<Result<_, _>>()?,
    };
    let failures = deploy_environments(&state, &session, &id, envs).await?;
    after_deploy(&state, &session, &id, failures).await
}

/// `GET /ui/customers/{customer}/worker-config?environment=...`: the generated worker entry
/// (`src/index.ts`) as a download, the seed's "Download Worker Config".
pub(super) async fn worker_config(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    Query(query): Query<EnvironmentForm>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let env = match query.environment.filter(|e| !e.is_empty()) {
        Some(env) => parse_environment(&env)?,
        None => parse_environment(
            environments(&view)
                .first()
                .map_or("production", String::as_str),
        )?,
    };
    let project = state
        .control
        .generate(&id, &env, state.control.target())
        .await?;
    let entry = project
        .files
        .into_iter()
        .find(|f| f.path == "src/index.ts")
        .ok_or(UiError::NotFound)?;
    let disposition = format!("attachment; filename=\"c15t-worker-{id}-{env}.ts\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/typescript; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        entry.contents,
    )
        .into_response())
}

fn diff_lines(diff: &str) -> Markup {
    html! {
        pre.diff {
            @for line in diff.lines() {
                @let class = if line.starts_with("+++") || line.starts_with("---") { "meta" }
                    else if line.starts_with('+') { "add" }
                    else if line.starts_with('-') { "del" }
                    else if line.starts_with("@@") { "hunk" }
                    else { "ctx" };
                span class=(class) { (line) "\n" }
            }
        }
    }
}

/// `GET /ui/customers/{customer}/diff`: pending against deployed, per environment.
pub(super) async fn diff(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let plans = state.control.plan(&id, None).await?;
    let content = html! {
        @for p in &plans {
            section.card.plan #{ "plan-" (p.environment) } {
                div.section-head {
                    h2 { (p.environment) " " (env_status(p)) }
                    form method="post" action={ "/ui/customers/" (id) "/deploy" } {
                        (csrf_field(&session))
                        input type="hidden" name="environment" value=(p.environment);
                        button.primary type="submit" { "Deploy " (p.environment) }
                    }
                }
                p.muted {
                    "Worker " code { (p.worker_name) } ", revision " (p.revision)
                    @if let Some(live) = &p.live { "; live: deployment #" (live.id) " (revision " (live.revision) ")" }
                }
                @if let Some(drift) = &p.drift {
                    p.drift {
                        strong { "Drifted: " } (drift.detail)
                        @if let Some(author) = &drift.author { ", by " code { (author) } }
                        @if let Some(source) = &drift.source { " (" (source) ")" }
                        ". Deploying restores what the configuration generates."
                    }
                }
                @if let Some(route) = &p.routing {
                    @if route.pending || route.domain.is_some() {
                        (route_line(route))
                    }
                }
                @if let Some(old) = &p.rename_from {
                    p.rename {
                        "Pending rename: the worker runs as " code { (old) } ", which is not a valid hostname. "
                        "Deploying brings it up as " code { (p.worker_name) } " and deletes " code { (old) }
                        " once the new worker answers healthy."
                    }
                }
                @let changed: Vec<_> = p.files.iter().filter(|f| !f.diff.is_empty()).collect();
                @if changed.is_empty() && p.secrets.iter().all(|s| s.deployed == s.pending) {
                    p { "No pending changes." }
                }
                @for f in &changed {
                    h3 { code { (f.path) } " " span.muted { (format!("{:?}", f.change).to_lowercase()) } }
                    (diff_lines(&f.diff))
                }
                @if !p.secrets.is_empty() {
                    h3 { "Secret bindings (fingerprints)" }
                    table.secrets {
                        thead { tr { th { "Binding" } th { "Change" } th { "Deployed" } th { "Pending" } } }
                        tbody {
                            @for s in &p.secrets {
                                tr {
                                    td { code { (s.binding) } }
                                    td { (format!("{:?}", s.change).to_lowercase()) }
                                    td { @if let Some(fp) = &s.deployed { code { (short_fingerprint(fp)) } } @else { "—" } }
                                    td { @if let Some(fp) = &s.pending { code { (short_fingerprint(fp)) } } @else { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        "Pending changes",
        Some(&session),
        nav(&id, &view, Tab::Diff),
        content,
    )
    .into_response())
}

/// `GET /ui/customers/{customer}/deployments`.
pub(super) async fn deployments(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    deployments_page(&state, &session, &id, &view, None).await
}

async fn deployments_page(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    view: &CustomerView,
    failures: Option<Vec<String>>,
) -> Page {
    let list = state
        .control
        .deployments(id, None, 50)
        .await
        .or_else(|e| match e {
            ControlError::NotFound { .. } => Ok(Vec::new()),
            other => Err(other),
        })?;
    let live: Vec<i64> = state
        .control
        .plan(id, None)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.live.as_ref().map(|l| l.id))
        .collect();
    let status = if failures.is_some() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    let content = html! {
        @if let Some(failures) = &failures {
            div.error role="alert" #deploy-error {
                p { "The deploy failed:" }
                ul { @for f in failures { li { (f) } } }
            }
        }
        section.card {
            h2 { "Deployment history" }
            @if list.is_empty() {
                p.muted { "Nothing deployed yet." }
            } @else {
                table #deployments {
                    thead { tr { th { "#" } th { "Environment" } th { "Status" } th { "Revision" } th { "Started" } th { "Worker" } th { "Error" } th {} } }
                    tbody {
                        @for d in &list {
                            tr #{ "deployment-" (d.id) } {
                                td { (d.id) @if let Some(of) = d.rollback_of { br; span.muted { "rollback to #" (of) } } }
                                td { (d.environment) }
                                td {
                                    @match d.status.as_str() {
                                        "succeeded" => { (badge("ok", "succeeded")) @if live.contains(&d.id) { " " (badge("live", "live")) } }
                                        "failed" => (badge("failed", "failed")),
                                        "rolled_back" => (badge("muted", "rolled back")),
                                        other => (badge("pending", other)),
                                    }
                                }
                                td { (d.revision) }
                                td { (time(d.created_at)) }
                                td.worker-url { @if let Some(url) = &d.url { a href=(url) target="_blank" rel="noopener noreferrer" { (url) } } }
                                td.deploy-error { @if let Some(e) = &d.error { (e) } }
                                td {
                                    @if matches!(d.status.as_str(), "succeeded" | "rolled_back") && !live.contains(&d.id) {
                                        form method="post" action={ "/ui/customers/" (id) "/deployments/" (d.id) "/rollback" } {
                                            (csrf_field(session))
                                            button.small type="submit" { "Roll back to this" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((
        status,
        page(
            "Deployments",
            Some(session),
            nav(id, view, Tab::Deployments),
            content,
        ),
    )
        .into_response())
}

/// `POST /ui/customers/{customer}/deployments/{deployment}/rollback`.
pub(super) async fn rollback(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, deployment)): Path<(String, i64)>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    match state
        .control
        .rollback_detached(&session.user.actor(), &id, deployment)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/ui/customers/{id}/deployments")).into_response()),
        Err(failure) => {
            let (status, message) = control_message(&failure.error);
            match status {
                StatusCode::NOT_FOUND => Err(UiError::NotFound),
                StatusCode::INTERNAL_SERVER_ERROR => Err(UiError::Control(failure.error)),
                _ => deployments_page(&state, &session, &id, &view, Some(vec![message])).await,
            }
        }
    }
}

/// `GET /ui/customers/{customer}/audit`.
pub(super) async fn audit(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let entries = state.control.audit(Some(&id), 200).await?;
    let content = html! {
        section.card {
            h2 { "Audit log" }
            table #audit {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Resource" } th { "Details" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (time(e.at)) }
                            td { (e.actor) }
                            td { code { (e.action) } }
                            td { code { (e.resource) } }
                            td {
                                @if e.before.is_some() || e.after.is_some() || !e.changes.is_empty() {
                                    details {
                                        summary { "show" }
                                        @if let Some(b) = &e.before { h4 { "Before" } pre { (serde_json::to_string_pretty(b).unwrap_or_default()) } }
                                        @if let Some(a) = &e.after { h4 { "After" } pre { (serde_json::to_string_pretty(a).unwrap_or_default()) } }
                                        @if !e.changes.is_empty() {
                                            h4 { "Changes" }
                                            ul.changes {
                                                @for c in &e.changes {
                                                    li {
                                                        code { (if c.path.is_empty() { "(whole)" } else { c.path.as_str() }) } ": "
                                                        (c.before.as_ref().map_or_else(|| "(none)".to_owned(), |v| v.to_string()))
                                                        " -> "
                                                        (c.after.as_ref().map_or_else(|| "(none)".to_owned(), |v| v.to_string()))
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        "Audit log",
        Some(&session),
        nav(&id, &view, Tab::Audit),
        content,
    )
    .into_response())
}

async fn tokens_page(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    view: &CustomerView,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Page {
    let list = state.control.api_token_list(id).await?;
    let content = html! {
        @if let Some((name, token)) = &created {
            section.card.notice-card #new-token role="status" {
                h2 { "Token " code { (name) } " created" }
                p { "Copy it now: it is shown this once and cannot be shown again." }
                pre.token { (token) }
            }
        }
        section.card {
            h2 { "API tokens" }
            @if let Some(error) = &error { p.error role="alert" { (error) } }
            form.row method="post" action={ "/ui/customers/" (id) "/tokens" } {
                (csrf_field(session))
                label for="token-name" { "Name" }
                input #token-name type="text" name="name" placeholder="ci";
                button.primary type="submit" #create-token { "Create token" }
            }
            @if list.is_empty() {
                p.muted { "No tokens." }
            } @else {
                table #tokens {
                    thead { tr { th { "Name" } th { "Ends in" } th { "Created" } th { "State" } th {} } }
                    tbody {
                        @for t in &list {
                            tr {
                                td { (t.name) }
                                td { code { "…" (t.hint) } }
                                td { (time(t.created_at)) }
                                td { @if let Some(at) = t.revoked_at { "revoked " (time(at)) } @else { (badge("ok", "active")) } }
                                td {
                                    @if t.revoked_at.is_none() {
                                        form method="post" action={ "/ui/customers/" (id) "/tokens/" (t.id) "/revoke" } {
                                            (csrf_field(session))
                                            button.small.danger type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        "API tokens",
        Some(session),
        nav(id, view, Tab::Tokens),
        content,
    )
    .into_response())
}

/// `GET /ui/customers/{customer}/tokens`.
pub(super) async fn tokens(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    tokens_page(&state, &session, &id, &view, None, None).await
}

/// The token form.
#[derive(Deserialize)]
pub(super) struct TokenForm {
    name: String,
}

/// `POST /ui/customers/{customer}/tokens`: creates a token and shows it once.
pub(super) async fn token_create(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    Form(form): Form<TokenForm>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    match state
        .control
        .api_token_create(&session.user.actor(), &id, &form.name)
        .await
    {
        Ok(created) => {
            let shown = (
                created.record.name.clone(),
                created.token.expose().to_owned(),
            );
            let mut response = tokens_page(&state, &session, &id, &view, Some(shown), None).await?;
            // The page holds a credential: never cache it.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        Err(ControlError::BadRequest(message)) => {
            tokens_page(&state, &session, &id, &view, None, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /ui/customers/{customer}/tokens/{token}/revoke`.
pub(super) async fn token_revoke(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, token)): Path<(String, i64)>,
) -> Page {
    let (id, _) = customer_for(&state, &session, &customer).await?;
    state
        .control
        .api_token_revoke(&session.user.actor(), &id, token)
        .await?;
    Ok(Redirect::to(&format!("/ui/customers/{id}/tokens")).into_response())
}

/// The kind picker's query.
#[derive(Deserialize)]
pub(super) struct KindQuery {
    #[serde(default)]
    kind: Option<String>,
}

fn form_page(
    state: &UiState,
    session: &c15t_control::SessionView,
    id: &CustomerId,
    view: &CustomerView,
    form: FormView<'_>,
    status: StatusCode,
) -> Response {
    let _ = state;
    let title = if form.stored.is_some() {
        "Edit destination"
    } else {
        "Add destination"
    };
    let content = html! {
        section.card.form-card {
            h2 { (title) }
            (forms::destination_form(&form, csrf_field(session)))
        }
    };
    (
        status,
        page(title, Some(session), nav(id, view, Tab::Overview), content),
    )
        .into_response()
}

/// `GET /ui/customers/{customer}/destinations/new[?kind=...]`: the kind picker, then the form.
pub(super) async fn destination_new(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    Query(query): Query<KindQuery>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let catalogue = state.control.catalogue();
    let Some(kind) = query.kind.as_deref().and_then(|k| catalogue.get(k)) else {
        let content = html! {
            section.card {
                h2 { "Add a destination" }
                p { "Choose the kind of destination:" }
                ul.kinds {
                    @for k in catalogue.kinds() {
                        li { a.button #{ "kind-" (k.slug) } href={ "/ui/customers/" (id) "/destinations/new?kind=" (k.slug) } { (k.display_name) } }
                    }
                }
            }
        };
        return Ok(page(
            "Add destination",
            Some(&session),
            nav(&id, &view, Tab::Overview),
            content,
        )
        .into_response());
    };
    let mut values = Values::new();
    values.insert("enabled".into(), "on".into());
    values.insert("name".into(), kind.display_name.to_owned());
    let envs = environments(&view);
    Ok(form_page(
        &state,
        &session,
        &id,
        &view,
        FormView {
            action: format!("/ui/customers/{id}/destinations"),
            kind,
            environments: &envs,
            values: &values,
            errors: &FieldErrors::new(),
            stored: None,
        },
        StatusCode::OK,
    ))
}

/// Errors of a failed save, by field; `None` for failures that are not about the input.
fn save_errors(e: &ControlError, index: usize) -> Option<FieldErrors> {
    match e {
        ControlError::Invalid(errors) => Some(forms::field_errors(errors, index)),
        ControlError::AlreadyExists { .. } => Some(FieldErrors::from([(
            "id".to_owned(),
            vec!["a destination with this ID exists already; choose another".to_owned()],
        )])),
        ControlError::BadRequest(_)
        | ControlError::Conflict { .. }
        | ControlError::SecretsChanged { .. } => {
            Some(FieldErrors::from([(String::new(), vec![e.to_string()])]))
        }
        _ => None,
    }
}

/// `POST /ui/customers/{customer}/destinations`.
pub(super) async fn destination_create(
    State(state): State<UiState>,
    Session(session): Session,
    Path(customer): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let values = forms::values(pairs);
    let catalogue = state.control.catalogue();
    let kind = values
        .get("kind")
        .and_then(|k| catalogue.get(k))
        .ok_or_else(|| {
            UiError::Control(ControlError::BadRequest(
                "choose a known destination kind".to_owned(),
            ))
        })?;
    let (spec, secrets) = forms::new_destination(catalogue, kind, &values);
    let index = view.spec.destinations.len();
    let errors = if spec.id.is_empty() {
        FieldErrors::from([(
            "id".to_owned(),
            vec!["give the destination an ID, e.g. `meta-prod`".to_owned()],
        )])
    } else {
        match state
            .control
            .destination_add(
                &session.user.actor(),
                &id,
                spec,
                secrets,
                Some(view.revision),
            )
            .await
        {
            Ok(_) => return Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response()),
            Err(e) => save_errors(&e, index).ok_or(UiError::from(e))?,
        }
    };
    let envs = environments(&view);
    Ok(form_page(
        &state,
        &session,
        &id,
        &view,
        FormView {
            action: format!("/ui/customers/{id}/destinations"),
            kind,
            environments: &envs,
            values: &values,
            errors: &errors,
            stored: None,
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

fn stored_destination<'a>(
    view: &'a CustomerView,
    destination: &str,
) -> Result<(usize, &'a DestinationSpec), UiError> {
    view.spec
        .destinations
        .iter()
        .enumerate()
        .find(|(_, d)| d.id == destination)
        .ok_or(UiError::NotFound)
}

/// `GET /ui/customers/{customer}/destinations/{destination}`: the edit form.
pub(super) async fn destination_edit_form(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, destination)): Path<(String, String)>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let (_, stored) = stored_destination(&view, &destination)?;
    let kind = state
        .control
        .catalogue()
        .get(&stored.kind)
        .ok_or(UiError::NotFound)?;
    let values = forms::stored_values(stored);
    let envs = environments(&view);
    Ok(form_page(
        &state,
        &session,
        &id,
        &view,
        FormView {
            action: format!("/ui/customers/{id}/destinations/{}", stored.id),
            kind,
            environments: &envs,
            values: &values,
            errors: &FieldErrors::new(),
            stored: Some(stored),
        },
        StatusCode::OK,
    ))
}

/// `POST /ui/customers/{customer}/destinations/{destination}`: saves the edit form.
pub(super) async fn destination_update(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, destination)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let (index, stored) = stored_destination(&view, &destination)?;
    let catalogue = state.control.catalogue();
    let kind = catalogue.get(&stored.kind).ok_or(UiError::NotFound)?;
    let mut values = forms::values(pairs);
    values.insert("id".into(), stored.id.clone());
    let patch = forms::patch(catalogue, kind, stored, &values);
    let errors = match state
        .control
        .destination_edit(
            &session.user.actor(),
            &id,
            &stored.id,
            patch,
            Some(view.revision),
        )
        .await
    {
        Ok(_) => return Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response()),
        Err(e) => save_errors(&e, index).ok_or(UiError::from(e))?,
    };
    let envs = environments(&view);
    Ok(form_page(
        &state,
        &session,
        &id,
        &view,
        FormView {
            action: format!("/ui/customers/{id}/destinations/{}", stored.id),
            kind,
            environments: &envs,
            values: &values,
            errors: &errors,
            stored: Some(stored),
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

/// `POST /ui/customers/{customer}/destinations/{destination}/enabled` (htmx): switches the
/// destination on or off and answers with the destinations table.
pub(super) async fn destination_toggle(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, destination)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let (_, stored) = stored_destination(&view, &destination)?;
    let enabled = form.get("enabled").map_or(!stored.enabled, |v| v == "true");
    let patch = c15t_control::DestinationPatch {
        enabled: Some(enabled),
        ..c15t_control::DestinationPatch::default()
    };
    let notice = match state
        .control
        .destination_edit(
            &session.user.actor(),
            &id,
            &stored.id,
            patch,
            Some(view.revision),
        )
        .await
    {
        Ok(_) => None,
        Err(
            e @ (ControlError::Invalid(_)
            | ControlError::Conflict { .. }
            | ControlError::BadRequest(_)),
        ) => Some(html! { p.error role="alert" { (e.to_string()) } }),
        Err(e) => return Err(e.into()),
    };
    if !is_htmx(&headers) {
        return Ok(Redirect::to(&format!("/ui/customers/{id}")).into_response());
    }
    let view = state.control.customer_show(&id).await?;
    Ok(destinations_section(&state, &session, &id, &view, notice)
        .await
        .into_response())
}

/// `POST /ui/customers/{customer}/destinations/{destination}/test` (htmx): tests the stored
/// settings against the vendor and answers with the result.
pub(super) async fn destination_test(
    State(state): State<UiState>,
    Session(session): Session,
    Path((customer, destination)): Path<(String, String)>,
    headers: HeaderMap,
) -> Page {
    let (id, view) = customer_for(&state, &session, &customer).await?;
    let report = state
        .control
        .destination_test_detached(&id, &destination)
        .await?;
    let class = if report.is_ok() { "ok" } else { "failed" };
    let result = html! {
        div.test-report {
            (badge(class, &format!("Connection: {}", report.outcome.label())))
            " " span { (report.message) }
            @if let Some(ms) = report.latency_ms { " " span.muted { "(" (ms) " ms)" } }
        }
    };
    if is_htmx(&headers) {
        return Ok(result.into_response());
    }
    let content = html! {
        section.card {
            h2 { "Connection test of " code { (destination) } }
            (result)
            p { a href={ "/ui/customers/" (id) } { "Back" } }
        }
    };
    Ok(page(
        "Connection test",
        Some(&session),
        nav(&id, &view, Tab::Overview),
        content,
    )
    .into_response())
}
