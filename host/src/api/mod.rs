//! The store's HTTP API (`/v1`, JSON). Routers are composed from one module per
//! resource; handlers return `Result<Json<T>, ApiError>`; blocking work (SQLite, plugin
//! calls) runs on the blocking pool, except work that is nearly always quick (a quote),
//! which runs in place while it stays quick ([`QuickPath`]).

mod checkout;
mod constraints;
mod dashboard;
mod delivery;
mod error;
mod extract;
mod health;
mod inventory;
mod listener;
mod metrics;
mod openapi;
mod plugins;
mod pool;
mod presale;
mod recycling;
mod reports;
pub mod sensors;
mod sharing;
mod trace;

pub use error::{ApiError, BadQuery, Invalid, NotJson, refused};
pub use extract::{Body, BundleBody, InPath, MAX_JSON_BYTES, Params};
pub use linli_alliance::ApiErrorBody;
pub use listener::JsonListener;

use crate::config::{PluginsConfig, ReportsConfig};
use crate::install::Installer;
use crate::now_ms;
use crate::sensors::ColdChain;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use linli_runtime::bindings::types::CustomerRef;
use linli_runtime::pipeline::Pipeline;
use linli_runtime::{AnswerOf, Call, World};
use linli_store::Db;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store database: one write connection, pooled read connections.
    pub db: Arc<Db>,
    /// The stock as last read, while it is unchanged (quotes read it).
    pub stock: Arc<linli_store::catalogue::StockCache>,
    /// Sensor batches waiting for their group commit.
    pub sensor_queue: Arc<sensors::IngestQueue>,
    pub pipelines: Arc<BTreeMap<World, Pipeline>>,
    /// Loads components into installs: bundle installs, upgrades, rollbacks.
    pub installer: Arc<Installer>,
    /// The admin token mutating routes require.
    pub token: Arc<str>,
    pub metrics: Arc<metrics::RequestMetrics>,
    /// The cold-chain rule sensor readings are checked against.
    pub cold_chain: Arc<ColdChain>,
    pub sharing: Arc<Sharing>,
    /// The registry and the capabilities bundles may be granted.
    pub plugins: Arc<PluginsConfig>,
    /// The KPI targets the store sets itself.
    pub reports: Arc<ReportsConfig>,
    /// The link to the alliance server; none when sync is off.
    pub alliance: Option<Arc<crate::alliance::Link>>,
    /// Where quotes run: in place while they stay quick.
    pub quotes: Arc<QuickPath>,
}

/// Where work that is nearly always quick runs. A quote is some tens of microseconds of
/// SQLite reads and plugin calls; handing it to the blocking pool and back costs two
/// thread wake-ups, about 30 µs of CPU a quote on a two-core box (BENCHMARKS.md, "Quotes
/// in place, and jemalloc"). So it runs on the async worker that parsed the request while
/// it stays quick. Once a run takes more than [`QuickPath::QUICK`] of CPU time (a slow
/// plugin, up to its deadline; a large stock reload), the same work goes to the blocking
/// pool until [`QuickPath::SLOW_SPELL`] has passed without a slow run: a plugin that turns
/// slow holds a worker up once, not on every request. CPU time, not wall time: under load
/// a quick run's wall time also counts the other threads its core served meanwhile, and a
/// spell begun by preemption would keep itself going.
#[derive(Debug, Default)]
pub struct QuickPath {
    /// Until when (ms since [`ORIGIN`]) the work goes to the blocking pool.
    slow_until: AtomicU64,
}

/// The clock [`QuickPath`] counts its spells on.
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

impl QuickPath {
    /// More CPU time than this and a run is slow; a 20-line quote takes about a tenth of a
    /// millisecond.
    pub const QUICK: Duration = Duration::from_millis(5);
    /// How long after a slow run the work stays on the blocking pool.
    pub const SLOW_SPELL: Duration = Duration::from_secs(1);

    fn now() -> u64 {
        ORIGIN.elapsed().as_millis() as u64
    }

    /// Whether the work is in a slow spell.
    pub fn slow(&self) -> bool {
        Self::now() < self.slow_until.load(Ordering::Relaxed)
    }

    /// Do the work, timed: a slow run starts (or extends) a slow spell.
    fn timed<T>(&self, work: impl FnOnce() -> T) -> T {
        let (started, cpu_started) = (Instant::now(), thread_cpu_time());
        let result = work();
        // A thread uses no more CPU time than the time that passes: the second reading
        // of the CPU clock (a system call here) is only needed after a long run.
        if started.elapsed() > Self::QUICK {
            let cpu = thread_cpu_time().saturating_sub(cpu_started);
            if cpu > Self::QUICK {
                let until = Self::now() + Self::SLOW_SPELL.as_millis() as u64;
                if self.slow_until.fetch_max(until, Ordering::Relaxed) <= Self::now() {
                    tracing::info!(
                        "a {:.1} ms run: work that is usually quick runs on the blocking pool for {:?}",
                        cpu.as_secs_f64() * 1e3,
                        Self::SLOW_SPELL
                    );
                }
            }
        }
        result
    }
}

/// How data-sharing reports are built.
pub struct Sharing {
    /// Rows with fewer distinct customers never leave the store.
    pub k: u32,
    /// The time zone store days are counted in.
    pub time_zone: jiff::tz::TimeZone,
}

impl AppState {
    pub fn pipeline(&self, world: World) -> &Pipeline {
        &self.pipelines[&world]
    }

