//! The plugin runtime: one wasmtime engine per process; a plugin is compiled (or read
//! from the on-disk cache), checked against its world and the capabilities it imports,
//! and pre-instantiated once; every call then runs in a fresh instance with its own
//! fuel budget, memory cap and deadline, so no call can see another's state and a
//! runaway call costs only itself.
//!
//! Read top-down: [`Runtime::new`] configures the engine, [`Runtime::load`] turns a
//! `.wasm` file into a [`Plugin`], [`Plugin::call`] runs one call.

pub mod bindings;
pub mod capabilities;
mod contract;
mod error;
mod limits;
pub mod pipeline;
pub mod shadow;
mod wire;
mod world;
pub mod worlds;

pub use capabilities::log::LogLine;
pub use capabilities::{Grants, StoreAccess};
pub use error::{CallError, LoadError};
pub use limits::Limits;
pub use wire::WireSize;
pub use world::{Answer, AnswerOf, Call, World};
pub use worlds::*;

use bindings::types::PolicyError;
use capabilities::{CallSetup, CallState};
use limits::MemoryCapExceeded;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use world::{Failure, WorldPre};

/// Memory per slot kept resident between calls: a policy's stack, data and small heap.
const KEEP_RESIDENT: usize = 2 << 20;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How the runtime is set up for a process.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are kept between runs (keyed by the wasm's digest and
    /// the engine's build), so a restart does not recompile. `None`: always compile.
    pub cache_dir: Option<PathBuf>,
    /// Calls that may run at the same time (the size of the instance pool).
    pub max_concurrent_calls: u32,
    /// The largest memory cap any install may be given; each slot of the pool is
    /// reserved for this size.
    pub max_memory_bytes: usize,
    /// Components larger than this are refused before they are compiled: compiling
    /// costs time and memory in proportion to the code.
    pub max_component_bytes: usize,
    /// Where components are compiled.
    pub compiler: Compiler,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_concurrent_calls: 128,
            max_memory_bytes: 64 << 20,
            max_component_bytes: 16 << 20,
            compiler: Compiler::InProcess,
        }
    }
}

/// Where a component is compiled. Compiling cannot be interrupted in process, so a
/// host that takes components from others (the daemon) compiles in a child process it
/// can stop; tools that compile the author's own component compile in process.
#[derive(Debug, Clone)]
pub enum Compiler {
    InProcess,
    /// `program args… INPUT OUTPUT`, which must write to OUTPUT what
    /// [`Runtime::precompile`] returns for INPUT under the same [`RuntimeConfig`]; it is
    /// killed after `timeout`.
    Subprocess {
        program: PathBuf,
        args: Vec<String>,
        timeout: Duration,
    },
}

/// The engine and linker shared by every plugin of the process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache_dir: Option<PathBuf>,
    max_component_bytes: usize,
    compiler: Compiler,
    /// Held while a component compiles: one compile at a time, so installs arriving
    /// together cannot take every core from the till.
    compiling: std::sync::Mutex<()>,
}

