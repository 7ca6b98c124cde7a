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

/// How long the last reaper round took, in microseconds (for `/metrics`).
pub static LAST_ROUND_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// How many deployments the last round deleted.
pub static LAST_ROUND_DELETED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Reaps on every tick of `ticker`; a failed round is logged and retried on the next tick.
pub async fn run_on(control: Arc<Control>, mut ticker: impl Ticker) {
    while ticker.tick().await {
        let started = std::time::Instant::now();
        let result = control.reap_expired().await;
        LAST_ROUND_MICROS.store(
            started.elapsed().as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        LAST_ROUND_DELETED.store(
            *result.as_ref().unwrap_or(&0) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "reaper deleted expired deployments"),
            Err(e) => tracing::warn!(error = %e, "reaper round failed; retrying on the next tick"),
        }
    }
}
