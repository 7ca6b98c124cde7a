//! Deployment types and their settings (PRODUCT §3). A setting stored as `None` means "the
//! type's default", so changing a type's default changes every deployment that did not override it.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentType {
    Dev,
    Preview,
    Prod,
}

impl DeploymentType {
    pub const ALL: [DeploymentType; 3] = [
        DeploymentType::Dev,
        DeploymentType::Preview,
        DeploymentType::Prod,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentType::Dev => "dev",
            DeploymentType::Preview => "preview",
            DeploymentType::Prod => "prod",
        }
    }

    /// How the CLI labels a target: `[Development]`, `[Preview]`, `[Production]`.
    pub fn label(self) -> &'static str {
        match self {
            DeploymentType::Dev => "Development",
            DeploymentType::Preview => "Preview",
            DeploymentType::Prod => "Production",
        }
    }

    /// The settings a deployment of this type has unless overridden.
    pub fn default_settings(self) -> Settings {
        let prod = self == DeploymentType::Prod;
        Settings {
            editable_by: if prod {
                EditableBy::Admins
            } else {
                EditableBy::Members
            },
            send_logs_to_client: !prod,
            send_error_details_to_client: !prod,
            dashboard_edit_confirmation: prod,
        }
    }
}

impl fmt::Display for DeploymentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeploymentType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "dev" | "development" => Ok(DeploymentType::Dev),
            "preview" => Ok(DeploymentType::Preview),
            "prod" | "production" => Ok(DeploymentType::Prod),
            _ => Err(Error::bad_request(
                "InvalidDeploymentType",
                format!("unknown deployment type '{s}'; use dev, preview or prod"),
            )),
        }
    }
}

/// Who may edit a deployment's data, variables, settings and code, or delete it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditableBy {
    /// Every member of the team.
    Members,
    /// Project admins and team admins only.
    Admins,
}

impl EditableBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EditableBy::Members => "members",
            EditableBy::Admins => "admins",
        }
    }
}

impl FromStr for EditableBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "members" => Ok(EditableBy::Members),
            "admins" => Ok(EditableBy::Admins),
            _ => Err(Error::bad_request(
                "InvalidSetting",
                format!("editableBy must be 'members' or 'admins', not '{s}'"),
            )),
        }
    }
}

/// Effective settings of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub editable_by: EditableBy,
    pub send_logs_to_client: bool,
    pub send_error_details_to_client: bool,
    pub dashboard_edit_confirmation: bool,
}

/// Per-deployment overrides; `None` means the type's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingOverrides {
    pub editable_by: Option<EditableBy>,
    pub send_logs_to_client: Option<bool>,
    pub send_error_details_to_client: Option<bool>,
    pub dashboard_edit_confirmation: Option<bool>,
}

impl SettingOverrides {
    pub fn resolve(&self, ty: DeploymentType) -> Settings {
        let d = ty.default_settings();
        Settings {
            editable_by: self.editable_by.unwrap_or(d.editable_by),
            send_logs_to_client: self.send_logs_to_client.unwrap_or(d.send_logs_to_client),
            send_error_details_to_client: self
                .send_error_details_to_client
                .unwrap_or(d.send_error_details_to_client),
            dashboard_edit_confirmation: self
                .dashboard_edit_confirmation
                .unwrap_or(d.dashboard_edit_confirmation),
        }
    }
}

/// The names of the settings, as the API and `--setting name=value` spell them.
pub const SETTING_NAMES: [&str; 4] = [
    "editableBy",
    "sendLogsToClient",
    "sendErrorDetailsToClient",
    "dashboardEditConfirmation",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_product_table() {
        for ty in [DeploymentType::Dev, DeploymentType::Preview] {
            let s = ty.default_settings();
            assert_eq!(s.editable_by, EditableBy::Members);
            assert!(s.send_logs_to_client && s.send_error_details_to_client);
            assert!(!s.dashboard_edit_confirmation);
        }
        let p = DeploymentType::Prod.default_settings();
        assert_eq!(p.editable_by, EditableBy::Admins);
        assert!(!p.send_logs_to_client && !p.send_error_details_to_client);
        assert!(p.dashboard_edit_confirmation);
        let o = SettingOverrides {
            send_logs_to_client: Some(true),
            ..Default::default()
        };
        assert!(o.resolve(DeploymentType::Prod).send_logs_to_client);
        assert!(!o.resolve(DeploymentType::Prod).send_error_details_to_client);
    }
}
