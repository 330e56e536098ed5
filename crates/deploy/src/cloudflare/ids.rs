//! Cloudflare's version and deployment ids: UUIDs, compared as UUIDs and always written in the
//! canonical form (hyphenated, lower-case), whatever form an answer or a stored record used.
//!
//! Cloudflare documents them hyphenated (`182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e`), yet the upload
//! answer's `deployment_id` has been seen as 32 bare hex digits, and a version named that way
//! in `POST …/deployments` is "not found". So every id is parsed where it enters (an answer,
//! a caller's argument) and sent canonically.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::DeployError;

/// A Cloudflare version (or deployment) id; `Display` is the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionId(Uuid);

impl VersionId {
    /// Parses an id in any form a UUID is written in (hyphenated or not, any case, braced,
    /// `urn:uuid:`).
    pub fn parse(value: &str) -> Result<Self, DeployError> {
        Uuid::try_parse(value.trim())
            .map(Self)
            .map_err(|_| DeployError::InvalidVersionId {
                value: value.to_owned(),
            })
    }

    /// Parses the id Cloudflare answered in `field` of the answer to `operation`; an id that
    /// is no UUID is a protocol error naming the field.
    pub(crate) fn from_answer(
        operation: &'static str,
        field: &str,
        value: &str,
    ) -> Result<Self, DeployError> {
        Uuid::try_parse(value)
            .map(Self)
            .map_err(|_| DeployError::CloudflareProtocol {
                operation,
                detail: format!("`{field}` is not a UUID: `{value}`"),
            })
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for VersionId {
    type Err = DeployError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// `value` as a canonical Cloudflare version id (hyphenated, lower-case), e.g. to normalise an
/// id stored before ids were normalised.
pub fn canonical_version_id(value: &str) -> Result<String, DeployError> {
    VersionId::parse(value).map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_form_is_one_canonical_id() {
        let canonical = "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e";
        for form in [
            canonical,
            "182bd5e56e1a4fe4a799aa6d9a6ab26e",
            "182BD5E5-6E1A-4FE4-A799-AA6D9A6AB26E",
            "182BD5E56E1A4FE4A799AA6D9A6AB26E",
            "{182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e}",
        ] {
            assert_eq!(canonical_version_id(form).expect(form), canonical);
            assert_eq!(
                VersionId::parse(form).expect(form),
                VersionId::parse(canonical).expect("c")
            );
        }
        assert!(canonical_version_id("v1").is_err());
        assert!(canonical_version_id("").is_err());
        let err = VersionId::from_answer("upload", "deployment_id", "abc").expect_err("no uuid");
        assert!(
            err.to_string().contains("`deployment_id` is not a UUID"),
            "{err}"
        );
    }
}
