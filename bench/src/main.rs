//! `linli-bench`: the whole store host measured as a store runs it — the release
//! `linli daemon` as a process, real HTTP over loopback, a real SQLite file — each
//! figure next to a baseline measured in the same run:
//!
//! 1. checkout quotes (20-line baskets through every pricing install) under `wrk` at
//!    32 connections, against the same server's `/healthz`, in alternating rounds;
//! 2. sensor ingest over HTTP in batches of 500 (a batch counts once it is answered,
//!    that is after its commit), against a bare rusqlite insert loop of the same rows
//!    into a database of the same schema and settings;
//! 3. cold start to a ready `/healthz` with the compiled-component cache warm, against
//!    the same start with the cache removed;
//! 4. resident memory after start and after the quote load;
//! 5. quotes with a hostile pricing install in the pipeline (breaker on, and off so
//!    that every quote calls it): p99 against the clean quote load, peak memory;
//! 6. the alliance sync drain: a backlog of 100,000 outbox events pushed by the daemon
//!    to a real `linli-registry serve` (signed batches of 500 over HTTP, each applied
//!    and acknowledged), against the registry's own `events::receive` applying the
//!    same events in batches of 500 in-process on a fresh database.
//!
//! The batch trace on a year of sales is `cargo bench -p linli-store --bench store`.
//! `scripts/bench` runs both and installs `wrk` when it is missing.

use clap::Parser;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Measure the store host against baselines in one run")]
struct Args {
    /// The `linli` binary to measure (default: the one next to this benchmark).
    #[arg(long)]
    linli: Option<PathBuf>,
    /// Seconds each `wrk` run and the sensor ingest last.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Alternating rounds of `/healthz` then quotes: the figures are the rounds'
    /// medians, so a drift of the machine during the run (this VM's rates move ±15%
    /// from minute to minute) weighs on the baseline and the quotes alike.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent connections of the quote load.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Daemon starts measured for each of warm and cold.
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// Outbox events in the backlog the daemon drains to the alliance server.
    #[arg(long, default_value_t = 100_000)]
    drain_events: i64,
    /// Measure only the alliance drain (and its baseline).
    #[arg(long)]
    drain_only: bool,
    /// The hostile pricing component (`tests/hostile/pricing`, built by
    /// `scripts/bench`) installed for the quotes-under-attack rows.
    #[arg(
        long,
        default_value = "target/plugins/wasm32-wasip2/plugin/hostile_pricing.wasm"
    )]
    hostile: PathBuf,
    /// What the hostile install does on every quote (its `mode`: `memory-bomb`,
    /// `random-bomb`, `spin`, `host-loop`, ...).
    #[arg(long, default_value = "memory-bomb")]
    hostile_mode: String,
}

