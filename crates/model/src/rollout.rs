//! How a new release takes traffic from the one it replaces.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most steps a gradual rollout may have.
pub const ROLLOUT_STEPS_MAX: usize = 10;
/// The longest dwell between two steps, in seconds.
pub const ROLLOUT_DWELL_MAX_SECS: u64 = 3600;

/// How a release goes live on a worker that already serves an earlier one.
///
/// `Gradual` uploads the release as a version without traffic, probes it through a version
/// override, then gives it `steps` percent of traffic one after the other (the last is 100),
/// waiting `dwell_secs` and probing it again after each: a failing probe puts the earlier
/// version back at 100%. `Immediate` gives it all traffic at once. A worker's first release
/// always goes live at once: there is nothing to split with.
///
/// Written `immediate` or as the steps, e.g. `10,50,100` (dwell given separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rollout {
    /// All traffic at once.
    Immediate,
    /// Traffic in steps.
    Gradual {
        /// Percentages of traffic, increasing, ending at 100.
        steps: Vec<u8>,
        /// Seconds between steps.
        dwell_secs: u64,
    },
}

impl Default for Rollout {
    /// 10% → 50% → 100%, a minute apart.
    fn default() -> Self {
        Self::Gradual {
            steps: vec![10, 50, 100],
            dwell_secs: 60,
        }
    }
}

impl Rollout {
    /// Gradual with `steps` and `dwell_secs`, checked: 1 to [`ROLLOUT_STEPS_MAX`] steps,
    /// each 1 to 100, increasing, the last 100; a dwell of at most
    /// [`ROLLOUT_DWELL_MAX_SECS`].
    pub fn gradual(steps: Vec<u8>, dwell_secs: u64) -> Result<Self, String> {
        if steps.is_empty() || steps.len() > ROLLOUT_STEPS_MAX {
            return Err(format!(
                "a rollout has 1 to {ROLLOUT_STEPS_MAX} steps, got {}",
                steps.len()
            ));
        }
        if steps.iter().any(|s| *s == 0 || *s > 100) {
            return Err("each step is a percentage from 1 to 100".to_owned());
        }
        if steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err("steps must increase, e.g. `10,50,100`".to_owned());
        }
        if steps.last() != Some(&100) {
            return Err("the last step must be 100 (all traffic)".to_owned());
        }
        if dwell_secs > ROLLOUT_DWELL_MAX_SECS {
            return Err(format!(
                "the dwell between steps is at most {ROLLOUT_DWELL_MAX_SECS} seconds, got {dwell_secs}"
            ));
        }
        Ok(Self::Gradual { steps, dwell_secs })
    }

    /// Checks a value read from storage or a request (see [`Rollout::gradual`]).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Immediate => Ok(()),
            Self::Gradual { steps, dwell_secs } => {
                Self::gradual(steps.clone(), *dwell_secs).map(|_| ())
            }
        }
    }

    /// Parses `immediate` or steps such as `10,50,100`, with `dwell_secs` for the latter.
    pub fn parse(text: &str, dwell_secs: u64) -> Result<Self, String> {
        let text = text.trim();
        if text == "immediate" {
            return Ok(Self::Immediate);
        }
        let steps = text
            .split(',')
            .map(|s| {
                s.trim().trim_end_matches('%').parse::<u8>().map_err(|_| {
                    format!(
                        "`{}` is not a percentage; write `immediate` or steps such as `10,50,100`",
                        s.trim()
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::gradual(steps, dwell_secs)
    }
}

impl fmt::Display for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Immediate => f.write_str("immediate"),
            Self::Gradual { steps, dwell_secs } => {
                let steps: Vec<String> = steps.iter().map(|s| format!("{s}%")).collect();
                write!(f, "{} every {dwell_secs}s", steps.join(" → "))
            }
        }
    }
}

impl FromStr for Rollout {
    type Err = String;

    /// `immediate`, or steps with the default dwell (60 s).
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s, 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_steps() {
        assert_eq!(Rollout::parse("immediate", 0), Ok(Rollout::Immediate));
        assert_eq!(
            Rollout::parse("10, 50%,100", 5),
            Ok(Rollout::Gradual {
                steps: vec![10, 50, 100],
                dwell_secs: 5
            })
        );
        for bad in [
            "",
            "0,100",
            "50,10,100",
            "10,50",
            "10,x,100",
            "101",
            "10,10,100",
        ] {
            assert!(Rollout::parse(bad, 1).is_err(), "{bad:?} accepted");
        }
        assert!(Rollout::parse("100", 3601).is_err());
        assert_eq!(Rollout::default().to_string(), "10% → 50% → 100% every 60s");
        let json = serde_json::to_value(Rollout::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"mode": "gradual", "steps": [10, 50, 100], "dwell_secs": 60})
        );
    }
}
