//! The audit log: who did what to which resource, per team.

use crate::{Control, Principal, internal};
use berth_model::Error;
use berth_store::NewAuditEvent;

impl Control {
    /// Records an event. A failure to record is logged and fails the request.
    pub async fn audit(
        &self,
        team_id: Option<i64>,
        actor: &Principal,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> Result<(), Error> {
        self.store
            .append_audit(&NewAuditEvent {
                team_id,
                time: self.now(),
                actor: actor.actor(),
                action: action.to_string(),
                target: target.to_string(),
                details: details.to_string(),
            })
            .await
            .map_err(internal("append audit event"))
    }
}
