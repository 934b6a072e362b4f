//! Installs of one policy kind, run in a configured order. For pricing each install
//! sees the previous one's prices and the host keeps the trail of who changed what; for
//! the other kinds the first install that answers decides. A failing install is skipped
//! with the policy's fallback (pricing: the line keeps its price; others: the next
//! install, else a clear refusal), its failure is recorded, and after
//! `breaker_threshold` consecutive failures it is disabled until re-enabled. An install
//! that refuses its own settings (`bad-config`) fails the same way: a setting the owner
//! got wrong skips that install, it never refuses the sale.

use super::bindings::types::{BasketLine, PolicyError};
use super::capabilities::kv::KvUsage;
use super::shadow::{Shadow, ShadowCounts};
use super::{
    Answer, Call, CallContext, CallError, Limits, Plugin, QuoteRequest, StoreAccess, World,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

/// Consecutive failures after which an install is disabled.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;

/// A plugin installed in a store: the component, the owner's settings and limits, and
/// the store state it was granted.
pub struct Install {
    id: String,
    plugin: Arc<Plugin>,
    /// The owner's settings; replaced whole when the owner changes them, so a call in
    /// flight keeps the settings it started with.
    config: RwLock<Arc<BTreeMap<String, String>>>,
    limits: Limits,
    store: StoreAccess,
    health: Mutex<Health>,
    /// A candidate version answering the same calls, for comparison.
    shadow: RwLock<Option<Arc<Shadow>>>,
}

#[derive(Debug, Clone, Default)]
struct Health {
    enabled: bool,
    tripped: bool,
    consecutive_failures: u32,
    calls: u64,
    failures: u64,
    fuel_used: u64,
    last_error: Option<String>,
}

/// How an install is doing, as the store owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstallStatus {
    pub id: String,
    /// The name the plugin was loaded under (a host loads an install's plugin under its
    /// id). Not serialised: a host's view names the plugin as it knows it, and an
    /// object carries each key once.
    #[serde(skip)]
    pub plugin: String,
    pub world: World,
    /// Taking calls: enabled by the owner and not tripped.
    pub active: bool,
    /// Disabled by the owner.
    pub enabled: bool,
    /// Disabled by the circuit breaker after consecutive failures.
    pub tripped: bool,
    pub consecutive_failures: u32,
    pub calls: u64,
    pub failures: u64,
    /// Mean fuel of the calls that ran.
    pub average_fuel: u64,
    pub last_error: Option<String>,
    /// The owner's settings.
    pub config: BTreeMap<String, String>,
    /// A candidate version running in the shadow of this one.
    pub shadow: Option<ShadowCounts>,
    /// What each call may use.
    pub limits: Limits,
    /// What the install keeps in kv (of `limits.kv-bytes`), for a plugin that uses kv.
    pub kv: Option<KvUsage>,
}