fn main() {
    let args = Args::parse();
    if let Err(err) = run(&args) {
        eprintln!("linli-bench: {err}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let linli = match &args.linli {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|err| format!("cannot find this benchmark's binary: {err}"))?
            .with_file_name("linli"),
    };
    if !linli.exists() {
        return Err(format!(
            "{}: no such binary; build it with `cargo build --release -p linli` or pass --linli",
            linli.display()
        ));
    }
    let work = tempfile::tempdir().map_err(|err| format!("temporary directory: {err}"))?;
    let mut table = Vec::new();
    if !args.drain_only {
        store_host(&linli, work.path(), args, &mut table)?;
    }

    let drain = alliance_drain(&linli, &work.path().join("drain"), args.drain_events)?;
    let bare = bare_receive(&linli, &work.path().join("bare-receive"), args.drain_events)?;
    let share = drain.rate() / bare.rate();
    table.push(
        Row::new(
            &format!("alliance drain, {} events: events/s", args.drain_events),
            format!("{:.0}", drain.rate()),
        )
        .against(
            "registry receive_events in-process",
            format!("{:.0}", bare.rate()),
            share,
            "",
            true,
        ),
    );
    table.push(
        Row::new(
            "alliance drain: daemon start to all acknowledged",
            format!("{:.2} s", drain.since_start.as_secs_f64()),
        )
        .note(format!(
            "first acknowledgement after {}",
            ms(drain.to_first_ack)
        )),
    );

    println!();
    println!(
        "linli-bench: {} s per load, {} connections, {} starts each, {} events drained",
        args.seconds, args.connections, args.starts, args.drain_events
    );
    println!();
    println!("| measure | linli | baseline | baseline value | ratio | target | |");
    println!("|---|---:|---|---:|---:|---|---|");
    for row in &table {
        println!("{row}");
    }
    Ok(())
}

/// Starts, memory, quotes under `wrk` and sensor ingest of the daemon on a demo store
/// in `work`: their rows.
fn store_host(linli: &Path, work: &Path, args: &Args, table: &mut Vec<Row>) -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed: `apt-get install wrk` (scripts/bench does)".into());
    }
    let data_dir = work.join("data");

    // The first start makes the database, seeds the demo store and compiles the five
    // reference plugins into the cache; it is not measured.
    Daemon::start(linli, &data_dir)?.stop()?;
    let cold = median_start(linli, &data_dir, args.starts, true)?;
    let warm = median_start(linli, &data_dir, args.starts, false)?;
    table.push(
        Row::new("cold start to /healthz, cache warm", ms(warm)).against(
            "cache cold",
            ms(cold),
            warm.as_secs_f64() / cold.as_secs_f64(),
            "≤ 300 ms",
            warm <= Duration::from_millis(300),
        ),
    );

    let daemon = Daemon::start(linli, &data_dir)?;
    let started_rss = daemon.memory()?;
    table.push(
        Row::new("resident memory after start", mib(started_rss.rss))
            .target("≤ 64 MiB", started_rss.rss <= 64 << 20),
    );

    let basket = basket(&daemon, 20)?;
    let script = work.join("quote.lua");
    std::fs::write(&script, wrk_post_script(&basket))
        .map_err(|err| format!("{}: {err}", script.display()))?;
    let mut healths = Vec::new();
    let mut quotes = Vec::new();
    for _ in 0..args.rounds.max(1) {
        healths.push(wrk(&daemon.url("/healthz"), None, args)?);
        let quote = wrk(&daemon.url("/v1/checkout/quote"), Some(&script), args)?;
        if quote.errors > 0 {
            return Err(format!(
                "{} of the quote requests failed; the load is not a measure",
                quote.errors
            ));
        }
        quotes.push(quote);
    }
    let shares: Vec<f64> = (quotes.iter().zip(&healths))
        .map(|(quote, health)| quote.requests_per_second / health.requests_per_second)
        .collect();
    let share = median(&shares);
    let (health, quote) = (Load::median(&healths), Load::median(&quotes));
    let each_round: Vec<String> = shares.iter().map(|share| format!("{share:.2}")).collect();
    println!(
        "quotes vs /healthz in {} alternating rounds of {} s: {}",
        shares.len(),
        args.seconds,
        each_round.join(", ")
    );
    table.push(
        Row::new(
            "quote, 20 lines: requests/s",
            format!("{:.0}", quote.requests_per_second),
        )
        .against(
            "/healthz",
            format!("{:.0}", health.requests_per_second),
            share,
            "≥ 40% of /healthz",
            share >= 0.4,
        ),
    );
    table.push(Row::new("quote, 20 lines: p50", ms(quote.p50)).against(
        "/healthz",
        ms(health.p50),
        quote.p50.as_secs_f64() / health.p50.as_secs_f64(),
        "",
        true,
    ));
    table.push(Row::new("quote, 20 lines: p99", ms(quote.p99)).against(
        "/healthz",
        ms(health.p99),
        quote.p99.as_secs_f64() / health.p99.as_secs_f64(),
        "≤ 5 ms",
        quote.p99 <= Duration::from_millis(5),
    ));
    let loaded_rss = daemon.memory()?;
    table.push(
        Row::new("resident memory after the quote load", mib(loaded_rss.rss))
            .note(format!("peak {}", mib(loaded_rss.peak))),
    );

    let ingest = ingest_over_http(&daemon, Duration::from_secs(args.seconds))?;
    daemon.stop()?;
    under_attack(linli, work, args, &basket, &quote, table)?;
    let bare = bare_inserts(&work.join("bare"), ingest.readings)?;
    let share = ingest.rate() / bare.rate();
    table.push(
        Row::new(
            "sensor ingest, batches of 500: readings/s",
            format!("{:.0}", ingest.rate()),
        )
        .against(
            "bare rusqlite inserts",
            format!("{:.0}", bare.rate()),
            share,
            "≥ 100k/s and ≥ 50% of bare",
            ingest.rate() >= 100_000.0 && share >= 0.5,
        ),
    );

    Ok(())
}

