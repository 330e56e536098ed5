//! The multipart body of a script upload: the `metadata` part and one part per module, as
//! Cloudflare's "multipart upload metadata" documentation and wrangler's
//! `createWorkerUploadForm` lay them out.

use std::collections::HashSet;

use c15t_codegen::TargetProfile;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::stamp::Stamp;
use crate::{DeployError, Release};

/// Checks what can be checked before any request: modules present, names unique and usable
/// as part names, content types valid.
pub(crate) fn check(release: &Release) -> Result<&'static TargetProfile, DeployError> {
    let profile =
        TargetProfile::by_id(release.target()).ok_or_else(|| DeployError::UnknownTarget {
            target: release.target().to_owned(),
        })?;
    if release.modules().is_empty() {
        return Err(DeployError::NoModules {
            worker: release.worker_name().to_owned(),
        });
    }
    let mut names = HashSet::new();
    for module in release.modules() {
        let invalid = |reason| DeployError::InvalidModule {
            name: module.name.clone(),
            reason,
        };
        if module.name.is_empty() {
            return Err(invalid("the name is empty"));
        }
        if module.name == "metadata" {
            return Err(invalid(
                "`metadata` is the name of the upload's metadata part",
            ));
        }
        if module.name.chars().any(|c| c.is_control() || c == '"') {
            return Err(invalid("the name contains a control character or a quote"));
        }
        if !names.insert(module.name.as_str()) {
            return Err(invalid("two modules have this name"));
        }
        if module.content_type.parse::<mime_check::Mime>().is_err() {
            return Err(invalid("the content type is not a MIME type"));
        }
    }
    Ok(profile)
}

/// The upload's `metadata` JSON: the first module is the main module; vars are `plain_text`
/// bindings and secrets `secret_text` bindings (the only place a secret value is written).
pub(crate) fn metadata(release: &Release, profile: &TargetProfile, stamp: &Stamp) -> Value {
    let vars = release
        .vars()
        .iter()
        .map(|(name, text)| json!({ "type": "plain_text", "name": name, "text": text }));
    let secrets = release.secrets().iter().map(
        |(name, value)| json!({ "type": "secret_text", "name": name, "text": value.expose() }),
    );
    json!({
        "main_module": release.modules()[0].name,
        "compatibility_date": profile.compatibility_date,
        "compatibility_flags": profile.compatibility_flags,
        "bindings": vars.chain(secrets).collect::<Vec<_>>(),
        "annotations": stamp.annotations(),
    })
}

/// The multipart form of one upload attempt. Call [`check`] first.
pub(crate) fn form(
    release: &Release,
    profile: &TargetProfile,
    stamp: &Stamp,
) -> Result<Form, DeployError> {
    // TODO-correctness: the metadata text holds secret values and ends up in reqwest's body
    // buffers, which are not zeroed on drop; only `Secret` itself is.
    let mut form = Form::new().text("metadata", metadata(release, profile, stamp).to_string());
    for module in release.modules() {
        let part = Part::bytes(module.bytes.clone())
            .file_name(module.name.clone())
            .mime_str(&module.content_type)
            .map_err(|_| DeployError::InvalidModule {
                name: module.name.clone(),
                reason: "the content type is not a MIME type",
            })?;
        form = form.part(module.name.clone(), part);
    }
    Ok(form)
}

/// A MIME type check without a `mime` dependency: `type/subtype` of token characters,
/// optionally followed by parameters.
mod mime_check {
    use std::str::FromStr;

    pub(super) struct Mime;

    impl FromStr for Mime {
        type Err = ();

        fn from_str(s: &str) -> Result<Self, ()> {
            let essence = s.split(';').next().unwrap_or_default().trim();
            let (ty, sub) = essence.split_once('/').ok_or(())?;
            let token = |t: &str| {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
            };
            if token(ty) && token(sub) {
                Ok(Self)
            } else {
                Err(())
            }
        }
    }
}
