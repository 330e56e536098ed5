//! Kinds whose vendor offers no check of a browser-only id: the id's documented format
//! (the catalogue's pattern), then the script a browser loads for it.
//!
//! Where the script's URL names the id (Tag Manager's `gtm.js?id=`, Clarity's
//! `/tag/{projectId}`, Hotjar's `hotjar-{siteId}.js`, TikTok's `events.js?sdkid=`, Heap's
//! `heap-{envId}.js`), the host answers `404` for an id it does not know, so "ok" means the
//! vendor serves a tag for this id. Where it does not (X's `uwt.js`, UET's `bat.js`, Fathom's
//! and Umami's `script.js`, ...), "ok" means the id is well formed and the script a browser
//! needs is reachable; the message says that the id itself could not be confirmed. Kinds with
//! no script host in [`crate::VendorEndpoints`] get the format check alone, and say so.

use c15t_model::catalogue::Catalogue;
use reqwest::Method;
use url::Url;

use crate::http::{Base, Call, endpoint, host_of};
use crate::{Finding, Outcome, Settings, Tested, VendorEndpoints};

/// Where a kind's browser script lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Script {
    /// The URL names the id: a `404` means the vendor does not know it.
    ForId(fn(&VendorEndpoints, &str) -> Url),
    /// The same script for every id.
    Shared(fn(&VendorEndpoints) -> Url),
    /// No script host is configured for this vendor; only the format is checked.
    None,
}

/// One client-only check: the kind, the setting holding the public id, the vendor's name,
/// and its script.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientCheck {
    pub(crate) key: &'static str,
    pub(crate) vendor: &'static str,
    pub(crate) script: Script,
}

fn with_query(mut url: Url, pairs: &[(&str, &str)]) -> Url {
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url
}

/// The client-only check of `kind`, if it has one.
pub(crate) fn check_of(kind: &str) -> Option<ClientCheck> {
    let (key, vendor, script) = match kind {
        "google-tag-manager" => (
            "containerId",
            "Google Tag Manager",
            Script::ForId(|e, id| with_query(endpoint(&e.gtm_scripts, &["gtm.js"]), &[("id", id)])),
        ),
        "microsoft-clarity" => (
            "projectId",
            "Microsoft Clarity",
            Script::ForId(|e, id| endpoint(&e.clarity_scripts, &["tag", id])),
        ),
        "hotjar" => (
            "siteId",
            "Hotjar",
            Script::ForId(|e, id| {
                with_query(
                    endpoint(&e.hotjar_scripts, &["c", &format!("hotjar-{id}.js")]),
                    &[("sv", "6")],
                )
            }),
        ),
        "heap" => (
            "envId",
            "Heap",
            Script::ForId(|e, id| endpoint(&e.heap_scripts, &["js", &format!("heap-{id}.js")])),
        ),
        "tiktok-pixel" => (
            "pixelId",
            "TikTok",
            Script::ForId(|e, id| {
                with_query(
                    endpoint(&e.tiktok_scripts, &["i18n", "pixel", "events.js"]),
                    &[("sdkid", id)],
                )
            }),
        ),
        "meta-pixel" => (
            "pixelId",
            "Meta",
            Script::ForId(|e, id| endpoint(&e.meta_scripts, &["signals", "config", id])),
        ),
        "x-pixel" => (
            "pixelId",
            "X",
            Script::Shared(|e| endpoint(&e.x_scripts, &["uwt.js"])),
        ),
        "microsoft-uet" => (
            "tagId",
            "Microsoft Advertising",
            Script::Shared(|e| endpoint(&e.uet_scripts, &["bat.js"])),
        ),
        "fathom" => (
            "siteId",
            "Fathom",
            Script::Shared(|e| endpoint(&e.fathom_scripts, &["script.js"])),
        ),
        "cloudflare-web-analytics" => (
            "token",
            "Cloudflare Web Analytics",
            Script::Shared(|e| endpoint(&e.cloudflare_scripts, &["beacon.min.js"])),
        ),
        "linkedin-insight" => (
            "partnerId",
            "LinkedIn",
            Script::Shared(|e| {
                endpoint(&e.linkedin_scripts, &["li.lms-analytics", "insight.min.js"])
            }),
        ),
        "reddit-pixel" => (
            "pixelId",
            "Reddit",
            Script::Shared(|e| endpoint(&e.reddit_scripts, &["ads", "pixel.js"])),
        ),
        "snapchat-pixel" => (
            "pixelId",
            "Snapchat",
            Script::Shared(|e| endpoint(&e.snapchat_scripts, &["scevent.min.js"])),
        ),
        "mixpanel" => (
            "token",
            "Mixpanel",
            Script::Shared(|e| {
                endpoint(&e.mixpanel_scripts, &["libs", "mixpanel-2-latest.min.js"])
            }),
        ),
        "adobe-analytics" => ("scriptUrl", "Adobe", Script::None),
        "ahrefs" => ("key", "Ahrefs", Script::None),
        "clearbit" => ("publishableKey", "Clearbit", Script::None),
        "databuddy" => ("clientId", "Databuddy", Script::None),
        "hightouch" => ("writeKey", "Hightouch", Script::None),
        "logrocket" => ("appId", "LogRocket", Script::None),
        "pirsch" => ("identificationCode", "Pirsch", Script::None),
        "promptwatch" => ("projectId", "Promptwatch", Script::None),
        "rudderstack" => ("writeKey", "RudderStack", Script::None),
        "rybbit" => ("siteId", "Rybbit", Script::None),
        "crisp" => ("websiteId", "Crisp", Script::None),
        "intercom" => ("appId", "Intercom", Script::None),
        _ => return None,
    };
    Some(ClientCheck {
        key,
        vendor,
        script,
    })
}

