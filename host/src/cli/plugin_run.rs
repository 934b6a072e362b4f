//! `linli plugin run`: load one component, call it once with a JSON input, print the
//! answer and the fuel used.

use clap::Args;
use linli_runtime::capabilities::inventory::{FixedInventory, SkuStock};
use linli_runtime::capabilities::kv::{KvStore, MemoryKv};
use linli_runtime::capabilities::sales::{DailySales, FixedSales, SalesScope};
use linli_runtime::{
    Call, CallContext, Grants, Limits, Runtime, RuntimeConfig, StoreAccess, World,
};
use linli_store::kv::SqliteKv;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct RunArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
    /// The input: the call's argument as JSON, either bare or as
    /// {"now": <unix ms>, "config": {...}, "request": <argument>} (the format of the
    /// examples shipped with each plugin), optionally with the store state the granted
    /// capabilities read: "kv": {key: text}, "stock": [...], "sales": {"sku": {...},
    /// "category": {...}}. `-` reads standard input.
    #[arg(long, short)]
    input: PathBuf,
    /// A setting of the install, `key=value`; repeat for more. Overrides the input's
    /// "config".
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Keep the plugin's kv state in this SQLite file (created if missing), so that it
    /// persists from one run to the next; without it, kv starts from the input's "kv"
    /// and is forgotten.
    #[arg(long, value_name = "FILE")]
    kv_db: Option<PathBuf>,
    /// Grant a capability (kv, inventory-read, sales-read); repeat for more. A plugin
    /// importing a capability it was not granted is refused.
    #[arg(long = "grant", value_name = "CAPABILITY")]
    grants: Vec<String>,
    /// Insist on the plugin's world (pricing, presale, elderly-delivery,
    /// recycling-points, data-sharing); by default it is read from the component.
    #[arg(long)]
    world: Option<String>,
    /// The function to call, for worlds with several (recycling-points: on-return,
    /// on-redeem); by default the one the input fits.
    #[arg(long)]
    call: Option<String>,
    /// The request time: unix milliseconds or RFC 3339 (2026-11-25T10:00:00+08:00).
    /// Overrides the input's "now"; default: the current time.
    #[arg(long)]
    now: Option<String>,
    /// Instruction budget of the call.
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Memory cap of the call, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_mib: usize,
    /// Wall-clock deadline of the call, in milliseconds.
    #[arg(long, default_value_t = Limits::default().deadline_ms)]
    deadline_ms: u64,
}

/// Exit codes: 0 the plugin answered; 1 the plugin refused (its policy-error);
/// 2 the call could not be made or failed (bad input, bad plugin, trap, limit).
pub fn run(args: RunArgs) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("linli plugin run: {message}");
            ExitCode::from(2)
        }
    }
}

