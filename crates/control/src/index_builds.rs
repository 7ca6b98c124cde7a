//! Index builds ahead of a push: a push whose schema adds an index builds it in batches while
//! the running code keeps serving and writing (`berth_store::docs::build_ahead`), then commits
//! the code. This process remembers each deployment's latest build so that `berth deploy` and
//! Convex's `wait_for_schema` can show its progress; the build itself lives in the store, so
//! any server can finish or repeat it.

use crate::{Control, calls::CallTarget, internal};
use berth_model::Error;
use berth_store::docs::{BuildProgress, IndexDef};
use tokio::sync::watch;

/// Where a deployment's latest index build is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildState {
    Running,
    Done,
    /// It stopped: with what to tell the caller when the cause is passing (a reset of the
    /// deployment), else the cause is in the log and the caller sees only that it failed.
    Failed(Option<String>),
}

/// A deployment's latest index build, as this server saw it.
#[derive(Debug, Clone)]
pub struct IndexBuild {
    pub state: BuildState,
    pub progress: BuildProgress,
    /// The indexes it was asked for.
    pub wanted: Vec<IndexDef>,
}

pub(crate) type Builds =
    std::sync::Mutex<std::collections::HashMap<i64, watch::Receiver<IndexBuild>>>;

impl Control {
    /// Builds the indexes of `wanted` that the deployment's running code lacks, ahead of the
    /// push that will serve them. A build of the same indexes that runs (or has finished well)
    /// on this server is joined instead; one of other indexes is waited for first. The answer
    /// follows its progress.
    pub async fn build_indexes(
        &self,
        target: &CallTarget,
        wanted: Vec<IndexDef>,
    ) -> Result<watch::Receiver<IndexBuild>, Error> {
        let id = target.deployment.id;
        loop {
            let latest = self.latest_build(id);
            match latest {
                Some(rx)
                    if rx.borrow().wanted == wanted
                        && !matches!(rx.borrow().state, BuildState::Failed(_)) =>
                {
                    return Ok(rx);
                }
                Some(rx) if rx.borrow().state == BuildState::Running => {
                    if wait_done(rx).await.is_err() {
                        // Its task is gone without a word (it panicked): forget it.
                        if let Ok(mut builds) = self.builds.lock() {
                            builds.remove(&id);
                        }
                    }
                }
                _ => break,
            }
        }
        let docs = self.deployment_docs(target).await?;
        let mut builds = self.builds.lock().map_err(|_| Error::internal())?;
        // Another request started the same build meanwhile: join it. (One of other indexes
        // that started meanwhile is not joined: this build runs beside it, which is safe.)
        if let Some(rx) = builds
            .get(&id)
            .filter(|rx| rx.borrow().state == BuildState::Running && rx.borrow().wanted == wanted)
        {
            return Ok(rx.clone());
        }
        let (tx, rx) = watch::channel(IndexBuild {
            state: BuildState::Running,
            progress: BuildProgress::default(),
            wanted: wanted.clone(),
        });
        builds.insert(id, rx.clone());
        drop(builds);
        let name = target.deployment.name.clone();
        tokio::task::spawn_blocking(move || {
            let built = berth_store::docs::build_ahead(&*docs, &wanted, &mut |p| {
                tx.send_modify(|b| b.progress = p.clone());
            });
            tx.send_modify(|b| {
                b.state = match built {
                    Ok(()) => BuildState::Done,
                    Err(berth_store::StoreError::Busy(m)) => BuildState::Failed(Some(m)),
                    Err(e) => {
                        tracing::error!(deployment = %name, error = %e, "index build failed");
                        BuildState::Failed(None)
                    }
                }
            });
        });
        Ok(rx)
    }

    /// Builds (or joins the build of) `wanted` and waits until it has finished. Whatever it
    /// leaves unbuilt (another server's push dropped an index meanwhile) the push's own
    /// transaction builds.
    pub(crate) async fn finish_index_build(
        &self,
        target: &CallTarget,
        wanted: Vec<IndexDef>,
    ) -> Result<(), Error> {
        wait_done(self.build_indexes(target, wanted).await?).await
    }

    /// The deployment's latest index build on this server, if any.
    pub fn index_build(&self, target: &CallTarget) -> Option<IndexBuild> {
        let builds = self.builds.lock().ok()?;
        builds
            .get(&target.deployment.id)
            .map(|rx| rx.borrow().clone())
    }

    fn latest_build(&self, id: i64) -> Option<watch::Receiver<IndexBuild>> {
        self.builds.lock().ok()?.get(&id).cloned()
    }
}

/// Waits for a build to finish: its failure is a 500 (the cause is in the log).
pub async fn wait_done(mut rx: watch::Receiver<IndexBuild>) -> Result<(), Error> {
    let state = rx
        .wait_for(|b| b.state != BuildState::Running)
        .await
        .map_err(|_| Error::internal())?
        .state
        .clone();
    match state {
        BuildState::Failed(Some(m)) => {
            Err(internal("build indexes")(berth_store::StoreError::Busy(m)))
        }
        BuildState::Failed(None) => Err(Error::internal()),
        _ => Ok(()),
    }
}
