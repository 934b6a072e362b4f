//! `/metrics`: Prometheus text — requests and their latencies per route, and per plugin
//! install its calls, failures, fuel and breaker state; sensor readings, open alerts,
//! outbox events waiting for the alliance.

use super::{ApiError, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use linli_runtime::World;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0];

/// Request counts and latency histograms, by (method, route, status).
#[derive(Default)]
pub struct RequestMetrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// Sensor readings stored, from devices and the simulator.
    pub sensor_readings: AtomicU64,
}

#[derive(Default, Clone)]
struct Series {
    count: u64,
    seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}

/// Count every request under its route pattern (never the raw path: SKUs and batch
/// codes would make the series unbounded).
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut series = state.metrics.series.lock().unwrap();
    let entry = series
        .entry((method, route, response.status().as_u16()))
        .or_default();
    entry.count += 1;
    entry.seconds += seconds;
    for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
        if seconds <= bound {
            *bucket += 1;
        }
    }
    response
}

/// Prometheus metrics: requests by route, plugin installs, sensor readings, open alerts,
/// outbox events waiting for the alliance.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((
        status = 200,
        description = "Prometheus text exposition format 0.0.4",
        body = String,
        content_type = "text/plain"
    ))
)]
async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (open_alerts, outbox_pending) = state
        .read_db(|conn, _| {
            Ok((
                linli_store::sensors::open_alert_count(conn)?,
                linli_store::outbox::pending_count(conn)?,
            ))
        })
        .await?;
    let mut text = String::new();
    text.push_str("# HELP linli_http_requests_total HTTP requests served.\n");
    text.push_str("# TYPE linli_http_requests_total counter\n");
    let series = state.metrics.series.lock().unwrap().clone();
    for ((method, route, status), values) in &series {
        let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
        let _ = writeln!(
            text,
            "linli_http_requests_total{{{labels}}} {}",
            values.count
        );
    }
    text.push_str("# HELP linli_http_request_duration_seconds Time to answer a request.\n");
    text.push_str("# TYPE linli_http_request_duration_seconds histogram\n");
    for ((method, route, status), values) in &series {
        let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
        for (bound, count) in BUCKETS.iter().zip(values.buckets) {
            let _ = writeln!(
                text,
                "linli_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            text,
            "linli_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            values.count
        );
        let _ = writeln!(
            text,
            "linli_http_request_duration_seconds_sum{{{labels}}} {}",
            values.seconds
        );
        let _ = writeln!(
            text,
            "linli_http_request_duration_seconds_count{{{labels}}} {}",
            values.count
        );
    }
    let plugin_metrics: [(&str, &str, &str); 5] = [
        (
            "linli_plugin_calls_total",
            "counter",
            "Calls of a plugin install.",
        ),
        (
            "linli_plugin_failures_total",
            "counter",
            "Calls that failed (trap, limit, bad output) or refused the install's settings.",
        ),
        (
            "linli_plugin_average_fuel",
            "gauge",
            "Mean instructions of the calls that ran.",
        ),
        (
            "linli_plugin_active",
            "gauge",
            "1 when the install takes calls.",
        ),
        (
            "linli_plugin_tripped",
            "gauge",
            "1 when the circuit breaker disabled the install.",
        ),
    ];
    let statuses: Vec<_> = World::ALL
        .iter()
        .flat_map(|world| state.pipeline(*world).status())
        .collect();
    for (name, kind, help) in plugin_metrics {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for status in &statuses {
            let value = match name {
                "linli_plugin_calls_total" => status.calls,
                "linli_plugin_failures_total" => status.failures,
                "linli_plugin_average_fuel" => status.average_fuel,
                "linli_plugin_active" => u64::from(status.active),
                _ => u64::from(status.tripped),
            };
            let _ = writeln!(
                text,
                "{name}{{install=\"{}\",world=\"{}\"}} {value}",
                status.id, status.world
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP linli_sensor_readings_total Sensor readings stored.\n\
         # TYPE linli_sensor_readings_total counter\n\
         linli_sensor_readings_total {}",
        state.metrics.sensor_readings.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        text,
        "# HELP linli_cold_chain_alerts_open Cold-chain alerts nobody acknowledged yet.\n\
         # TYPE linli_cold_chain_alerts_open gauge\n\
         linli_cold_chain_alerts_open {open_alerts}"
    );
    let _ = writeln!(
        text,
        "# HELP linli_outbox_pending Events for the alliance not acknowledged yet.\n\
         # TYPE linli_outbox_pending gauge\n\
         linli_outbox_pending {outbox_pending}"
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