impl Install {
    pub fn new(
        id: impl Into<String>,
        plugin: Arc<Plugin>,
        config: BTreeMap<String, String>,
        limits: Limits,
        store: StoreAccess,
    ) -> Install {
        Install {
            id: id.into(),
            plugin,
            config: RwLock::new(Arc::new(config)),
            limits,
            store,
            health: Mutex::new(Health {
                enabled: true,
                ..Health::default()
            }),
            shadow: RwLock::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    pub fn config(&self) -> Arc<BTreeMap<String, String>> {
        self.config.read().unwrap().clone()
    }

    /// Run a candidate beside this install (or stop the one running, with `None`).
    pub fn set_shadow(&self, shadow: Option<Shadow>) {
        *self.shadow.write().unwrap() = shadow.map(Arc::new);
    }

    pub fn shadow(&self) -> Option<Arc<Shadow>> {
        self.shadow.read().unwrap().clone()
    }

    /// Replace the owner's settings; calls from now on see them.
    pub fn set_config(&self, config: BTreeMap<String, String>) {
        *self.config.write().unwrap() = Arc::new(config);
    }

    fn active(&self) -> bool {
        let health = self.health.lock().unwrap();
        health.enabled && !health.tripped
    }

    /// Call the plugin with this install's settings; count the result.
    fn call(&self, call: &Call, now: i64, breaker_threshold: u32) -> Result<Answer, Failure> {
        let context = CallContext {
            now,
            config: self.config(),
            limits: self.limits,
            store: self.store.clone(),
        };
        let result = self.plugin.call(call, &context);
        if let Some(shadow) = self.shadow() {
            let active = match &result {
                Ok(outcome) => Ok(outcome.answer.clone()),
                Err(err) => Err(err),
            };
            shadow.offer(call, &context, active);
        }
        let mut health = self.health.lock().unwrap();
        health.calls += 1;
        let failure = match result {
            Ok(outcome) => match outcome.answer {
                Err(PolicyError::BadConfig(text)) => {
                    Failure::Misconfigured(format!("bad setting: {text}"))
                }
                answer => {
                    health.consecutive_failures = 0;
                    health.fuel_used += outcome.fuel_used;
                    return answer.map_err(Failure::Refused);
                }
            },
            Err(err) => Failure::Failed(err),
        };
        let error = failure.to_string();
        health.failures += 1;
        health.consecutive_failures += 1;
        health.last_error = Some(error.clone());
        if health.consecutive_failures >= breaker_threshold && !health.tripped {
            health.tripped = true;
            tracing::warn!(
                install = %self.id,
                failures = health.consecutive_failures,
                "install disabled by the circuit breaker: {error}"
            );
        }
        Err(failure)
    }

    pub fn status(&self) -> InstallStatus {
        let health = self.health.lock().unwrap().clone();
        let ran = health.calls - health.failures;
        InstallStatus {
            id: self.id.clone(),
            plugin: self.plugin.name().to_string(),
            world: self.plugin.world(),
            active: health.enabled && !health.tripped,
            enabled: health.enabled,
            tripped: health.tripped,
            consecutive_failures: health.consecutive_failures,
            calls: health.calls,
            failures: health.failures,
            average_fuel: health.fuel_used.checked_div(ran).unwrap_or(0),
            last_error: health.last_error,
            config: self.config().as_ref().clone(),
            shadow: self.shadow().map(|shadow| shadow.counts()),
            limits: self.limits,
            kv: self.kv_usage(),
        }
    }

    fn kv_usage(&self) -> Option<KvUsage> {
        if !self.plugin.capabilities().contains(&"kv") {
            return None;
        }
        let usage = self.store.kv.as_ref()?.usage();
        usage
            .inspect_err(|err| tracing::warn!(install = %self.id, "kv usage unknown: {err}"))
            .ok()
    }
}

enum Failure {
    /// The plugin answered with its own refusal of the request.
    Refused(PolicyError),
    /// The plugin refused the install's settings: the fallback applies.
    Misconfigured(String),
    /// The call failed (trap, limit, bad output): the fallback applies.
    Failed(CallError),
}

impl Failure {
    /// An install that did not contribute and why, when the fallback applies; the
    /// refusal itself otherwise.
    fn skipped(self, install: &str) -> Result<Skipped, PolicyError> {
        let error = match self {
            Failure::Refused(error) => return Err(error),
            Failure::Misconfigured(text) => text,
            Failure::Failed(err) => err.to_string(),
        };
        Ok(Skipped {
            install: install.to_string(),
            error,
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(error) => write!(f, "refused: {error:?}"),
            Failure::Misconfigured(text) => f.write_str(text),
            Failure::Failed(err) => write!(f, "{err}"),
        }
    }
}

/// One change a pricing install made to a line: the receipt's explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrailEntry {
    pub install: String,
    pub line: u32,
    pub amount: i64,
    pub reason: String,
}

/// An install that did not contribute to a decision, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    pub install: String,
    pub error: String,
}

/// An install's own refusal (e.g. "expired goods must not be sold").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    pub install: String,
    pub error: PolicyError,
}