/// `Err` with the finding when `value` of `kind`'s setting `key` breaks the catalogue's
/// documented format.
pub(crate) fn format_problem(kind: &str, key: &str, value: &str) -> Result<(), Finding> {
    let Some(pattern) = Catalogue::builtin()
        .get(kind)
        .and_then(|k| k.field(key))
        .and_then(|f| f.pattern)
    else {
        return Ok(());
    };
    // The catalogue's own tests compile every pattern, so a failure here is not expected.
    let matches = regex::Regex::new(pattern.regex).is_ok_and(|r| r.is_match(value));
    if matches {
        Ok(())
    } else {
        Err(Finding::new(
            Outcome::Rejected,
            format!(
                "`{key}` is `{value}`, which is not a valid ID for this vendor: it must {}",
                pattern.expected
            ),
        ))
    }
}

/// Runs the client-only check of `kind`; `note` is appended to an "ok" message (why a
/// stronger check was not made).
pub(crate) async fn check(
    call: &Call<'_>,
    endpoints: &VendorEndpoints,
    kind: &str,
    check: ClientCheck,
    settings: &Settings,
    note: Option<&str>,
) -> Tested {
    let ClientCheck {
        key,
        vendor,
        script,
    } = check;
    let Some(id) = settings.value(key) else {
        return Tested::Skipped(format!("the destination has no `{key}`"));
    };
    if let Err(finding) = format_problem(kind, key, id) {
        return Tested::NoAnswer(finding);
    }
    let tail = note.map(|n| format!("; {n}")).unwrap_or_default();
    let (url, names_id) = match script {
        Script::ForId(url) => (url(endpoints, id), true),
        Script::Shared(url) => (url(endpoints), false),
        Script::None => {
            return Tested::NoAnswer(Finding::new(
                Outcome::Ok,
                format!(
                    "`{key}` {id} has the format {vendor} documents; {vendor} offers no public \
                     way to confirm the ID exists, so only its format was checked{tail}"
                ),
            ));
        }
    };
    let shown = host_of(&url);
    let answer = match call
        .send(call.request(Base::Trusted, Method::GET, url))
        .await
    {
        Ok(answer) => answer,
        Err(tested) => return tested,
    };
    let finding = match answer.status {
        200..=299 if names_id => Finding::new(
            Outcome::Ok,
            format!("{vendor} serves its script for {id} (`{shown}`){tail}"),
        ),
        200..=299 => Finding::new(
            Outcome::Ok,
            format!(
                "`{key}` {id} has the format {vendor} documents and {vendor}'s script loads from \
                 `{shown}`; {vendor} offers no public way to confirm the ID itself{tail}"
            ),
        ),
        404 | 410 if names_id => Finding::new(
            Outcome::NotFound,
            format!(
                "{vendor} has no script for {id} (`{shown}` answered {}); check the ID in your \
                 {vendor} account",
                answer.status
            ),
        ),
        status => Finding::new(
            Outcome::VendorError { status },
            format!(
                "{vendor}'s script host `{shown}` answered {status}; browsers may not load the \
                 tag either"
            ),
        ),
    };
    Tested::Answered(finding)
}
