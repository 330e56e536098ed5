//! Product-analytics vendors:
//!
//! - Mixpanel, with the project's API secret: `POST {apiHost}/import?strict=1` with HTTP
//!   Basic auth (the secret as user name) and an empty batch
//!   (<https://developer.mixpanel.com/reference/import-events>): `401` is a refused secret;
//!   an empty batch imports nothing. Without a secret, the token's format and Mixpanel's
//!   script ([`crate::client`]); `/track` would write an event.
//! - Amplitude has no dry run (<https://amplitude.com/docs/apis/analytics/http-v2>): the
//!   test posts one event whose `device_id` is shorter than the documented minimum of five
//!   characters. Amplitude checks the key (`400 Invalid API key`) and then refuses the event
//!   (`400` with `events_with_invalid_fields.device_id`), so nothing is ingested; that
//!   refusal is the "ok".
//! - Segment: `GET {segment_cdn}/v1/projects/{writeKey}/settings`, the settings analytics.js
//!   loads first: `404` for an unknown write key. The tracking API cannot tell: it answers
//!   `200` to every well-formed request
//!   (<https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#errors>).
//! - Plausible and Umami: the script of the destination's host (`{apiHost}/js/script.js`,
//!   `{hostUrl}/script.js`), after the domain's or website ID's format; their event APIs
//!   would record a visit and answer `202`/`200` for unknown sites.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use crate::client::format_problem;
use crate::http::{Base, Call, endpoint, host_of};
use crate::{Finding, Outcome, Settings, Tested};

/// A customer-supplied host setting, or the operator's default.
fn host(settings: &Settings, key: &str, default: &Url) -> Result<(Url, Base), Tested> {
    match settings.value(key) {
        Some(text) => {
            // Hosts are often given without a scheme (`api-eu.mixpanel.com`).
            let text = if text.contains("://") {
                text.to_owned()
            } else {
                format!("https://{text}")
            };
            Url::parse(&text).map(|u| (u, Base::Customer)).map_err(|e| {
                Tested::NoAnswer(Finding::new(
                    Outcome::Unreachable,
                    format!("the `{key}` setting is not a URL ({e}); fix it and test again"),
                ))
            })
        }
        None => Ok((default.clone(), Base::Trusted)),
    }
}

pub(crate) async fn mixpanel(
    call: &Call<'_>,
    default: &Url,
    settings: &Settings,
) -> Option<Tested> {
    let secret = settings.secret("apiSecret")?;
    let (base, trust) = match host(settings, "apiHost", default) {
        Ok(found) => found,
        Err(tested) => return Some(tested),
    };
    let shown = host_of(&base);
    let mut url = endpoint(&base, &["import"]);
    url.query_pairs_mut().append_pair("strict", "1");
    let basic = base64_basic(secret.expose());
    let Ok(mut auth) = HeaderValue::from_str(&basic) else {
        return Some(Tested::NoAnswer(Finding::new(
            Outcome::BadCredentials,
            "the stored Mixpanel API secret contains characters no HTTP header may carry",
        )));
    };
    auth.set_sensitive(true);
    let request = call
        .request(trust, Method::POST, url)
        .header(AUTHORIZATION, auth)
        .json(&json!([]));
    let answer = match call.send(request).await {
        Ok(answer) => answer,
        Err(tested) => return Some(tested),
    };
    let json = answer.json();
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .map_or_else(|| answer.excerpt(), str::to_owned);
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            format!(
                "Mixpanel at `{shown}` accepted the project's API secret (an empty import, \
                 nothing was written)"
            ),
        ),
        401 | 403 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "Mixpanel at `{shown}` refused the API secret: {error}; copy it from Project \
                 settings > Access keys, and check that `apiHost` is your project's data \
                 residency host"
            ),
        ),
        400 => Finding::new(
            Outcome::Rejected,
            format!("Mixpanel at `{shown}` rejected the test import: {error}"),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("Mixpanel at `{shown}` answered {status}: {error}"),
        ),
    };
    Some(Tested::Answered(finding))
}

/// The `Authorization` value of HTTP Basic with `user` and an empty password.
fn base64_basic(user: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:"))
    )
}