/// Quotes with a hostile pricing install in the pipeline, on a store of its own: once
/// with the circuit breaker as shipped (it trips the install after five failures
/// in a row), once with the breaker out of the way (`breaker-threshold` = 10⁹), so that
/// every quote calls the hostile install: the daemon's p99 and peak resident memory,
/// against the quote load of the store without it (`clean`).
fn under_attack(
    linli: &Path,
    work: &Path,
    args: &Args,
    basket: &serde_json::Value,
    clean: &Load,
    table: &mut Vec<Row>,
) -> Result<(), String> {
    let wasm = std::fs::read(&args.hostile).map_err(|err| {
        format!(
            "{}: {err}; build it with `scripts/bench` or pass --hostile",
            args.hostile.display()
        )
    })?;
    let key = linli_sdk::bundle::SecretKey::generate().map_err(|err| err.to_string())?;
    let manifest = "name = \"bench/hostile\"\nversion = \"1.0.0\"\nworld = \"pricing\"\n\
                    policy = \"^0.1\"\ncapabilities = []\n\
                    description = \"Misbehaves on every quote as its mode says.\"\n\
                    license = \"Apache-2.0\"\nauthors = [\"linli-bench\"]\n\
                    [config.mode]\ntype = \"string\"\ndescription = \"What to do.\"\n";
    let bundle = linli_sdk::bundle::Bundle::new(manifest, wasm, Some(&key))
        .and_then(|bundle| bundle.to_archive())
        .map_err(|err| format!("the hostile bundle: {err}"))?;
    let script = work.join("attack.lua");
    std::fs::write(&script, wrk_post_script(basket))
        .map_err(|err| format!("{}: {err}", script.display()))?;
    for (name, threshold) in [
        ("breaker on", None),
        ("breaker off", Some(1_000_000_000u64)),
    ] {
        let data_dir = work.join(format!("attack-{}", name.replace(' ', "-")));
        let config = work.join(format!("attack-{}.toml", name.replace(' ', "-")));
        let breaker = threshold.map_or(String::new(), |n| format!("breaker-threshold = {n}\n"));
        std::fs::write(&config, format!("{breaker}[sensors]\nsimulator = false\n"))
            .map_err(|err| format!("{}: {err}", config.display()))?;
        let (daemon, _) =
            Daemon::timed_start(linli, &data_dir, &["--config".as_ref(), config.as_os_str()])?;
        let public = work.join("bench.pub");
        std::fs::write(&public, key.public().to_text("bench"))
            .map_err(|err| format!("{}: {err}", public.display()))?;
        let trusted = Command::new(linli)
            .args(["trust", "add"])
            .arg(&public)
            .arg("--data-dir")
            .arg(&data_dir)
            .output()
            .map_err(|err| format!("linli trust add: {err}"))?;
        if !trusted.status.success() {
            return Err(format!(
                "linli trust add: {}",
                String::from_utf8_lossy(&trusted.stderr)
            ));
        }
        daemon.send(
            "POST",
            "/v1/plugins/install/bundle",
            "application/octet-stream",
            &bundle,
        )?;
        let mode = serde_json::json!({ "mode": args.hostile_mode }).to_string();
        daemon.send(
            "PUT",
            "/v1/plugins/hostile/config",
            "application/json",
            mode.as_bytes(),
        )?;
        let load = wrk(&daemon.url("/v1/checkout/quote"), Some(&script), args)?;
        if load.errors > 0 {
            return Err(format!(
                "{} quotes failed with the hostile install ({name}): it was not contained",
                load.errors
            ));
        }
        let memory = daemon.memory()?;
        let status = daemon.get("/v1/plugins")?;
        let hostile = (status.as_array().into_iter().flatten())
            .find(|install| install["id"] == "hostile")
            .cloned()
            .unwrap_or_default();
        daemon.stop()?;
        let measure = format!("quote p99, hostile `{}` install, {name}", args.hostile_mode);
        table.push(Row::new(&measure, ms(load.p99)).against(
            "no hostile install",
            ms(clean.p99),
            load.p99.as_secs_f64() / clean.p99.as_secs_f64(),
            "≤ 100 ms",
            load.p99 <= Duration::from_millis(100),
        ));
        table.push(
            Row::new(
                &format!("peak resident memory, hostile install, {name}"),
                mib(memory.peak),
            )
            .note(format!(
                "{} quotes/s; the install failed {} of {} calls, tripped: {}",
                load.requests_per_second.round(),
                hostile["failures"],
                hostile["calls"],
                hostile["tripped"]
            ))
            .target("≤ 128 MiB", memory.peak <= 128 << 20),
        );
    }
    Ok(())
}

