//! `c15tctl token create|list|revoke`: customer API tokens for the HTTP API and the CI download
//! (`curl -H "Authorization: Bearer $TOKEN" .../worker-config > src/index.ts`).

use c15t_control::Control;
use clap::Subcommand;

use crate::output::print;
use crate::{Failure, customer_id};

/// Customer API token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and never shown again.
    Create {
        /// The customer the token belongs to.
        #[arg(long)]
        customer: String,
        /// A name to recognise it by, e.g. `ci`.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a customer's tokens (never their values).
    List {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Revoke {
        /// The customer.
        #[arg(long)]
        customer: String,
        /// The token's id (from `token list`).
        id: i64,
    },
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
}

/// Runs a token command.
pub async fn run(control: &Control, actor: &str, command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create {
            customer,
            name,
            json,
        } => {
            let customer = customer_id(&customer)?;
            let created = control.api_token_create(actor, &customer, &name).await?;
            if json {
                print(
                    &serde_json::json!({
                        "id": created.record.id,
                        "customer": customer.as_str(),
                        "name": created.record.name,
                        "token": created.token.expose(),
                    })
                    .to_string(),
                );
            } else {
                print(&format!(
                    "token {} for customer {customer} (shown once, store it now):\n{}",
                    created.record.id,
                    created.token.expose()
                ));
            }
        }
        TokenCommand::List { customer, json } => {
            let customer = customer_id(&customer)?;
            let tokens = control.api_token_list(&customer).await?;
            if json {
                let list: Vec<serde_json::Value> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "name": t.name,
                            "hint": t.hint,
                            "created_at": t.created_at,
                            "revoked_at": t.revoked_at,
                            "last_used_at": t.last_used_at,
                        })
                    })
                    .collect();
                print(&serde_json::Value::Array(list).to_string());
            } else {
                for t in &tokens {
                    print(&format!(
                        "{:>5}  {:<20} ...{}  created {}  last used {}  {}",
                        t.id,
                        t.name,
                        t.hint,
                        t.created_at.to_rfc3339(),
                        time(t.last_used_at),
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                    ));
                }
            }
        }
        TokenCommand::Revoke { customer, id } => {
            let customer = customer_id(&customer)?;
            control.api_token_revoke(actor, &customer, id).await?;
            print(&format!("revoked token {id} of customer {customer}"));
        }
    }
    Ok(())
}