    /// Have the call's pipeline decide: the answer and the install that gave it, or the
    /// refusal as the client's error.
    pub fn decide<T: AnswerOf>(&self, call: &Call, now: i64) -> Result<(T, String), ApiError> {
        let decided = self
            .pipeline(call.world())
            .decide(call, now)
            .map_err(refused)?;
        let answer = T::from_answer(decided.answer).ok_or_else(|| {
            ApiError::Internal(format!(
                "{}: a checked answer of another kind",
                decided.install
            ))
        })?;
        Ok((answer, decided.install))
    }

    /// Run blocking work with the database's write connection (one request at a time).
    pub async fn with_db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &AppState) -> Result<T, ApiError> + Send + 'static,
    {
        self.blocking(move |state| work(&mut state.db.writer(), state))
            .await
    }

    /// Run blocking work that only reads, in a read transaction of its own: it waits
    /// for no write and no other read.
    pub async fn read_db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &AppState) -> Result<T, ApiError> + Send + 'static,
    {
        self.blocking(move |state| state.db.read(|conn| work(conn, state)))
            .await
    }

    /// [`AppState::read_db`] for work that is nearly always quick: in place, unless
    /// `path` is in a slow spell.
    pub async fn read_db_quick<T, F>(&self, path: &Arc<QuickPath>, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &AppState) -> Result<T, ApiError> + Send + 'static,
    {
        if !path.slow() {
            // A panic answers 500 here as it does from the blocking pool, rather than
            // taking the connection down with the worker's task.
            let run = std::panic::AssertUnwindSafe(|| {
                path.timed(|| self.db.read(|conn| work(conn, self)))
            });
            return std::panic::catch_unwind(run)
                .unwrap_or_else(|_| Err(ApiError::Internal("request task panicked".into())));
        }
        let path = path.clone();
        self.read_db(move |conn, state| path.timed(|| work(conn, state)))
            .await
    }

    /// Run blocking work that takes the database its own way.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || work(&state))
            .await
            .map_err(|err| ApiError::Internal(format!("request task failed: {err}")))?
    }
}

/// The pseudonym of a customer a request names, checked as every id is
/// (`linli_store::text::id`) and trimmed.
pub fn pseudonym(customer: &CustomerRef) -> Result<String, ApiError> {
    linli_store::text::id("customer.pseudonym", &customer.pseudonym)?;
    Ok(customer.pseudonym.trim().to_string())
}

/// The daemon's router and, from the same routes, its OpenAPI document.
pub fn router(state: AppState) -> Router {
    let mut guarded = OpenApiRouter::new()
        .merge(checkout::mutating())
        .merge(inventory::mutating())
        .merge(plugins::mutating())
        .merge(recycling::mutating())
        .merge(presale::mutating())
        .merge(delivery::mutating())
        .merge(sensors::mutating())
        .merge(sharing::mutating())
        .merge(pool::mutating())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    error::guarded(guarded.get_openapi_mut());
    let (routes, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(guarded)
        .merge(checkout::reading())
        .merge(inventory::reading())
        .merge(plugins::reading())
        .merge(recycling::reading())
        .merge(presale::reading())
        .merge(delivery::reading())
        .merge(sensors::reading())
        .merge(sharing::reading())
        .merge(pool::reading())
        .merge(trace::reading())
        .merge(reports::reading())
        .merge(openapi::reading())
        .merge(health::routes())
        .merge(metrics::routes())
        .split_for_parts();
    routes
        .merge(dashboard::routes())
        // After every route: it is set on the routes there are.
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(|| async { ApiError::NotFound("no such route; the API lives under /v1".into()) })
        .layer(Extension(openapi::Document::new(&document)))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .layer(axum::middleware::from_fn(close_if_unread))
        .layer(axum::middleware::from_fn(
            linli_alliance::error::json_errors,
        ))
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if same(token.as_bytes(), state.token.as_bytes()) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's name is
/// case-insensitive (RFC 7235 §2.1), so `bearer` and `BEARER` are the same scheme.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// A request body that notes when it was read to its end.
struct Tracked {
    inner: axum::body::Body,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(None) = polled {
            self.finished
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response sent before its request's body was read (a refused token, an unknown
/// route, a bad path) ends the connection: the rest of the body is still on the wire,
/// so the server cannot read the next request after it. Saying `Connection: close`
/// tells the till not to send its next request on this connection.
async fn close_if_unread(request: Request, next: Next) -> Response {
    use http_body::Body as _;
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = request.map(|inner| {
        axum::body::Body::new(Tracked {
            inner,
            finished: finished.clone(),
        })
    });
    let mut response = next.run(request).await;
    if !finished.load(std::sync::atomic::Ordering::Relaxed) {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Compare without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::QuickPath;
    use std::time::Duration;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", "BeArEr\tabc"] {
            assert_eq!(super::bearer_token(header), Some("abc"), "{header:?}");
        }
        for header in ["Basic abc", "Bearer", "Bearer   ", "Bearerabc", "abc"] {
            assert_eq!(super::bearer_token(header), None, "{header:?}");
        }
    }

    /// Spin for `cpu` of this thread's CPU time.
    fn spin(cpu: Duration) {
        let started = super::thread_cpu_time();
        while super::thread_cpu_time() - started < cpu {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn a_slow_run_sends_the_work_to_the_blocking_pool_for_a_spell() {
        let path = QuickPath::default();
        assert!(!path.slow(), "quick at first");
        assert_eq!(path.timed(|| 7), 7);
        assert!(!path.slow(), "a quick run starts no spell");
        // Waiting costs no CPU time: only work that hogs the thread starts a spell.
        path.timed(|| std::thread::sleep(QuickPath::QUICK * 2));
        assert!(!path.slow(), "sleeping is not slow");

        path.timed(|| spin(QuickPath::QUICK + Duration::from_millis(2)));
        assert!(path.slow(), "a slow run starts a spell");
        path.timed(|| ());
        assert!(path.slow(), "a quick run does not end the spell");
    }
}
