//! The reaper: on every tick, delete the deployments whose expiration has passed. What "expired"
//! means comes from the control plane's [`Clock`] and when it runs from a [`Ticker`], so tests
//! drive both by hand (`ManualClock` and a channel of ticks) without sleeping.
//!
//! [`Clock`]: berth_model::time::Clock

use berth_control::Control;
use std::{sync::Arc, time::Duration};

/// When the reaper runs next.
pub trait Ticker: Send {
    /// Completes at the next tick; `false` when there will be no more ticks.
    fn tick(&mut self) -> impl Future<Output = bool> + Send;
}

/// Ticks every `interval` on tokio's clock.
pub struct Every(tokio::time::Interval);

impl Every {
    pub fn new(interval: Duration) -> Self {
        let mut i = tokio::time::interval(interval);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(i)
    }
}

impl Ticker for Every {
    async fn tick(&mut self) -> bool {
        self.0.tick().await;
        true
    }
}

/// Ticks whenever a message arrives; ends when the sender is dropped.
impl Ticker for tokio::sync::mpsc::Receiver<()> {
    async fn tick(&mut self) -> bool {
        self.recv().await.is_some()
    }
}

/// Reaps once per `interval`, forever.
pub async fn run(control: Arc<Control>, interval: Duration) {
    run_on(control, Every::new(interval)).await
}

/// Reaps on every tick of `ticker`; a failed round is logged and retried on the next tick.
pub async fn run_on(control: Arc<Control>, mut ticker: impl Ticker) {
    while ticker.tick().await {
        match control.reap_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "reaper deleted expired deployments"),
            Err(e) => tracing::warn!(error = %e, "reaper round failed; retrying on the next tick"),
        }
    }
}