fn execute(args: RunArgs) -> Result<ExitCode, String> {
    let world = args
        .world
        .as_deref()
        .map(|name| {
            World::from_name(name)
                .ok_or_else(|| format!("--world {name}: no such world (one of {})", World::names()))
        })
        .transpose()?;
    let grants = Grants::parse(&args.grants).map_err(|err| format!("--grant: {err}"))?;
    let Envelope {
        now: file_now,
        mut config,
        state,
        request,
    } = Envelope::read(&args.input)?;

    for setting in &args.config {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--config {setting}: expected KEY=VALUE"))?;
        config.insert(key.trim().to_string(), value.to_string());
    }
    let now = match (&args.now, file_now) {
        (Some(text), _) => parse_time(text)?,
        (None, Some(now)) => now,
        (None, None) => jiff::Timestamp::now().as_millisecond(),
    };

    let runtime = Runtime::new(RuntimeConfig::default())
        .map_err(|err| format!("cannot start the plugin runtime: {err:#}"))?;
    let plugin = runtime
        .load(&args.file, world, &grants)
        .map_err(|err| err.to_string())?;
    let kv: Arc<dyn KvStore> = match &args.kv_db {
        Some(file) => {
            let conn = linli_store::open_file(file).map_err(|err| err.to_string())?;
            let conn = Arc::new(std::sync::Mutex::new(conn));
            Arc::new(SqliteKv::new(conn, plugin.name()))
        }
        None => state.kv,
    };
    let call = Call::from_json(plugin.world(), args.call.as_deref(), request).map_err(|err| {
        format!(
            "input {}: does not fit the `{}` world: {err}",
            args.input.display(),
            plugin.world()
        )
    })?;
    let context = CallContext {
        now,
        config: Arc::new(config),
        limits: Limits {
            fuel: args.fuel,
            memory_bytes: args.memory_mib << 20,
            deadline_ms: args.deadline_ms,
            ..Limits::default()
        },
        store: StoreAccess {
            kv: Some(kv.clone()),
            inventory: Some(Arc::new(state.inventory)),
            sales: Some(Arc::new(state.sales)),
        },
    };
    let outcome = plugin
        .call(&call, &context)
        .map_err(|err| err.to_string())?;

    let mut report = Map::new();
    report.insert("plugin".into(), json!(plugin.name()));
    report.insert("world".into(), json!(plugin.world()));
    report.insert("function".into(), json!(call.function()));
    let refused = outcome.answer.is_err();
    match &outcome.answer {
        Ok(answer) => report.insert("ok".into(), json!(answer)),
        Err(refusal) => report.insert("err".into(), json!(refusal)),
    };
    report.insert("fuel".into(), json!(outcome.fuel_used));
    if grants.names().any(|name| name == "kv") {
        report.insert("kv".into(), kv_snapshot(kv.as_ref())?);
    }
    if !outcome.logs.is_empty() {
        report.insert("logs".into(), json!(outcome.logs));
    }
    if outcome.logs_dropped > 0 {
        report.insert("logs_dropped".into(), json!(outcome.logs_dropped));
    }
    let text = serde_json::to_string_pretty(&Value::Object(report)).expect("JSON values print");
    println!("{text}");
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The kv state after the call, values as text, for the author to see.
fn kv_snapshot(kv: &dyn KvStore) -> Result<Value, String> {
    let failed = |err: String| format!("reading the kv state back: {err}");
    let mut snapshot = Map::new();
    for key in kv.keys("", 1000).map_err(failed)? {
        if let Some(value) = kv.get(&key).map_err(failed)? {
            snapshot.insert(key, json!(String::from_utf8_lossy(&value)));
        }
    }
    Ok(Value::Object(snapshot))
}

/// An input file: the call's argument, with the request time, settings and store state
/// beside it.
struct Envelope {
    now: Option<i64>,
    config: BTreeMap<String, String>,
    state: StoreState,
    request: Value,
}

/// The store state an example brings for the granted capabilities to read.
#[derive(Default)]
struct StoreState {
    kv: Arc<MemoryKv>,
    inventory: FixedInventory,
    sales: FixedSales,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SalesFile {
    #[serde(default)]
    sku: BTreeMap<String, Vec<DailySales>>,
    #[serde(default)]
    category: BTreeMap<String, Vec<DailySales>>,
}

impl StoreState {
    /// Read "kv", "stock" and "sales" out of an input file's top level.
    fn take(fields: &mut Map<String, Value>) -> Result<StoreState, String> {
        let mut state = StoreState::default();
        if let Some(kv) = fields.remove("kv") {
            let kv: BTreeMap<String, String> = serde_json::from_value(kv)
                .map_err(|err| format!("\"kv\": expected an object of text values: {err}"))?;
            let entries = kv.into_iter().map(|(key, value)| (key, value.into_bytes()));
            state.kv = Arc::new(MemoryKv::new(entries.collect()));
        }
        if let Some(stock) = fields.remove("stock") {
            let stock: Vec<SkuStock> = serde_json::from_value(stock)
                .map_err(|err| format!("\"stock\": expected a list of SKU stocks: {err}"))?;
            let by_sku = stock.into_iter().map(|stock| (stock.sku.clone(), stock));
            state.inventory = FixedInventory(by_sku.collect());
        }
        if let Some(sales) = fields.remove("sales") {
            let sales: SalesFile = serde_json::from_value(sales).map_err(|err| {
                format!("\"sales\": expected {{\"sku\": {{..}}, \"category\": {{..}}}}: {err}")
            })?;
            let skus = sales
                .sku
                .into_iter()
                .map(|(name, days)| ((SalesScope::Sku, name), days));
            let categories = (sales.category.into_iter())
                .map(|(name, days)| ((SalesScope::Category, name), days));
            state.sales = FixedSales(skus.chain(categories).collect());
        }
        Ok(state)
    }
}

impl Envelope {
    fn read(path: &Path) -> Result<Envelope, String> {
        Envelope::split(read_json(path)?, path)
    }

    /// Split `{"now", "config", "request"}` into its parts; any other JSON is a bare
    /// request.
    fn split(input: Value, path: &Path) -> Result<Envelope, String> {
        let bare = |request| Envelope {
            now: None,
            config: BTreeMap::new(),
            state: StoreState::default(),
            request,
        };
        let Value::Object(mut fields) = input else {
            return Ok(bare(input));
        };
        let Some(request) = fields.remove("request") else {
            return Ok(bare(Value::Object(fields)));
        };
        let bad = |what: String| format!("input {}: {what}", path.display());
        let now = match fields.remove("now") {
            None | Some(Value::Null) => None,
            Some(Value::Number(number)) => Some(
                number
                    .as_i64()
                    .ok_or_else(|| bad(format!("\"now\": {number} is not unix milliseconds")))?,
            ),
            Some(Value::String(text)) => Some(parse_time(&text).map_err(bad)?),
            Some(other) => {
                return Err(bad(format!(
                    "\"now\": expected unix milliseconds, got {other}"
                )));
            }
        };
        let mut config = BTreeMap::new();
        match fields.remove("config") {
            None | Some(Value::Null) => {}
            Some(Value::Object(settings)) => {
                for (key, value) in settings {
                    let text = match value {
                        Value::String(text) => text,
                        Value::Number(_) | Value::Bool(_) => value.to_string(),
                        other => {
                            return Err(bad(format!(
                                "\"config\".{key}: settings are text, numbers or booleans, got {other}"
                            )));
                        }
                    };
                    config.insert(key, text);
                }
            }
            Some(other) => return Err(bad(format!("\"config\": expected an object, got {other}"))),
        }
        let state = StoreState::take(&mut fields).map_err(bad)?;
        if let Some(key) = fields.keys().next() {
            return Err(bad(format!(
                "unknown top-level key \"{key}\" beside \"request\" (expected now, config, kv, stock, sales)"
            )));
        }
        Ok(Envelope {
            now,
            config,
            state,
            request,
        })
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|err| format!("input (stdin): cannot read: {err}"))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|err| format!("input {}: cannot read: {err}", path.display()))?
    };
    serde_json::from_str(&text)
        .map_err(|err| format!("input {}: not valid JSON: {err}", path.display()))
}

fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(millis) = text.trim().parse::<i64>() {
        return Ok(millis);
    }
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|time| time.as_millisecond())
        .map_err(|err| format!("time {text:?}: expected unix milliseconds or RFC 3339 ({err})"))
}
