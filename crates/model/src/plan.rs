//! Plans decide a team's deployment limit and how long previews live by default (PRODUCT §3).

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Starter,
    Professional,
    Business,
    Enterprise,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Plan {
    pub const ALL: [Plan; 5] = [
        Plan::Free,
        Plan::Starter,
        Plan::Professional,
        Plan::Business,
        Plan::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Business => "business",
            Plan::Enterprise => "enterprise",
        }
    }

    /// How many deployments a team on this plan may hold; `None` is unlimited.
    pub fn deployment_limit(self) -> Option<u32> {
        match self {
            Plan::Free | Plan::Starter => Some(40),
            Plan::Professional => Some(300),
            Plan::Business | Plan::Enterprise => None,
        }
    }

    /// How long a preview lives when its creator gave no expiration, in milliseconds.
    pub fn default_preview_lifetime_ms(self) -> i64 {
        match self {
            Plan::Free | Plan::Starter => 5 * DAY_MS,
            _ => 14 * DAY_MS,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            crate::Error::bad_request(
                "InvalidPlan",
                format!(
                    "unknown plan '{s}'; use one of free, starter, professional, business, enterprise"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_product_table() {
        assert_eq!(Plan::Free.deployment_limit(), Some(40));
        assert_eq!(Plan::Starter.deployment_limit(), Some(40));
        assert_eq!(Plan::Professional.deployment_limit(), Some(300));
        assert_eq!(Plan::Business.deployment_limit(), None);
        assert_eq!(Plan::Free.default_preview_lifetime_ms(), 5 * DAY_MS);
        assert_eq!(Plan::Enterprise.default_preview_lifetime_ms(), 14 * DAY_MS);
        for p in Plan::ALL {
            assert_eq!(p.as_str().parse::<Plan>(), Ok(p));
        }
        assert!(
            "gold"
                .parse::<Plan>()
                .unwrap_err()
                .message
                .contains("free, starter")
        );
    }
}