/// The engine's configuration: the same for the runtime and for [`Runtime::precompile`]
/// in a compiler process, so that what one compiles the other can load.
fn engine_config(config: &RuntimeConfig) -> Config {
    let mut engine_config = Config::new();
    // Fuel makes an endless loop a typed error after a bounded number of
    // instructions, and tells plugin authors what a call costs.
    engine_config.consume_fuel(true);
    // Epochs stop a call that is slow without burning fuel (say, stuck in a host
    // call) at its wall-clock deadline.
    engine_config.epoch_interruption(true);
    // Deep recursion traps as a stack overflow well before the host's own stack.
    engine_config.max_wasm_stack(512 << 10);
    // A pool of pre-reserved instance slots with copy-on-write memory images makes
    // a fresh instance per call cost microseconds.
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(config.max_concurrent_calls);
    pool.total_core_instances(config.max_concurrent_calls * 4);
    pool.total_memories(config.max_concurrent_calls * 2);
    pool.total_tables(config.max_concurrent_calls * 4);
    pool.max_memory_size(config.max_memory_bytes);
    // Reuse a slot without page faults: keep the low memory resident and reset only
    // the pages a call dirtied (PAGEMAP_SCAN where the kernel has it, else memset).
    pool.linear_memory_keep_resident(KEEP_RESIDENT);
    pool.table_keep_resident(64 << 10);
    pool.pagemap_scan(wasmtime::Enabled::Auto);
    engine_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    engine_config.memory_init_cow(true);
    engine_config
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Runtime> {
        let engine = Engine::new(&engine_config(&config))?;

        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker)?;

        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("linli-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(wasmtime::Error::new)?;

        Ok(Runtime {
            engine,
            linker,
            cache_dir: config.cache_dir,
            max_component_bytes: config.max_component_bytes,
            compiler: config.compiler,
            compiling: std::sync::Mutex::new(()),
        })
    }

    /// Compile a component to the bytes a runtime of the same `config` loads: the work
    /// of a compiler process ([`Compiler::Subprocess`]).
    pub fn precompile(config: &RuntimeConfig, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
        let engine = Engine::new(&engine_config(config))?;
        engine.precompile_component(wasm)
    }

    /// Load a plugin from a `.wasm` file. `expect` insists on a world; otherwise the
    /// world is read from what the component exports. The component may import only
    /// the capabilities in `grants` (and the always-granted ones).
    pub fn load(
        &self,
        path: &Path,
        expect: Option<World>,
        grants: &Grants,
    ) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.load_bytes(&name, path, &bytes, expect, grants)
    }

    /// Load a plugin from its bytes; `name` tags its logs and errors, `path` is where
    /// it came from, for messages.
    pub fn load_bytes(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        expect: Option<World>,
        grants: &Grants,
    ) -> Result<Plugin, LoadError> {
        let component = self.compile(path, bytes)?;
        let contract::Contract { world, imports } =
            contract::check(&self.engine, &component, path, expect, grants)?;
        let instance_pre =
            self.linker
                .instantiate_pre(&component)
                .map_err(|err| LoadError::Contract {
                    path: path.to_owned(),
                    what: format!("does not fit the host's linli:policy imports: {err:#}"),
                })?;
        let exports_differ = |err: &dyn std::fmt::Display| LoadError::Contract {
            path: path.to_owned(),
            what: format!("its `{world}` exports do not match linli:policy@0.1: {err:#}"),
        };
        let pre = WorldPre::new(world, instance_pre).map_err(|err| exports_differ(&err))?;
        let plugin = Plugin {
            name: Arc::from(name),
            world,
            digest: hex::encode(Sha256::digest(bytes)),
            imports,
            engine: self.engine.clone(),
            pre,
        };
        // Start it once, within the default limits: the type of every export is checked
        // (a wrong signature is refused now, not at the first call of a store), and a
        // component whose start-up code loops or allocates without end never installs.
        let context = CallContext {
            limits: Limits::default(),
            ..CallContext::default()
        };
        plugin.probe(&context).map_err(|err| match err {
            CallError::Exports { reason, .. } => exports_differ(&reason),
            err => LoadError::Start {
                path: path.to_owned(),
                error: Box::new(err),
            },
        })?;
        Ok(plugin)
    }

    /// Compile a component, or read it back from the cache.
    fn compile(&self, path: &Path, bytes: &[u8]) -> Result<Component, LoadError> {
        if !bytes.starts_with(b"\0asm") || bytes.len() < 8 {
            return Err(LoadError::NotWasm {
                path: path.to_owned(),
            });
        }
        // Bytes 4..8: version 1 is a core module; components use a layer of 1.
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(LoadError::CoreModule {
                path: path.to_owned(),
            });
        }
        if bytes.len() > self.max_component_bytes {
            return Err(LoadError::TooLarge {
                path: path.to_owned(),
                size: bytes.len(),
                cap: self.max_component_bytes,
            });
        }
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(self.cache_key(bytes)));
        if let Some(cached) = cached.as_ref().filter(|cached| cached.exists()) {
            // SAFETY: the cache directory is the host's own; files in it were written
            // by this engine build's compiler (the key includes the engine's
            // compatibility hash). A damaged file fails to deserialize and is
            // recompiled below.
            match unsafe { Component::deserialize_file(&self.engine, cached) } {
                Ok(component) => return Ok(component),
                Err(err) => tracing::warn!(
                    file = %cached.display(),
                    "compiled-component cache entry unreadable, recompiling: {err:#}"
                ),
            }
        }
        let _one_at_a_time = self.compiling.lock().unwrap_or_else(|err| err.into_inner());
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let compiled = match &self.compiler {
            Compiler::InProcess => {
                Component::new(&self.engine, bytes).map_err(|err| invalid(format!("{err:#}")))?
            }
            Compiler::Subprocess {
                program,
                args,
                timeout,
            } => {
                let artifact =
                    compile_in_child(program, args, *timeout, bytes).map_err(|failure| {
                        match failure {
                            ChildFailure::Refused(reason) => invalid(reason),
                            ChildFailure::TimedOut => LoadError::CompileTimeout {
                                path: path.to_owned(),
                                seconds: timeout.as_secs_f64(),
                            },
                            ChildFailure::Io(err) => LoadError::Compiler {
                                path: path.to_owned(),
                                reason: err.to_string(),
                            },
                        }
                    })?;
                // SAFETY: the compiler process is this host's own (`program`, set by
                // the host, runs `Runtime::precompile` under the same configuration);
                // what it wrote is checked for this engine's compatibility on load.
                unsafe { Component::deserialize(&self.engine, &artifact) }.map_err(|err| {
                    LoadError::Compiler {
                        path: path.to_owned(),
                        reason: format!("its output does not load: {err:#}"),
                    }
                })?
            }
        };
        if let Some(cached) = &cached
            && let Err(err) = write_cache_entry(&compiled, cached)
        {
            tracing::warn!(file = %cached.display(), "could not cache compiled component: {err:#}");
        }
        Ok(compiled)
    }

    /// The cache file name: the wasm's digest and the engine's compatibility hash, so
    /// another wasmtime build or configuration never reads this one's artifacts.
    fn cache_key(&self, bytes: &[u8]) -> String {
        let mut engine_hash = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        format!(
            "{}-{:016x}.cwasm",
            hex::encode(Sha256::digest(bytes)),
            engine_hash.finish()
        )
    }
}