/// A basket priced by the whole pricing pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricedBasket {
    /// The request's lines with their final unit prices, in request order.
    pub lines: Vec<BasketLine>,
    /// Final unit price of each line, in request order.
    pub unit_prices: Vec<i64>,
    /// Final total of each line: unit price × units, at most `i64::MAX` (a host
    /// summing them checks for more).
    pub totals: Vec<i64>,
    /// Every change, in the order the installs made them.
    pub trail: Vec<TrailEntry>,
    /// Installs that refused the basket; their changes are not applied.
    pub refusals: Vec<Refusal>,
    /// Installs that failed or refused their own settings; their lines kept the price
    /// they had.
    pub skipped: Vec<Skipped>,
}

/// The decision of a non-pricing pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided {
    pub install: String,
    pub answer: Answer,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error("no {world} plugin is installed and active")]
    NoInstall { world: World },
    #[error("{install} refused: {error:?}")]
    Refused {
        install: String,
        error: PolicyError,
        skipped: Vec<Skipped>,
    },
    #[error("every {world} plugin failed ({}); the request is refused", describe(.skipped))]
    AllFailed { world: World, skipped: Vec<Skipped> },
    #[error("no install `{id}` in the {world} pipeline")]
    UnknownInstall { world: World, id: String },
    #[error("the new order of the {world} pipeline must name each install once: {detail}")]
    BadOrder { world: World, detail: String },
}

fn describe(skipped: &[Skipped]) -> String {
    let each = skipped
        .iter()
        .map(|skip| format!("{}: {}", skip.install, skip.error));
    each.collect::<Vec<_>>().join("; ")
}

/// The installs of one world, in order.
pub struct Pipeline {
    world: World,
    breaker_threshold: u32,
    installs: RwLock<Vec<Arc<Install>>>,
}

impl Pipeline {
    pub fn new(world: World, breaker_threshold: u32) -> Pipeline {
        Pipeline {
            world,
            breaker_threshold: breaker_threshold.max(1),
            installs: RwLock::new(Vec::new()),
        }
    }

    pub fn world(&self) -> World {
        self.world
    }

    /// Add an install at the end of the order (replacing one with the same id in place).
    pub fn add(&self, install: Install) {
        assert_eq!(
            install.plugin.world(),
            self.world,
            "install of the wrong world"
        );
        let mut installs = self.installs.write().unwrap();
        let install = Arc::new(install);
        match installs
            .iter_mut()
            .find(|existing| existing.id == install.id)
        {
            Some(slot) => *slot = install,
            None => installs.push(install),
        }
    }

    pub fn remove(&self, id: &str) -> Result<(), PipelineError> {
        let mut installs = self.installs.write().unwrap();
        let before = installs.len();
        installs.retain(|install| install.id != id);
        if installs.len() == before {
            return Err(self.unknown(id));
        }
        Ok(())
    }

    /// Put the installs in this order; every install must be named exactly once.
    pub fn reorder(&self, ids: &[&str]) -> Result<(), PipelineError> {
        let mut installs = self.installs.write().unwrap();
        let mut sorted = Vec::with_capacity(installs.len());
        for id in ids {
            let Some(install) = installs.iter().find(|install| install.id == *id) else {
                return Err(self.unknown(id));
            };
            if sorted.iter().any(|taken: &Arc<Install>| taken.id == *id) {
                return Err(PipelineError::BadOrder {
                    world: self.world,
                    detail: format!("`{id}` named twice"),
                });
            }
            sorted.push(install.clone());
        }
        if sorted.len() != installs.len() {
            let missing = installs
                .iter()
                .filter(|install| !ids.contains(&install.id.as_str()));
            let missing: Vec<&str> = missing.map(|install| install.id.as_str()).collect();
            return Err(PipelineError::BadOrder {
                world: self.world,
                detail: format!("missing {}", missing.join(", ")),
            });
        }
        *installs = sorted;
        Ok(())
    }

