//! Berth's HTTP server. [`Server::bind`] opens storage, bootstraps the first team and admin, and
//! binds the listener; [`Server::run`] serves until the shutdown signal. Requests enter through
//! [`routes::router`], which is also where the OpenAPI document is assembled from the handlers.

pub mod dashboard;
pub mod error;
pub mod extract;
pub mod fanout;
pub mod live;
pub mod metrics;
pub mod reaper;
pub mod routes;

use anyhow::Context;
use berth_control::{Control, ControlConfig, bootstrap::Bootstrapped};
use berth_model::{Plan, time::SystemClock};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

/// Everything `berth serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: String,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub regions: Vec<String>,
    pub default_plan: Plan,
    pub reap_interval_ms: i64,
    pub min_expiration_ms: i64,
    pub max_expiration_ms: i64,
    /// Log lines kept per deployment.
    pub log_retention: usize,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub control: Arc<Control>,
    pub metrics: Arc<metrics::Metrics>,
    pub runtime: Arc<berth_runtime::Pool>,
    /// Sync sockets open and live-query runs under way.
    pub live: Arc<live::Live>,
    /// Each deployment's live queries, run once for all its sessions.
    pub fanouts: Arc<fanout::Fanouts>,
}

/// A bound, bootstrapped server, not yet serving.
pub struct Server {
    pub local_addr: SocketAddr,
    pub public_url: String,
    pub bootstrapped: Bootstrapped,
    pub admin_token_path: PathBuf,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    control: Arc<Control>,
    reap_interval: std::time::Duration,
}

impl Server {
    pub async fn bind(cfg: ServeConfig) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("listen on {}", cfg.listen))?;
        let local_addr = listener.local_addr().context("read the bound address")?;
        let public_url = match &cfg.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None if local_addr.ip().is_unspecified() => {
                format!("http://127.0.0.1:{}", local_addr.port())
            }
            None => format!("http://{local_addr}"),
        };
        let store = berth_store::open(&cfg.data_dir, cfg.database_url.as_deref())
            .await
            .with_context(|| match cfg.database_url {
                Some(_) => "open the PostgreSQL database given by --database-url".to_string(),
                None => format!("open the data directory {}", cfg.data_dir.display()),
            })?;
        let control = Arc::new(Control::new(
            store,
            Arc::new(SystemClock),
            ControlConfig {
                default_plan: cfg.default_plan,
                regions: cfg.regions.clone(),
                public_url: public_url.clone(),
                min_expiration_ms: cfg.min_expiration_ms,
                max_expiration_ms: cfg.max_expiration_ms,
                log_retention: cfg.log_retention,
            },
        ));
        let bootstrapped = control
            .bootstrap(&cfg.data_dir)
            .await
            .map_err(anyhow::Error::msg)?;
        // Mostly idle threads: a call that waits (on storage, or runs away until its time limit)
        // holds one; four per core keeps the others serving.
        let workers =
            (std::thread::available_parallelism().map_or(2, |n| n.get()) * 4).clamp(8, 64);
        let runtime = berth_runtime::Pool::new(
            workers,
            berth_runtime::Limits::default(),
            tokio::runtime::Handle::current(),
        )
        .context("start the function runtime")?;
        let state = AppState {
            control: control.clone(),
            metrics: Arc::new(metrics::Metrics::default()),
            runtime: Arc::new(runtime),
            live: Default::default(),
            fanouts: Default::default(),
        };
        let (app, _) = routes::router(state);
        Ok(Server {
            local_addr,
            public_url,
            bootstrapped,
            admin_token_path: cfg
                .data_dir
                .join(berth_control::bootstrap::ADMIN_TOKEN_FILE),
            listener,
            app,
            control,
            reap_interval: std::time::Duration::from_millis(cfg.reap_interval_ms.max(1) as u64),
        })
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // The reaper runs beside the server and stops with it.
        let reaper = tokio::spawn(reaper::run(self.control.clone(), self.reap_interval));
        // Small messages (a socket's transitions, a mutation's answer and the transition after
        // it) go out at once instead of waiting for the last one's ACK.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY on an incoming connection");
            }
        });
        let served = axum::serve(
            listener,
            self.app
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serve HTTP");
        reaper.abort();
        served
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