/// One line of the summary.
struct Row {
    measure: String,
    value: String,
    baseline: String,
    baseline_value: String,
    ratio: String,
    target: String,
    verdict: String,
}

impl Row {
    fn new(measure: &str, value: String) -> Row {
        Row {
            measure: measure.into(),
            value,
            baseline: String::new(),
            baseline_value: String::new(),
            ratio: String::new(),
            target: String::new(),
            verdict: String::new(),
        }
    }

    fn against(
        mut self,
        baseline: &str,
        value: String,
        ratio: f64,
        target: &str,
        met: bool,
    ) -> Row {
        self.baseline = baseline.into();
        self.baseline_value = value;
        self.ratio = format!("{ratio:.2}×");
        self.target(target, met)
    }

    fn target(mut self, target: &str, met: bool) -> Row {
        if !target.is_empty() {
            self.target = target.into();
            self.verdict = if met { "met" } else { "**missed**" }.into();
        }
        self
    }

    fn note(mut self, note: String) -> Row {
        self.baseline = note;
        self
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} |",
            self.measure,
            self.value,
            self.baseline,
            self.baseline_value,
            self.ratio,
            self.target,
            self.verdict
        )
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// A server process of the bench: stopped with SIGTERM when done, killed if the bench
/// fails first.
struct Server {
    child: Child,
    /// What the errors call it.
    name: String,
}

impl Server {
    /// SIGTERM, and wait for the drain to finish.
    fn stop(mut self) -> Result<(), String> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|err| format!("kill: {err}"))?;
        self.child
            .wait()
            .map_err(|err| format!("waiting for {}: {err}", self.name))?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a server that prints `<ready>URL` on stdout once it listens: the process and
/// the URL. Its stdout keeps being read so it never blocks on a full pipe.
fn spawn_ready(
    mut command: Command,
    ready: &str,
    binary: &Path,
) -> Result<(Server, String), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("{}: cannot start: {err}", binary.display()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix(ready) {
                    break url.trim().to_string();
                }
            }
            _ => {
                let _ = child.kill();
                return Err(format!("{} exited before it listened", binary.display()));
            }
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let name = binary.file_name().map_or_else(
        || binary.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    Ok((Server { child, name }, url))
}

/// A `linli daemon` process on a free loopback port.
struct Daemon {
    server: Server,
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Daemon {
    /// Start the daemon and wait until `/healthz` answers; also the time that took.
    fn start(linli: &Path, data_dir: &Path) -> Result<Daemon, String> {
        Daemon::timed_start(linli, data_dir, &[]).map(|(daemon, _)| daemon)
    }

    /// `start` with more arguments (`--config FILE`).
    fn timed_start(
        linli: &Path,
        data_dir: &Path,
        args: &[&std::ffi::OsStr],
    ) -> Result<(Daemon, Duration), String> {
        let begun = Instant::now();
        let mut command = Command::new(linli);
        command
            .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args);
        let (server, base) = spawn_ready(command, "linli daemon listening on ", linli)?;
        let token = std::fs::read_to_string(data_dir.join("admin-token"))
            .map_err(|err| format!("admin token: {err}"))?
            .trim()
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let daemon = Daemon {
            server,
            base,
            token,
            agent,
        };
        loop {
            if let Ok(response) = daemon.agent.get(&daemon.url("/healthz")).call()
                && response.status() == 200
            {
                return Ok((daemon, begun.elapsed()));
            }
            if begun.elapsed() > Duration::from_secs(60) {
                return Err("/healthz did not answer within a minute of the start".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        self.agent
            .get(&self.url(path))
            .call()
            .and_then(|mut response| response.body_mut().read_json())
            .map_err(|err| format!("GET {path}: {err}"))
    }

    /// Send `body` with the admin token; an error unless it answers 2xx.
    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {}", self.token))
            .body(body.to_vec())
            .map_err(|err| format!("{method} {path}: {err}"))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|err| format!("{method} {path}: {err}"))?;
        if !response.status().is_success() {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(format!("{method} {path}: {} {text}", response.status()));
        }
        Ok(())
    }

    /// Resident set now, and its peak, from `/proc`.
    fn memory(&self) -> Result<Memory, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.server.child.id()))
            .map_err(|err| format!("/proc status of the daemon: {err}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kib| kib * 1024)
                .ok_or_else(|| format!("/proc status of the daemon has no {name}"))
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }

    /// SIGTERM, and wait for the drain to finish.
    fn stop(self) -> Result<(), String> {
        self.server.stop()
    }
}