    /// Enable an install (clearing a tripped breaker) or disable it.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), PipelineError> {
        let install = self.get(id)?;
        let mut health = install.health.lock().unwrap();
        health.enabled = enabled;
        if enabled {
            health.tripped = false;
            health.consecutive_failures = 0;
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Arc<Install>, PipelineError> {
        let installs = self.installs.read().unwrap();
        let found = installs.iter().find(|install| install.id == id);
        found.cloned().ok_or_else(|| self.unknown(id))
    }

    pub fn status(&self) -> Vec<InstallStatus> {
        let installs = self.installs.read().unwrap();
        installs.iter().map(|install| install.status()).collect()
    }

    fn unknown(&self, id: &str) -> PipelineError {
        PipelineError::UnknownInstall {
            world: self.world,
            id: id.to_string(),
        }
    }

    fn active(&self) -> Vec<Arc<Install>> {
        let installs = self.installs.read().unwrap();
        installs
            .iter()
            .filter(|install| install.active())
            .cloned()
            .collect()
    }

    /// Price a basket through every active pricing install, in order.
    pub fn quote(&self, request: QuoteRequest, now: i64) -> PricedBasket {
        assert_eq!(
            self.world,
            World::Pricing,
            "quote on a {} pipeline",
            self.world
        );
        let QuoteRequest {
            mut lines,
            customer,
        } = request;
        let mut priced = PricedBasket {
            lines: Vec::new(),
            unit_prices: Vec::new(),
            totals: Vec::new(),
            trail: Vec::new(),
            refusals: Vec::new(),
            skipped: Vec::new(),
        };
        for install in self.active() {
            // Each install sees the prices the previous ones left.
            let call = Call::Quote(QuoteRequest {
                lines,
                customer: customer.clone(),
            });
            let result = install.call(&call, now, self.breaker_threshold);
            let Call::Quote(seen) = call else {
                unreachable!("built as a quote above")
            };
            lines = seen.lines;
            match result {
                Ok(Answer::Quote(quote)) => {
                    for (line, price) in lines.iter_mut().zip(&quote.lines) {
                        line.unit_price = price.unit_price;
                    }
                    let install_id = &install.id;
                    priced
                        .trail
                        .extend(quote.adjustments.into_iter().map(|adjustment| TrailEntry {
                            install: install_id.clone(),
                            line: adjustment.line,
                            amount: adjustment.amount,
                            reason: adjustment.reason,
                        }));
                }
                Ok(_) => unreachable!("a checked pricing answer is a quote"),
                Err(failure) => match failure.skipped(&install.id) {
                    Ok(skipped) => priced.skipped.push(skipped),
                    Err(error) => priced.refusals.push(Refusal {
                        install: install.id.clone(),
                        error,
                    }),
                },
            }
        }
        priced.unit_prices = lines.iter().map(|line| line.unit_price).collect();
        priced.totals = (lines.iter())
            .map(|line| line.unit_price.saturating_mul(i64::from(line.qty)))
            .collect();
        priced.lines = lines;
        priced
    }

    /// A decision of a non-pricing world: the first active install that answers.
    pub fn decide(&self, call: &Call, now: i64) -> Result<Decided, PipelineError> {
        let active = self.active();
        if active.is_empty() {
            return Err(PipelineError::NoInstall { world: self.world });
        }
        let mut skipped = Vec::new();
        for install in active {
            match install.call(call, now, self.breaker_threshold) {
                Ok(answer) => {
                    return Ok(Decided {
                        install: install.id.clone(),
                        answer,
                        skipped,
                    });
                }
                Err(failure) => match failure.skipped(&install.id) {
                    Ok(skip) => skipped.push(skip),
                    Err(error) => {
                        return Err(PipelineError::Refused {
                            install: install.id.clone(),
                            error,
                            skipped,
                        });
                    }
                },
            }
        }
        Err(PipelineError::AllFailed {
            world: self.world,
            skipped,
        })
    }
}
