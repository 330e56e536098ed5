//! `c15tctl user add|list|password`: people who log in to the admin web UI. Passwords come from
//! a prompt without echo, standard input (`--password stdin`) or an environment variable
//! (`--password env:VAR`), never from the command line.

use c15t_control::Control;
use c15t_model::UserRole;
use clap::{ArgGroup, Subcommand};

use crate::output::print;
use crate::secret_input::{SecretSource, read_secret};
use crate::{Failure, customer_id, invalid};

/// Admin UI user commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user: an operator (every customer) or the admin of one customer.
    #[command(group(ArgGroup::new("role").required(true).args(["operator", "customer"])))]
    Add {
        /// The email the user logs in with.
        #[arg(long)]
        email: String,
        /// An operator: sees and changes every customer.
        #[arg(long)]
        operator: bool,
        /// A customer admin of this customer: sees and changes that customer only.
        #[arg(long)]
        customer: Option<String>,
        /// Where the password comes from: `prompt` (default; standard input when it is not a
        /// terminal), `stdin` or `env:VAR`.
        #[arg(long, default_value = "prompt")]
        password: String,
    },
    /// Set a user's password (ends the user's sessions).
    Password {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Where the password comes from: `prompt`, `stdin` or `env:VAR`.
        #[arg(long, default_value = "prompt")]
        password: String,
    },
    /// List the users (never their password hashes).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn source(text: &str) -> Result<SecretSource, Failure> {
    match text {
        "prompt" => Ok(SecretSource::Interactive),
        "stdin" => Ok(SecretSource::Stdin),
        other => match other.strip_prefix("env:") {
            Some(var) if !var.is_empty() => Ok(SecretSource::Env(var.to_owned())),
            _ => Err(invalid(anyhow::anyhow!(
                "--password: give `prompt`, `stdin` or `env:VAR`; passwords are never accepted on \
                 the command line"
            ))),
        },
    }
}

/// Runs a user command.
pub async fn run(control: &Control, actor: &str, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add {
            email,
            operator,
            customer,
            password,
        } => {
            let customer = customer.as_deref().map(customer_id).transpose()?;
            let role = if operator {
                UserRole::Operator
            } else {
                UserRole::CustomerAdmin
            };
            let password = read_secret("password", &source(&password)?)?;
            let user = control
                .user_add(actor, &email, &password, role, customer.as_ref())
                .await?;
            let scope = user
                .customer
                .as_ref()
                .map_or_else(|| "every customer".to_owned(), |c| format!("customer {c}"));
            print(&format!(
                "user {} ({}) created: {} of {scope}",
                user.email, user.id, user.role
            ));
        }
        UserCommand::Password { email, password } => {
            let password = read_secret("new password", &source(&password)?)?;
            control.user_password_set(actor, &email, &password).await?;
            print(&format!(
                "password of {} changed; their sessions ended",
                email.trim()
            ));
        }
        UserCommand::List { json } => {
            let users = control.user_list().await?;
            if json {
                let list: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id,
                            "email": u.email,
                            "role": u.role.as_str(),
                            "customer": u.customer.as_ref().map(|c| c.as_str()),
                        })
                    })
                    .collect();
                print(&serde_json::Value::Array(list).to_string());
            } else {
                for u in &users {
                    let customer = u.customer.as_ref().map_or("-", |c| c.as_str());
                    print(&format!("{}\t{}\t{}\t{customer}", u.id, u.email, u.role));
                }
            }
        }
    }
    Ok(())
}
