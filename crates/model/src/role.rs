//! Who may do what in the admin UI.

use std::fmt;
use std::str::FromStr;

/// What a person who logs in to the admin UI may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserRole {
    /// Sees and changes every customer.
    Operator,
    /// Sees and changes one customer only.
    CustomerAdmin,
}

impl UserRole {
    /// The stored name: `operator` or `customer_admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::CustomerAdmin => "customer_admin",
        }
    }
}

impl fmt::Display for UserRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UserRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "operator" => Ok(Self::Operator),
            "customer_admin" => Ok(Self::CustomerAdmin),
            other => Err(format!("unknown UserRole `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [UserRole::Operator, UserRole::CustomerAdmin] {
            assert_eq!(role.as_str().parse::<UserRole>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(
            "admin".parse::<UserRole>(),
            Err("unknown UserRole `admin`".to_owned())
        );
    }
}
