//! Connection tests of destinations: load the stored config, decrypt that one destination's
//! secrets, and let its vendor's connection tester ([`c15t_vendors::Testers`]) check them.

use c15t_model::{CustomerId, RawValue, SecretRef};
use c15t_vendors::{ConnectionReport, Settings, Testers, VendorOptions};

use crate::config::{not_found, vault_key_destination};
use crate::{Control, ControlError};

impl Control {
    /// The same application running connection tests with `testers` (vendor base URLs,
    /// timeout, SSRF policy). Without it, tests use the real vendors, the default timeout and
    /// the delivery options' SSRF policy.
    pub fn with_vendors(mut self, testers: Testers) -> Self {
        self.vendors = Some(testers);
        self
    }

    /// Tests one destination's stored settings against its vendor.
    ///
    /// A vendor that refuses the settings, cannot be reached or has no check is a report, not
    /// an error; errors are for a missing customer or destination, a missing key file and a
    /// failing store. The customer's vault is opened only when the kind has a tester and the
    /// destination has stored secrets; only that destination's values are kept, and they are
    /// dropped (zeroized) when the test ends. Nothing is written: a test changes no config and
    /// leaves no audit entry.
    pub async fn destination_test(
        &self,
        customer: &CustomerId,
        destination_id: &str,
    ) -> Result<ConnectionReport, ControlError> {
        let stored = self
            .store
            .customer_get(customer)
            .await?
            .ok_or_else(|| not_found(customer))?;
        let destination = stored
            .spec
            .destinations
            .iter()
            .find(|d| d.id == destination_id)
            .ok_or_else(|| ControlError::NotFound {
                resource: format!("destination `{destination_id}` of customer `{customer}`"),
            })?;
        let mut settings = Settings::new();
        let mut secret_keys = Vec::new();
        for (key, value) in &destination.settings {
            match value {
                RawValue::Text(text) => settings.insert_value(key, text.as_str()),
                RawValue::Integer(n) => settings.insert_value(key, n.to_string()),
                RawValue::Float(x) => settings.insert_value(key, x.to_string()),
                RawValue::Bool(b) => settings.insert_value(key, b.to_string()),
                RawValue::Secret(SecretRef::Stored(_)) => secret_keys.push(key),
                // Environment references are resolved when a file is imported and never
                // stored; tables and arrays never pass validation.
                RawValue::Secret(_) | RawValue::Table(_) | RawValue::Array(_) => {}
            }
        }
        if Testers::supports(&destination.kind)
            && !secret_keys.is_empty()
            && let Some(sealed) = &stored.vault
        {
            let vault = self.keys.keyring()?.open(sealed)?;
            for key in secret_keys {
                if let Some(value) = vault.get(&vault_key_destination(destination_id, key)) {
                    settings.insert_secret(key, value.clone());
                }
            }
        }
        let testers = match &self.vendors {
            Some(testers) => testers.clone(),
            None => Testers::new(VendorOptions {
                ssrf: self.delivery.ssrf.clone(),
                ..VendorOptions::default()
            })?,
        };
        Ok(testers.test(&destination.kind, &settings).await)
    }
}
