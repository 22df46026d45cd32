//! Structured logs with `tracing`. Every line of a request carries its span:
//! the request id and the catalogue function serving it (named by the route's
//! own layer); queue and schedule invocations run in a span naming theirs.
//! Bodies, cookies and secrets are never recorded.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls are no-ops (tests call it often).
/// The filter comes from `KONNECS_LOG` (default `info`).
pub fn init(format: LogFormat, function: &str) {
    let filter = EnvFilter::try_from_env("KONNECS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if installed.is_ok() {
        tracing::info!(function, "telemetry ready");
    }
}
