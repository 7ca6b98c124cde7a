//! Request counters and latencies, rendered as Prometheus text at `GET /metrics`.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Instant};

#[derive(Default)]
struct Series {
    count: u64,
    seconds: f64,
}

/// Counters per (method, route, status).
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.series.lock() {
            let s = m
                .entry((method.to_string(), route.to_string(), status))
                .or_default();
            s.count += 1;
            s.seconds += seconds;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP berth_build_info Berth's version.");
        let _ = writeln!(out, "# TYPE berth_build_info gauge");
        let _ = writeln!(
            out,
            "berth_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# HELP berth_reaper_last_round_seconds How long the reaper's last round took."
        );
        let _ = writeln!(out, "# TYPE berth_reaper_last_round_seconds gauge");
        let micros = crate::reaper::LAST_ROUND_MICROS.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "berth_reaper_last_round_seconds {:.6}",
            micros as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP berth_reaper_last_round_deleted Deployments the reaper's last round deleted."
        );
        let _ = writeln!(out, "# TYPE berth_reaper_last_round_deleted gauge");
        let deleted = crate::reaper::LAST_ROUND_DELETED.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(out, "berth_reaper_last_round_deleted {deleted}");
        let _ = writeln!(
            out,
            "# HELP berth_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE berth_http_requests_total counter");
        let Ok(m) = self.series.lock() else {
            return out;
        };
        for ((method, route, status), s) in m.iter() {
            let _ = writeln!(
                out,
                "berth_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP berth_http_request_seconds_total Time spent answering, by route and status."
        );
        let _ = writeln!(out, "# TYPE berth_http_request_seconds_total counter");
        for ((method, route, status), s) in m.iter() {
            let _ = writeln!(
                out,
                "berth_http_request_seconds_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {:.6}",
                s.seconds
            );
        }
        out
    }
}

/// Middleware: times each request and records it under its route pattern.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    tracing::debug!(%method, %route, status, ms = secs * 1000.0, "request");
    metrics.record(&method, &route, status, secs);
    // The time spent in the server (the W3C `Server-Timing` header): what a client's figure
    // includes beyond it is the network and the client itself.
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("app;dur={:.3}", secs * 1000.0)) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}