pub(crate) async fn amplitude(call: &Call<'_>, us: &Url, eu: &Url, settings: &Settings) -> Tested {
    let Some(key) = settings.value("apiKey") else {
        return Tested::Skipped("the destination has no `apiKey`".to_owned());
    };
    if let Err(finding) = format_problem("amplitude", "apiKey", key) {
        return Tested::NoAnswer(finding);
    }
    let base = if settings
        .value("serverZone")
        .is_some_and(|z| z.eq_ignore_ascii_case("EU"))
    {
        eu
    } else {
        us
    };
    let url = endpoint(base, &["2", "httpapi"]);
    // Four characters: below Amplitude's minimum id length, so the event is refused after
    // the key is checked and nothing is ingested.
    let body = json!({
        "api_key": key,
        "events": [{ "device_id": "c15t", "event_type": "c15t_connection_test" }],
    });
    let answer = match call
        .send(call.request(Base::Trusted, Method::POST, url).json(&body))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let json = answer.json();
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let refused_device = json.as_ref().is_some_and(|j| {
        // Amplitude names a too-short id in `events_with_invalid_id_lengths`
        // (amplitude/Amplitude-TypeScript#81); older answers used `..._fields`.
        [
            "events_with_invalid_id_lengths",
            "events_with_invalid_fields",
        ]
        .iter()
        .any(|k| j.get(k).and_then(|f| f.get("device_id")).is_some())
    });
    // TODO-correctness: Amplitude does not document that it checks the key before the
    // events; if it checked the events first, a wrong key would read as accepted here.
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            "Amplitude accepted the API key (and ingested one `c15t_connection_test` event)",
        ),
        400 if refused_device => Finding::new(
            Outcome::Ok,
            "Amplitude accepted the API key; it refused the deliberately invalid test event, \
             so nothing was ingested",
        ),
        400 if error.to_ascii_lowercase().contains("api key") => Finding::new(
            Outcome::BadCredentials,
            format!(
                "the API key was refused by Amplitude: {error}; copy it from Settings > \
                 Projects > General, and check `serverZone` (EU projects live at \
                 api.eu.amplitude.com)"
            ),
        ),
        400 => Finding::new(
            Outcome::Rejected,
            format!("Amplitude rejected the test request: {}", answer.excerpt()),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("Amplitude answered {status}: {}", answer.excerpt()),
        ),
    };
    Tested::Answered(finding)
}

pub(crate) async fn segment(call: &Call<'_>, cdn: &Url, settings: &Settings) -> Tested {
    let Some(key) = settings.value("writeKey") else {
        return Tested::Skipped("the destination has no `writeKey`".to_owned());
    };
    if let Err(finding) = format_problem("segment", "writeKey", key) {
        return Tested::NoAnswer(finding);
    }
    let url = endpoint(cdn, &["v1", "projects", key, "settings"]);
    let answer = match call
        .send(call.request(Base::Trusted, Method::GET, url))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            "Segment knows the write key (its source settings load)",
        ),
        401 | 403 | 404 => Finding::new(
            Outcome::BadCredentials,
            format!(
                "Segment does not know this write key ({} from its CDN); copy it from the \
                 source's Settings > API Keys",
                answer.status
            ),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!("Segment's CDN answered {status}: {}", answer.excerpt()),
        ),
    };
    Tested::Answered(finding)
}

/// Plausible or Umami: the id's format, then the tracker script on the destination's host.
pub(crate) async fn self_hostable(
    call: &Call<'_>,
    kind: &str,
    default: &Url,
    settings: &Settings,
) -> Tested {
    let (vendor, id_key, host_key, path): (&str, &str, &str, &[&str]) = match kind {
        "plausible" => ("Plausible", "domain", "apiHost", &["js", "script.js"]),
        _ => ("Umami", "websiteId", "hostUrl", &["script.js"]),
    };
    let Some(id) = settings.value(id_key) else {
        return Tested::Skipped(format!("the destination has no `{id_key}`"));
    };
    if let Err(finding) = format_problem(kind, id_key, id) {
        return Tested::NoAnswer(finding);
    }
    let (base, trust) = match host(settings, host_key, default) {
        Ok(found) => found,
        Err(tested) => return tested,
    };
    let shown = host_of(&base);
    let answer = match call
        .send(call.request(trust, Method::GET, endpoint(&base, path)))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let finding = match answer.status {
        200..=299 => Finding::new(
            Outcome::Ok,
            format!(
                "{vendor} at `{shown}` serves its tracker and `{id_key}` {id} is well formed; \
                 {vendor}'s event API accepts events for unknown sites, so check that the site \
                 exists in {vendor} if no visits appear"
            ),
        ),
        404 => Finding::new(
            Outcome::VendorError { status: 404 },
            format!(
                "`{shown}` has no {vendor} tracker script; is `{host_key}` the base URL of your \
                 {vendor}?"
            ),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!(
                "{vendor} at `{shown}` answered {status}: {}",
                answer.excerpt()
            ),
        ),
    };
    Tested::Answered(finding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_the_secret_with_an_empty_password() {
        assert_eq!(base64_basic("secret"), "Basic c2VjcmV0Og==");
        assert_eq!(base64_basic("ab"), "Basic YWI6");
    }
}