struct Memory {
    rss: u64,
    peak: u64,
}

/// The median time of `starts` daemon starts on an existing data directory, with the
/// compiled-component cache removed before each (`cold`) or kept.
fn median_start(
    linli: &Path,
    data_dir: &Path,
    starts: usize,
    cold: bool,
) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..starts.max(1) {
        if cold {
            let cache = data_dir.join("cache");
            if cache.exists() {
                std::fs::remove_dir_all(&cache)
                    .map_err(|err| format!("{}: {err}", cache.display()))?;
            }
        }
        let (daemon, took) = Daemon::timed_start(linli, data_dir, &[])?;
        daemon.stop()?;
        times.push(took.as_secs_f64());
    }
    Ok(Duration::from_secs_f64(median(&times)))
}

/// A basket of `lines` different SKUs with stock, one unit each, from a member.
fn basket(daemon: &Daemon, lines: usize) -> Result<serde_json::Value, String> {
    let skus = daemon.get("/v1/inventory/skus")?;
    let chosen: Vec<serde_json::Value> = skus
        .as_array()
        .into_iter()
        .flatten()
        .filter(|sku| sku["on_hand"].as_u64().unwrap_or(0) >= 1)
        .take(lines)
        .map(|sku| serde_json::json!({ "sku": sku["sku"], "qty": 1 }))
        .collect();
    if chosen.len() < lines {
        return Err(format!(
            "the demo store has {} SKUs in stock; the basket needs {lines}",
            chosen.len()
        ));
    }
    Ok(serde_json::json!({
        "lines": chosen,
        "customer": { "pseudonym": "bench-1", "elderly_or_disabled": false, "tier": "Silver" },
    }))
}

fn wrk_post_script(body: &serde_json::Value) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.headers[\"content-type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n"
    )
}

/// What one `wrk` run measured.
struct Load {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
    /// Non-2xx answers and socket errors.
    errors: u64,
}

impl Load {
    /// Each figure's median over several runs.
    fn median(runs: &[Load]) -> Load {
        let of = |figure: fn(&Load) -> f64| median(&runs.iter().map(figure).collect::<Vec<_>>());
        Load {
            requests_per_second: of(|run| run.requests_per_second),
            p50: Duration::from_secs_f64(of(|run| run.p50.as_secs_f64())),
            p99: Duration::from_secs_f64(of(|run| run.p99.as_secs_f64())),
            errors: runs.iter().map(|run| run.errors).sum(),
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn wrk(url: &str, script: Option<&Path>, args: &Args) -> Result<Load, String> {
    let mut command = Command::new("wrk");
    command
        .arg("--threads=2")
        .arg(format!("--connections={}", args.connections))
        .arg(format!("--duration={}s", args.seconds))
        .arg("--latency");
    if let Some(script) = script {
        command.arg("--script").arg(script);
    }
    let output = command
        .arg(url)
        .output()
        .map_err(|err| format!("wrk: {err}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk {url} failed: {text}"));
    }
    parse_wrk(&text).ok_or_else(|| format!("wrk {url}: cannot read its report:\n{text}"))
}

/// Read `wrk --latency`'s report: requests/s, the 50% and 99% latencies, errors.
fn parse_wrk(text: &str) -> Option<Load> {
    let value_after = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(str::trim))
    };
    let requests_per_second = value_after("Requests/sec:")?.parse().ok()?;
    let p50 = parse_latency(value_after("50%")?)?;
    let p99 = parse_latency(value_after("99%")?)?;
    let non_2xx: u64 = value_after("Non-2xx or 3xx responses:")
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    let socket_errors: u64 = value_after("Socket errors:")
        .map(|errors| {
            errors
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Some(Load {
        requests_per_second,
        p50,
        p99,
        errors: non_2xx + socket_errors,
    })
}

/// `wrk`'s latencies: `708.00us`, `17.12ms`, `1.20s`.
fn parse_latency(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1e-6)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1e-3)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text.strip_suffix('s')?, 1.0)
    };
    let seconds = number.parse::<f64>().ok()? * scale;
    Some(Duration::from_secs_f64(seconds))
}