fn write_cache_entry(component: &Component, cached: &Path) -> wasmtime::Result<()> {
    let dir = cached
        .parent()
        .expect("cache entries live in the cache directory");
    std::fs::create_dir_all(dir).map_err(wasmtime::Error::new)?;
    // Write then rename: a concurrent reader never sees half a file.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(wasmtime::Error::new)?;
    file.write_all(&component.serialize()?)
        .map_err(wasmtime::Error::new)?;
    file.persist(cached).map_err(wasmtime::Error::new)?;
    Ok(())
}

/// Why a compiler process gave no component.
enum ChildFailure {
    /// It ran and refused the component (the reason is what it wrote to stderr).
    Refused(String),
    TimedOut,
    Io(std::io::Error),
}

/// Run a compiler process on `wasm` and return what it wrote, killing it after
/// `timeout`.
fn compile_in_child(
    program: &Path,
    args: &[String],
    timeout: Duration,
    wasm: &[u8],
) -> Result<Vec<u8>, ChildFailure> {
    let dir = tempfile::tempdir().map_err(ChildFailure::Io)?;
    let input = dir.path().join("component.wasm");
    let output = dir.path().join("component.cwasm");
    std::fs::write(&input, wasm).map_err(ChildFailure::Io)?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .arg(&input)
        .arg(&output)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| {
            ChildFailure::Io(std::io::Error::new(
                err.kind(),
                format!("cannot start the compiler {}: {err}", program.display()),
            ))
        })?;
    // The child's stderr is read on a thread of its own, so a chatty child cannot
    // block on a full pipe while this thread waits for it to exit.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        })
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait().map_err(ChildFailure::Io)? {
            Some(status) => break status,
            None if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ChildFailure::TimedOut);
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let said = stderr
        .and_then(|reader| reader.join().ok())
        .unwrap_or_default();
    if !status.success() {
        let said = said.trim();
        return Err(ChildFailure::Refused(if said.is_empty() {
            format!("the compiler process ended with {status}")
        } else {
            said.to_string()
        }));
    }
    std::fs::read(&output).map_err(ChildFailure::Io)
}

/// What a call runs with besides its argument.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The request time every clock of the plugin reads (unix ms).
    pub now: i64,
    /// The install's settings.
    pub config: Arc<BTreeMap<String, String>>,
    pub limits: Limits,
    /// The store state the install may read or write.
    pub store: StoreAccess,
}

/// The result of a call that ran to the end.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The plugin's answer (checked), or its own refusal.
    pub answer: Result<Answer, PolicyError>,
    /// Instructions the call used (fuel).
    pub fuel_used: u64,
    pub logs: Vec<LogLine>,
    /// Log messages over the per-call cap, not kept.
    pub logs_dropped: usize,
}

/// A loaded plugin: one component, checked and pre-instantiated, ready for calls from
/// any thread.
pub struct Plugin {
    name: Arc<str>,
    world: World,
    digest: String,
    imports: Vec<String>,
    engine: Engine,
    pre: WorldPre,
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn world(&self) -> World {
        self.world
    }

