//! The audit log: who did what to which resource, per team.

use crate::{Control, Principal, internal};
use berth_api::{AuditEvent, AuditLog, AuditLogQuery};
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

    /// A page of the team's audit log, newest first; team admins only.
    pub async fn audit_log(
        &self,
        p: &Principal,
        team: &str,
        q: AuditLogQuery,
    ) -> Result<AuditLog, Error> {
        let access = self.team_access(p, team).await?;
        access.require_admin("read the audit log")?;
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(Error::bad_request(
                "BadQuery",
                "limit must be between 1 and 1000",
            ));
        }
        let events = self
            .store
            .list_audit(access.team.id, q.cursor, limit)
            .await
            .map_err(internal("read audit log"))?;
        let next_cursor = (events.len() == limit as usize)
            .then(|| events.last().map(|e| e.id))
            .flatten();
        Ok(AuditLog {
            items: events
                .into_iter()
                .map(|e| AuditEvent {
                    id: e.id,
                    time: e.time,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
                })
                .collect(),
            next_cursor,
        })
    }
}