/// Readings stored and the time it took.
struct Ingest {
    readings: u64,
    took: Duration,
}

impl Ingest {
    fn rate(&self) -> f64 {
        self.readings as f64 / self.took.as_secs_f64()
    }
}

const BATCH: usize = 500;
const DEVICES: usize = 40;

/// Reading `index` of the run: forty devices of the three kinds, in range, a second
/// apart per device, ending before `end`.
fn reading(index: u64, end: i64) -> (String, &'static str, f64, i64) {
    let device = (index % DEVICES as u64) as usize;
    let (kind, value) = match device % 3 {
        0 => ("temperature", 4.0 + (index % 7) as f64 * 0.1),
        1 => ("humidity", 55.0 + (index % 11) as f64),
        _ => ("shelf-weight", 1200.0 + (index % 13) as f64),
    };
    let at = end - 86_400_000 + (index / DEVICES as u64) as i64 * 1_000;
    (format!("bench-{device:02}"), kind, value, at)
}

/// Post batches of 500 readings from four clients for `duration`; a batch counts once
/// the daemon answered 201 (after its commit).
fn ingest_over_http(daemon: &Daemon, duration: Duration) -> Result<Ingest, String> {
    const CLIENTS: u64 = 4;
    let end = now_ms();
    let url = daemon.url("/v1/sensors/readings");
    let authorization = format!("Bearer {}", daemon.token);
    let begun = Instant::now();
    let stored = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (url, authorization, agent) = (&url, &authorization, daemon.agent.clone());
                scope.spawn(move || -> Result<u64, String> {
                    let mut stored = 0u64;
                    let mut next = client * BATCH as u64;
                    while begun.elapsed() < duration {
                        let readings: Vec<serde_json::Value> = (next..next + BATCH as u64)
                            .map(|index| {
                                let (device, kind, value, at) = reading(index, end);
                                serde_json::json!({"device": device, "kind": kind, "value": value, "at": at})
                            })
                            .collect();
                        next += CLIENTS * BATCH as u64;
                        let response = agent
                            .post(url)
                            .header("authorization", authorization)
                            .send_json(serde_json::json!({ "readings": readings }))
                            .map_err(|err| format!("POST /v1/sensors/readings: {err}"))?;
                        if response.status() != 201 {
                            return Err(format!(
                                "POST /v1/sensors/readings answered {}",
                                response.status()
                            ));
                        }
                        stored += BATCH as u64;
                    }
                    Ok(stored)
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("an ingest client panicked"))
            .sum::<Result<u64, String>>()
    })?;
    Ok(Ingest {
        readings: stored,
        took: begun.elapsed(),
    })
}

/// The baseline: the same number of rows inserted by a bare rusqlite loop, 500 to a
/// transaction, into a store database of the same schema and settings.
fn bare_inserts(dir: &Path, readings: u64) -> Result<Ingest, String> {
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let mut conn = linli_store::open(dir).map_err(|err| err.to_string())?;
    let end = now_ms();
    let begun = Instant::now();
    let mut index = 0u64;
    while index < readings {
        let tx = conn.transaction().map_err(|err| err.to_string())?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO sensor_reading (device, kind, value, at) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|err| err.to_string())?;
            for _ in 0..BATCH {
                let (device, kind, value, at) = reading(index, end);
                insert
                    .execute(rusqlite::params![device, kind, value, at])
                    .map_err(|err| err.to_string())?;
                index += 1;
            }
        }
        tx.commit().map_err(|err| err.to_string())?;
    }
    Ok(Ingest {
        readings: index,
        took: begun.elapsed(),
    })
}

