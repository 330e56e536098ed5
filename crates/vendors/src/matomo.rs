//! Matomo: asks the Reporting API for the configured site with the destination's auth token
//! (`SitesManager.getSiteFromId`, <https://developer.matomo.org/api-reference/reporting-api>).
//!
//! The token goes in the POST body, as Matomo recommends (a token may be restricted to POST
//! requests, and it stays out of URLs and access logs). Matomo answers `200` either way; an
//! error is `{"result": "error", "message": "..."}`. The base URL is the destination's
//! `matomoUrl` (customer-supplied, so the SSRF policy applies).

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use url::Url;

use crate::http::{Base, Call, endpoint, host_of};
use crate::{Finding, Outcome, Settings, Tested};

pub(crate) async fn check(call: &Call<'_>, settings: &Settings) -> Tested {
    let (Some(base), Some(site)) = (settings.value("matomoUrl"), settings.value("siteId")) else {
        return Tested::Skipped("the destination has no `matomoUrl` or `siteId`".to_owned());
    };
    let Some(token) = settings.secret("tokenAuth") else {
        return Tested::Skipped(
            "no auth token is stored; Matomo's Reporting API needs one to read the site (the \
             tracker itself works without it)"
                .to_owned(),
        );
    };
    let base = match Url::parse(base) {
        Ok(url) => url,
        Err(e) => {
            return Tested::NoAnswer(Finding::new(
                Outcome::Unreachable,
                format!("the `matomoUrl` setting is not a URL ({e}); fix it and test again"),
            ));
        }
    };
    let shown = host_of(&base);
    let mut url = endpoint(&base, &["index.php"]);
    url.query_pairs_mut()
        .append_pair("module", "API")
        .append_pair("method", "SitesManager.getSiteFromId")
        .append_pair("idSite", site)
        .append_pair("format", "JSON");
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token_auth", token.expose())
        .finish();
    let request = call
        .request(Base::Customer, Method::POST, url)
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
        .body(body);
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    if !(200..300).contains(&answer.status) {
        return Tested::Answered(Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!(
                "Matomo at `{shown}` answered {}: {}",
                answer.status,
                answer.excerpt()
            ),
        ));
    }
    let Some(json) = answer.json() else {
        return Tested::Answered(Finding::new(
            Outcome::VendorError {
                status: answer.status,
            },
            format!(
                "`{shown}` did not answer like Matomo's Reporting API; is `matomoUrl` the base \
                 URL of your Matomo (the page that shows its login)?"
            ),
        ));
    };
    if json.get("result").and_then(|r| r.as_str()) == Some("error") {
        let message = json
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("(no message)");
        let lower = message.to_ascii_lowercase();
        let (outcome, advice) = if lower.contains("unexpected website") {
            (
                Outcome::NotFound,
                "check the site ID under Administration > Websites > Manage",
            )
        } else if lower.contains("token") || lower.contains("access") {
            (
                Outcome::BadCredentials,
                "create an auth token with view access to this site under Personal > Security",
            )
        } else {
            (Outcome::Rejected, "check the destination's settings")
        };
        return Tested::Answered(Finding::new(
            outcome,
            format!("Matomo: {message}; {advice}"),
        ));
    }
    // Matomo 4 and later answer the site as an object, older versions as a one-element list.
    let site_object = json.as_array().and_then(|a| a.first()).unwrap_or(&json);
    let name = site_object
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("(unnamed)");
    Tested::Answered(Finding::new(
        Outcome::Ok,
        format!("Matomo at `{shown}` has site {site} (`{name}`) and the token may read it"),
    ))
}
