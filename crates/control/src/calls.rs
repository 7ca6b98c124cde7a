//! What the deployment API (`/d/{name}/...`) asks the control plane: which deployment a call
//! reaches, whether it is live, what the caller may do there, and recording pushes.

use crate::{Control, Principal, authz::deployment_not_found, internal};
use berth_model::{Error, deployment::Settings};
use berth_store::DeploymentRecord;

/// A deployment as a call sees it.
#[derive(Debug, Clone)]
pub struct CallTarget {
    pub deployment: DeploymentRecord,
    pub settings: Settings,
    /// The caller may edit it: call internal functions, push, read data.
    pub can_edit: bool,
}

impl CallTarget {
    /// Refuses callers that may not edit the deployment.
    pub fn require_edit(&self, action: &str) -> Result<(), Error> {
        if self.can_edit {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "{action} on deployment '{}' needs a credential that may edit it: a deploy key for it ('Authorization: Convex <key>') or the access token of a member who may edit it",
                self.deployment.name
            )))
        }
    }
}

impl Control {
    /// Resolves the deployment a call is aimed at. Anonymous callers reach any live deployment
    /// (for its public functions); a credential must be one that can see it.
    pub async fn call_target(
        &self,
        p: Option<&Principal>,
        name: &str,
    ) -> Result<CallTarget, Error> {
        let now = self.now();
        let (deployment, can_edit) = match p {
            None => {
                let d = self
                    .deployment_record(name)
                    .await?
                    .ok_or_else(|| deployment_not_found(name))?;
                (d, false)
            }
            Some(p) => {
                let a = self.deployment_access(p, name).await?;
                let can_edit = a.require_edit("").is_ok();
                (a.deployment, can_edit)
            }
        };
        if deployment.is_expired(now) {
            return Err(crate::deployments::expired(&deployment));
        }
        let settings = deployment.overrides.resolve(deployment.deployment_type);
        Ok(CallTarget {
            deployment,
            settings,
            can_edit,
        })
    }

    /// The own data (documents, code, variables) of a deployment a call has resolved: reached
    /// through its row, never through a name from the request.
    pub async fn deployment_docs(
        &self,
        target: &CallTarget,
    ) -> Result<std::sync::Arc<dyn berth_store::docs::DocStore>, Error> {
        self.store
            .deployment_docs(target.deployment.id)
            .await
            .map_err(|e| match e {
                berth_store::StoreError::NoDeployment(_) => {
                    deployment_not_found(&target.deployment.name)
                }
                e => internal("open deployment data")(e),
            })
    }

    /// Tells the deployment's live queries, on every server, that anything may have changed
    /// (new code, new data): they all run again. When the other servers cannot be told, theirs
    /// run again at the next commit that touches them.
    pub(crate) async fn announce_everything(&self, id: i64) {
        if let Err(e) = self.store.announce_everything(id).await {
            tracing::warn!(error = %e, deployment = id, "announce a change to live queries");
        }
    }

    /// Where each deployment's commits are announced on this server, for live queries.
    pub fn commits(&self) -> std::sync::Arc<berth_store::docs::commits::CommitHub> {
        self.store.commits()
    }

    /// `sqlite` or `postgres`: the storage this server runs on.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Replaces a deployment's code and records the push: new indexes are built ahead, in
    /// batches, while the running code serves; then one store operation checks the data against
    /// the schema, commits the code and its indexes (dropping those gone) and the version; returns the new code version
    /// and the index changes. A schema the data breaks refuses the push, naming a document.
    pub async fn push_code(
        &self,
        p: &Principal,
        target: &CallTarget,
        code: berth_store::docs::Code,
        message: Option<&str>,
    ) -> Result<(i64, berth_store::docs::IndexChanges), Error> {
        let (modules, functions) = (code.modules.len(), functions_in(&code.meta));
        // New indexes are built first, while the running code goes on serving and writing.
        self.finish_index_build(target, code.schema.indexes.clone())
            .await?;
        let (id, now) = (target.deployment.id, self.now());
        let (version, changes) = self
            .detached(move |store| Box::pin(async move { store.push_code(id, code, now).await }))
            .await
            .and_then(|r| r)
            .map_err(|e| match e {
                berth_store::StoreError::SchemaMismatch(m) => Error::bad_request(
                    "SchemaValidationFailed",
                    format!(
                        "the push was refused; the running code is unchanged: {m}. Fix the document (or the schema) and push again"
                    ),
                ),
                e => internal("push code")(e),
            })?;
        self.forget(&target.deployment.name);
        // Live queries run again with the new code.
        self.announce_everything(id).await;
        let names = |d: &[berth_store::docs::IndexDef]| -> Vec<String> {
            d.iter().map(|i| i.name.clone()).collect()
        };
        self.audit(
            Some(target.deployment.team_id),
            p,
            "push",
            &target.deployment.name,
            serde_json::json!({"modules": modules, "functions": functions, "codeVersion": version,
                "message": message, "indexesAdded": names(&changes.added),
                "indexesRemoved": names(&changes.removed)}),
        )
        .await?;
        Ok((version, changes))
    }
}

/// How many functions the push's metadata lists.
fn functions_in(meta: &str) -> usize {
    serde_json::from_str::<Vec<serde_json::Value>>(meta).map_or(0, |f| f.len())
}
