//! The UI's page layout and shared pieces (maud). Every user-supplied text goes through maud's
//! escaping; nothing here renders a secret value.

use c15t_control::SessionView;
use c15t_model::UserRole;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

/// Which tab of a customer's pages is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    Overview,
    Diff,
    Deployments,
    Audit,
    Tokens,
}

/// A customer's pages: its id and the tab shown.
pub(super) struct CustomerNav<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) tab: Tab,
}

/// The page frame: header with the user and logout, an optional customer tab bar, the content.
pub(super) fn page(
    title: &str,
    session: Option<&SessionView>,
    nav: Option<CustomerNav<'_>>,
    content: Markup,
) -> Markup {
    let csrf_headers = session.map(|s| format!(r#"{{"X-CSRF-Token": "{}"}}"#, s.csrf_token));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · c15t control plane" }
                link rel="stylesheet" href="/ui/assets/ui.css";
                script src="/ui/assets/htmx.min.js" defer {}
            }
            body hx-headers=[csrf_headers] {
                header.top {
                    a.brand href="/ui" { "c15t" span.muted { " control plane" } }
                    @if let Some(s) = session {
                        nav.user {
                            @if s.user.role == UserRole::Operator {
                                a href="/ui/customers" { "Customers" }
                            }
                            span.muted #whoami { (s.user.email) " · " (role_name(s.user.role)) }
                            form method="post" action="/ui/logout" {
                                (csrf_field(s))
                                button.link type="submit" #logout { "Log out" }
                            }
                        }
                    }
                }
                main {
                    @if let Some(nav) = nav {
                        div.customer-head {
                            h1 { (nav.name) " " span.muted.id { (nav.id) } }
                            nav.tabs {
                                (tab(nav.id, "", "Overview", nav.tab == Tab::Overview))
                                (tab(nav.id, "/diff", "Pending changes", nav.tab == Tab::Diff))
                                (tab(nav.id, "/deployments", "Deployments", nav.tab == Tab::Deployments))
                                (tab(nav.id, "/audit", "Audit log", nav.tab == Tab::Audit))
                                (tab(nav.id, "/tokens", "API tokens", nav.tab == Tab::Tokens))
                            }
                        }
                    }
                    (content)
                }
            }
        }
    }
}

fn tab(customer: &str, suffix: &str, label: &str, active: bool) -> Markup {
    html! {
        a.active[active] href={ "/ui/customers/" (customer) (suffix) } { (label) }
    }
}

/// The hidden CSRF field of a plain form.
pub(super) fn csrf_field(session: &SessionView) -> Markup {
    html! { input type="hidden" name=(super::auth::CSRF_FIELD) value=(session.csrf_token); }
}

/// A page with a heading and one message (errors, 404).
pub(super) fn message_page(title: &str, message: &str) -> Markup {
    page(
        title,
        None,
        None,
        html! {
            section.card.narrow {
                h1 { (title) }
                p #message { (message) }
                p { a href="/ui" { "Back to the control plane" } }
            }
        },
    )
}

/// The login page.
pub(super) fn login_page(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        None,
        html! {
            section.card.narrow {
                h1 { "Log in" }
                @if let Some(error) = error {
                    p.error #login-error role="alert" { (error) }
                }
                form method="post" action="/ui/login" {
                    input type="hidden" name=(super::auth::CSRF_FIELD) value=(csrf);
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button.primary type="submit" #login { "Log in" }
                }
            }
        },
    )
}

/// How a role is called on pages.
pub(super) fn role_name(role: UserRole) -> &'static str {
    match role {
        UserRole::Operator => "operator",
        UserRole::CustomerAdmin => "customer admin",
    }
}

/// A time as people read it, in UTC, with the full time in a tooltip.
pub(super) fn time(t: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339()) title=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M UTC")) }
    }
}

/// A coloured status label.
pub(super) fn badge(class: &str, text: &str) -> Markup {
    html! { span class={ "badge " (class) } { (text) } }
}

/// A short form of a fingerprint for tables: `hmac-sha256:ab12cd34…`.
pub(super) fn short_fingerprint(fingerprint: &str) -> String {
    let (scheme, hex) = fingerprint.split_once(':').unwrap_or(("", fingerprint));
    let short: String = hex.chars().take(8).collect();
    if scheme.is_empty() {
        format!("{short}…")
    } else {
        format!("{scheme}:{short}…")
    }
}