/// Run a command to its end; an error naming it and its stderr when it fails.
fn run_command(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|err| format!("{command:?}: cannot start: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The `linli-registry` binary next to `linli`.
fn registry_binary(linli: &Path) -> Result<PathBuf, String> {
    let registry = linli.with_file_name("linli-registry");
    if !registry.exists() {
        return Err(format!(
            "{}: no such binary; build it with `cargo build --release -p linli-registry`",
            registry.display()
        ));
    }
    Ok(registry)
}

/// A `linli-registry serve` process on a free loopback port, and its URL.
fn start_registry(registry: &Path, data_dir: &Path) -> Result<(Server, String), String> {
    let mut command = Command::new(registry);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    spawn_ready(command, "linli-registry listening on ", registry)
}

/// The store's name at the alliance in the drain.
const DRAIN_STORE: &str = "bench-store";
const CATEGORIES: [&str; 5] = ["bakery", "beverages", "dairy", "household", "produce"];

/// Outbox event `index` of the backlog: a past day's sales per category, as the daemon
/// queues them (`daily-sales`), about 320 bytes of JSON.
fn daily_sales(index: i64) -> serde_json::Value {
    let day = jiff::civil::date(2000, 1, 1)
        .checked_add(jiff::Span::new().days(index))
        .expect("100k days after 2000 is a date");
    let categories: Vec<serde_json::Value> = CATEGORIES
        .iter()
        .enumerate()
        .map(|(rank, category)| {
            let units = 3 + (index * 7 + rank as i64 * 13) % 90;
            serde_json::json!({"category": category, "sales": units / 2 + 1, "units": units, "revenue": units * 450})
        })
        .collect();
    serde_json::json!({"day": day.to_string(), "categories": categories})
}

/// A measured drain of a backlog.
struct Drain {
    /// Events acknowledged between the first acknowledgement seen and the last.
    events: i64,
    took: Duration,
    /// From the daemon's spawn to its first acknowledged batch.
    to_first_ack: Duration,
    /// From the daemon's spawn to the whole backlog acknowledged.
    since_start: Duration,
}

impl Drain {
    fn rate(&self) -> f64 {
        self.events as f64 / self.took.as_secs_f64()
    }
}

/// A key made with `linli key new` in `dir`, registered as the store in a fresh
/// registry data directory `registry_data`.
fn register_store(
    linli: &Path,
    registry: &Path,
    dir: &Path,
    registry_data: &Path,
) -> Result<PathBuf, String> {
    let key = dir.join(format!("{DRAIN_STORE}.key"));
    if !key.exists() {
        run_command(
            Command::new(linli)
                .args(["key", "new", DRAIN_STORE])
                .current_dir(dir),
        )?;
    }
    run_command(
        Command::new(registry)
            .args(["store", "add", DRAIN_STORE, "--key"])
            .arg(dir.join(format!("{DRAIN_STORE}.pub")))
            .arg("--data-dir")
            .arg(registry_data),
    )?;
    Ok(key)
}

/// A fresh store with `events` in its outbox, put there while the daemon is down; the
/// daemon then started with `[alliance]` settings pushing to a real `linli-registry
/// serve`. Timed from the first acknowledged batch to the last, watching the
/// registry's database file (no polling over HTTP to slow the server down).
fn alliance_drain(linli: &Path, dir: &Path, events: i64) -> Result<Drain, String> {
    let registry = registry_binary(linli)?;
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let registry_data = dir.join("registry");
    let key = register_store(linli, &registry, dir, &registry_data)?;
    let (server, url) = start_registry(&registry, &registry_data)?;

    // The first start makes the store's database and its demo catalogue.
    let store_data = dir.join("store");
    Daemon::start(linli, &store_data)?.stop()?;
    {
        let mut conn = rusqlite::Connection::open(store_data.join("linli.db"))
            .map_err(|err| format!("store database: {err}"))?;
        let tx = conn.transaction().map_err(|err| err.to_string())?;
        {
            let mut insert = tx
                .prepare("INSERT INTO outbox (at, kind, payload) VALUES (?1, 'daily-sales', ?2)")
                .map_err(|err| err.to_string())?;
            let at = now_ms();
            for index in 0..events {
                insert
                    .execute(rusqlite::params![at, daily_sales(index).to_string()])
                    .map_err(|err| format!("seeding the outbox: {err}"))?;
            }
        }
        tx.commit().map_err(|err| err.to_string())?;
    }
    let config = dir.join("linli.toml");
    std::fs::write(
        &config,
        format!(
            "[sensors]\nsimulator = false\n[alliance]\nserver = \"{url}\"\nkey = \"{}\"\nstore = \"{DRAIN_STORE}\"\npush-interval-ms = 100\n",
            key.display()
        ),
    )
    .map_err(|err| format!("{}: {err}", config.display()))?;

    let watch = rusqlite::Connection::open_with_flags(
        registry_data.join(linli_registry::db::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|err| format!("registry database: {err}"))?;
    let acked = || -> Result<i64, String> {
        watch
            .query_row(
                "SELECT acked FROM alliance_store WHERE name = ?1",
                [DRAIN_STORE],
                |row| row.get(0),
            )
            .map_err(|err| format!("registry database: {err}"))
    };
    let begun = Instant::now();
    let (daemon, _) = Daemon::timed_start(
        linli,
        &store_data,
        &["--config".as_ref(), config.as_os_str()],
    )?;
    let mut first: Option<(Instant, i64)> = None;
    let ended = loop {
        let now = acked()?;
        let at = Instant::now();
        if now > 0 && first.is_none() {
            first = Some((at, now));
        }
        if now >= events {
            break at;
        }
        if begun.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "the alliance server acknowledged {now} of {events} events in ten minutes"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (first_at, first_acked) = first.expect("the loop ends after an acknowledgement");
    let kept: i64 = watch
        .query_row(
            "SELECT COUNT(*) FROM alliance_event WHERE store = ?1",
            [DRAIN_STORE],
            |row| row.get(0),
        )
        .map_err(|err| format!("registry database: {err}"))?;
    if kept != events {
        return Err(format!(
            "the registry acknowledged {events} events but keeps {kept}"
        ));
    }
    daemon.stop()?;
    server.stop()?;
    Ok(Drain {
        events: events - first_acked,
        took: ended - first_at,
        to_first_ack: first_at - begun,
        since_start: ended - begun,
    })
}

/// The baseline: the same events applied by the registry's own `events::receive`, in
/// batches of 500, in-process on a fresh registry database with the server's settings
/// (`db::open`). The events are decoded before the clock starts.
fn bare_receive(linli: &Path, dir: &Path, events: i64) -> Result<Drain, String> {
    use linli_alliance::{Envelope, Event};
    use linli_registry::{db, events};
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let registry_data = dir.join("registry");
    register_store(linli, &registry_binary(linli)?, dir, &registry_data)?;
    let mut conn = db::open(&registry_data)?;
    let at = now_ms();
    let batches: Vec<Vec<Envelope>> = (0..events)
        .map(|index| Envelope {
            seq: index + 1,
            kind: Event::DAILY_SALES.into(),
            at,
            payload: daily_sales(index),
        })
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[Envelope]>::to_vec)
        .collect();
    let begun = Instant::now();
    let mut acked = 0;
    for batch in &batches {
        acked = events::receive(&mut conn, DRAIN_STORE, batch, now_ms())
            .map_err(|err| format!("events::receive: {err}"))?;
    }
    let took = begun.elapsed();
    if acked != events {
        return Err(format!(
            "events::receive acknowledged {acked} of {events} events"
        ));
    }
    Ok(Drain {
        events,
        took,
        to_first_ack: Duration::ZERO,
        since_start: took,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_reports() {
        let report = "Running 5s test @ http://127.0.0.1:7901/v1/checkout/quote
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.04ms   11.03ms 126.68ms   67.62%
  Latency Distribution
     50%  708.00us
     75%    1.00ms
     90%    1.26ms
     99%    1.20s
  9788 requests in 5.01s, 31.35MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   1955.46
Transfer/sec:      6.26MB
";
        let load = parse_wrk(report).unwrap();
        assert_eq!(load.requests_per_second, 1955.46);
        assert_eq!(load.p50, Duration::from_micros(708));
        assert_eq!(load.p99, Duration::from_millis(1200));
        assert_eq!(load.errors, 9);
        assert!(parse_wrk("wrk: connection refused").is_none());
    }

    #[test]
    fn readings_are_in_range_and_in_the_past() {
        let end = 1_790_000_000_000;
        for index in 0..1_000 {
            let (device, kind, value, at) = reading(index, end);
            assert!(device.starts_with("bench-"));
            assert!(at < end, "{at}");
            if kind == "temperature" {
                assert!((0.0..=8.0).contains(&value), "{value}");
            }
        }
    }
}