    /// sha256 of the component's bytes, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Everything the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The grantable capabilities the component uses (`kv`, `inventory-read`,
    /// `sales-read`).
    pub fn capabilities(&self) -> Vec<&'static str> {
        let used = |name: &&str| {
            self.imports
                .iter()
                .any(|import| import.starts_with(&format!("linli:policy/{name}@")))
        };
        Grants::grantable().into_iter().filter(used).collect()
    }

    /// The same component under another name: an install's, so that its errors and
    /// log lines say which install (two installs of one bundle read apart).
    pub fn named(&self, name: &str) -> Plugin {
        Plugin {
            name: Arc::from(name),
            world: self.world,
            digest: self.digest.clone(),
            imports: self.imports.clone(),
            engine: self.engine.clone(),
            pre: self.pre.clone(),
        }
    }

    /// Start an instance with the install's limits, check its exports' types and drop
    /// it, calling nothing: shows at load and install time that the component can
    /// start within its limits (its initial memory fits the cap, its start-up code
    /// ends), and measures instantiation alone.
    pub fn probe(&self, context: &CallContext) -> Result<(), CallError> {
        let mut store = self.store(context);
        self.pre
            .instantiate_checked(&mut store)
            .map_err(|failure| self.classify(failure, &context.limits, &store))
    }

    /// A fresh store for one call, with the call's limits on.
    fn store(&self, context: &CallContext) -> Store<CallState> {
        let limits = context.limits;
        let state = CallState::new(&CallSetup {
            plugin: &self.name,
            context,
        });
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled on the engine");
        let ticks = limits.deadline_ms.div_ceil(EPOCH_TICK.as_millis() as u64);
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();
        store
    }

    /// Run one call in a fresh instance.
    pub fn call(&self, call: &Call, context: &CallContext) -> Result<CallOutcome, CallError> {
        let limits = context.limits;
        if call.world() != self.world {
            return Err(CallError::WrongCall {
                plugin: self.name.to_string(),
                world: self.world,
                function: call.function(),
            });
        }
        let input = call.wire_size();
        if input > limits.max_input_bytes {
            return Err(CallError::InputTooLarge {
                plugin: self.name.to_string(),
                input,
                cap: limits.max_input_bytes,
            });
        }

        let mut store = self.store(context);
        let result = self.pre.run(&mut store, call);
        let fuel_used = limits.fuel - store.get_fuel().unwrap_or(0);
        let answer = result.map_err(|err| self.classify(err, &limits, &store))?;
        if let Ok(answer) = &answer {
            let bad_output = |what: String| CallError::BadOutput {
                plugin: self.name.to_string(),
                function: call.function(),
                what,
            };
            answer.check(call).map_err(bad_output)?;
            let output = answer.wire_size();
            if output > limits.max_output_bytes {
                return Err(bad_output(format!(
                    "{output} byte answer is over the {} byte cap",
                    limits.max_output_bytes
                )));
            }
        }
        // Only a call that answered keeps its kv writes (a refusal is an answer too).
        let plugin = &self.name;
        store
            .data_mut()
            .kv
            .commit()
            .map_err(|what| CallError::Host {
                plugin: plugin.to_string(),
                what: format!("could not save its kv writes: {what}"),
            })?;
        let log = std::mem::replace(
            &mut store.data_mut().log,
            capabilities::log::CallLog::new(self.name.clone()),
        );
        Ok(CallOutcome {
            answer,
            fuel_used,
            logs: log.lines,
            logs_dropped: log.dropped,
        })
    }

    /// Turn a failed call into the error that says what happened.
    fn classify(&self, failure: Failure, limits: &Limits, store: &Store<CallState>) -> CallError {
        let plugin = self.name.to_string();
        let (err, instantiating) = match failure {
            Failure::Instantiate(err) => (err, true),
            Failure::Exports(err) => {
                return CallError::Exports {
                    plugin,
                    reason: format!("{err:#}"),
                };
            }
            Failure::Run(err) => (err, false),
        };
        if let Some(cap) = err.downcast_ref::<MemoryCapExceeded>() {
            return CallError::MemoryLimit {
                plugin,
                requested: cap.requested,
                cap: cap.cap,
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => CallError::OutOfFuel {
                plugin,
                budget: limits.fuel,
            },
            Some(Trap::Interrupt) => CallError::Deadline {
                plugin,
                deadline_ms: limits.deadline_ms,
            },
            Some(Trap::StackOverflow) => CallError::StackOverflow { plugin },
            Some(trap) => CallError::Trap {
                plugin,
                trap: trap.to_string(),
                stderr: store.data().wasi.stderr(),
            },
            // Not a trap while starting: the pool is full, or the like.
            None if instantiating => CallError::Instantiate {
                plugin,
                reason: format!("{err:#}"),
            },
            None => CallError::Trap {
                plugin,
                trap: format!("{err:#}"),
                stderr: store.data().wasi.stderr(),
            },
        }
    }
}
