//! The daemon's background loops, each on its own tick while the daemon runs: the
//! sensor simulator and reading retention, the outbox's daily sales, and checkpoints.

use crate::api::{self, AppState};
use crate::now_ms;
use crate::sensors::SensorConfig;
use crate::sensors::simulator::Simulator;
use std::sync::Arc;

/// The sensor simulator's readings, and deleting readings past their retention.
pub(super) async fn sensor_upkeep(state: AppState, config: SensorConfig) {
    let interval_ms = config.simulator_interval_ms;
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(interval_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut simulator = Simulator::new(now_ms() as u64);
    let mut pruned_at: Option<i64> = None;
    loop {
        ticks.tick().await;
        let now = now_ms();
        let readings = if config.simulator {
            simulator.read(now, interval_ms)
        } else {
            Vec::new()
        };
        let prune_before = (config.retention_days > 0
            && pruned_at.is_none_or(|at| now - at >= 3_600_000))
        .then(|| now - i64::from(config.retention_days) * 86_400_000);
        if readings.is_empty() && prune_before.is_none() {
            continue;
        }
        let done = async {
            if !readings.is_empty() {
                state
                    .blocking(move |state| api::sensors::store_readings(state, readings))
                    .await?;
            }
            if let Some(before) = prune_before {
                let deleted = state
                    .with_db(move |conn, _| Ok(linli_store::sensors::prune(conn, before)?))
                    .await?;
                if deleted > 0 {
                    tracing::info!(deleted, "sensor readings past retention deleted");
                }
            }
            Ok::<(), api::ApiError>(())
        }
        .await;
        match done {
            Ok(()) => {
                if prune_before.is_some() {
                    pruned_at = Some(now);
                }
            }
            Err(err) => tracing::warn!("sensor upkeep: {err}"),
        }
    }
}

/// Once a minute, queue the sales of each store day that ended for the alliance, every
/// category bought by fewer than the store's k customers left out.
pub(super) async fn daily_sales(state: AppState) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let queued = state
            .with_db(|conn, state| {
                let sharing = &state.sharing;
                linli_store::outbox::queue_daily_sales(
                    conn,
                    &sharing.time_zone,
                    sharing.k,
                    now_ms(),
                )
                .map_err(api::ApiError::Internal)
            })
            .await;
        match queued {
            Ok(0) => {}
            Ok(days) => tracing::info!(days, "daily sales queued for the alliance"),
            Err(err) => tracing::warn!("daily sales: {err}"),
        }
    }
}

/// Copy the database's log into its file every second, off the requests' path.
pub(super) async fn checkpoints(db: Arc<linli_store::Db>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!("database checkpoint: {err}"),
            Err(err) => tracing::warn!("database checkpoint task: {err}"),
        }
    }
}
