//! Helpers shared by the end-to-end tests: the runtime with the reference plugins, the
//! shipped examples, and the real `linli` binary.

pub mod browser;

use linli::reference::{ReferencePlugin, reference_plugin};
use linli_runtime::{CallContext, Grants, Plugin, Runtime, RuntimeConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// One runtime for the whole test binary, caching compiled components under `target/`
/// so that reruns do not recompile.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(target_dir().join("linli-test-cache")),
            ..RuntimeConfig::default()
        })
        .expect("the runtime starts")
    })
}

/// The built reference plugin `name` (crate name).
pub fn reference(name: &str) -> &'static ReferencePlugin {
    reference_plugin(name).unwrap_or_else(|| panic!("no reference plugin {name}"))
}

/// The reference plugin `name`, loaded into the shared runtime from its `.wasm` file.
pub fn load(name: &str) -> Plugin {
    runtime()
        .load(Path::new(reference(name).file), None, &Grants::none())
        .unwrap_or_else(|err| panic!("{err}"))
}

/// A shipped example of a plugin: the call context and the request JSON.
pub fn example(plugin: &str, file: &str) -> (CallContext, Value) {
    let path = workspace()
        .join("plugins")
        .join(plugin)
        .join("examples")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let mut envelope: Value = serde_json::from_str(&text).unwrap();
    let request = envelope["request"].take();
    let mut config = BTreeMap::new();
    if let Some(settings) = envelope["config"].as_object() {
        for (key, value) in settings {
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            config.insert(key.clone(), text);
        }
    }
    let context = CallContext {
        now: envelope["now"].as_i64().unwrap_or(0),
        config: Arc::new(config),
        ..CallContext::default()
    };
    (context, request)
}

/// The hostile plugin `name` (`pricing`, `kv-counter`, `escape`, `other-world`,
/// `sleeper`, `wrong-signature`; see `tests/hostile/`), built to a component once per
/// test binary.
pub fn hostile(name: &str) -> PathBuf {
    const HOSTILE: [&str; 6] = [
        "pricing",
        "kv-counter",
        "escape",
        "other-world",
        "sleeper",
        "wrong-signature",
    ];
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        // The reference plugins' target directory: the SDK and wit-bindgen are built.
        let target = target_dir().join("plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace())
            .args(["build", "--quiet", "--locked", "--profile", "plugin"])
            .args(["--target", "wasm32-wasip2", "--target-dir"])
            .arg(&target);
        for crate_name in HOSTILE {
            build.args(["-p", &format!("hostile-{crate_name}")]);
        }
        let status = build
            .status()
            .expect("run cargo build for the hostile plugins");
        assert!(status.success(), "building the hostile plugins failed");
        target.join("wasm32-wasip2").join("plugin")
    });
    dir.join(format!("hostile_{}.wasm", name.replace('-', "_")))
}

/// A component whose start-up code never ends: its core module's start function
/// loops, so instantiating it is what hangs. Rust does not emit start functions, so it
/// is assembled here. It exports the pricing interface's name with a `quote` of no
/// particular type: a host that starts it never gets as far as checking that.
pub fn start_loop_component() -> Vec<u8> {
    use wasm_encoder::{
        Alias, BlockType, CanonicalFunctionSection, CodeSection, Component, ComponentAliasSection,
        ComponentExportKind, ComponentExportSection, ComponentInstanceSection,
        ComponentTypeSection, ComponentValType, ExportKind, ExportSection, Function,
        FunctionSection, InstanceSection, Module, ModuleArg, ModuleSection, StartSection,
        TypeSection,
    };
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0).function(0);
    module.section(&functions);
    let mut exports = ExportSection::new();
    exports.export("quote", ExportKind::Func, 1);
    module.section(&exports);
    module.section(&StartSection { function_index: 0 });
    let mut code = CodeSection::new();
    let mut spin = Function::new([]);
    spin.instructions()
        .loop_(BlockType::Empty)
        .br(0)
        .end()
        .end();
    code.function(&spin);
    let mut quote = Function::new([]);
    quote.instructions().end();
    code.function(&quote);
    module.section(&code);

    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
    component.section(&instances);
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::CoreInstanceExport {
        instance: 0,
        kind: ExportKind::Func,
        name: "quote",
    });
    component.section(&aliases);
    let mut types = ComponentTypeSection::new();
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(None);
    component.section(&types);
    let mut lifted = CanonicalFunctionSection::new();
    lifted.lift(0, 0, []);
    component.section(&lifted);
    let mut interface = ComponentInstanceSection::new();
    interface.export_items([("quote", ComponentExportKind::Func, 0)]);
    component.section(&interface);
    let mut exports = ComponentExportSection::new();
    exports.export(
        "linli:policy/pricing-policy@0.1.0",
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

/// The cargo target directory this test binary was built into.
pub fn target_dir() -> PathBuf {
    // The test executable is <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// The `linli` binary, as the workspace's current sources build it.
pub fn linli() -> PathBuf {
    workspace_binary("linli")
}

/// A binary of the workspace, built once per test binary. The build asks for the same
/// targets as `cargo test --workspace` (bins and tests), so features resolve the same
/// way and everything the test run compiled is reused: only the binaries link.
fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "--quiet",
                "--locked",
                "--workspace",
                "--bins",
                "--tests",
            ])
            .arg("--target-dir")
            .arg(target_dir())
            .status()
            .expect("run cargo build for the workspace binaries");
        assert!(status.success(), "building the workspace binaries failed");
    });
    target_dir().join("debug").join(name)
}

/// Start a server process that prints `<ready_prefix>http://ADDR` on stdout once it
/// listens; its URL and what it printed on stderr until then (up to its "serving" log
/// line). Both pipes keep being drained so the server never blocks on a full pipe.
fn spawn_server(mut command: Command, ready_prefix: &str) -> (std::process::Child, String, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = match line.trim().strip_prefix(ready_prefix) {
        Some(url) => url.to_string(),
        None => {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            let _ = child.kill();
            panic!("the server did not start: {line}{stderr}");
        }
    };
    let mut stderr = child.stderr.take().unwrap();
    let (sender, startup) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let mut seen = Vec::new();
        let mut reported = false;
        while let Ok(read) = stderr.read(&mut buffer) {
            if read == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..read]);
            if !reported && String::from_utf8_lossy(&seen).contains("serving") {
                let _ = sender.send(String::from_utf8_lossy(&seen).into_owned());
                reported = true;
            }
        }
        if !reported {
            let _ = sender.send(String::from_utf8_lossy(&seen).into_owned());
        }
    });
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let startup_stderr = startup
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_default();
    (child, url, startup_stderr)
}

/// The `linli-registry` binary.
pub fn linli_registry() -> PathBuf {
    workspace_binary("linli-registry")
}

/// A running `linli-registry serve` on a free loopback port; killed when dropped.
pub struct Registry {
    child: std::process::Child,
    pub url: String,
    agent: ureq::Agent,
}

impl Registry {
    /// Serve the registry data in `data_dir`, with more arguments (`--mirror URL`).
    pub fn start(data_dir: &Path, args: &[&str]) -> Registry {
        Registry::start_on("127.0.0.1:0", data_dir, args)
    }

    /// Serve on `listen` (a port chosen before, so a restart comes back at the same URL).
    pub fn start_on(listen: &str, data_dir: &Path, args: &[&str]) -> Registry {
        let mut command = Command::new(linli_registry());
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(args);
        let (child, url, _) = spawn_server(command, "linli-registry listening on ");
        Registry {
            child,
            url,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
        }
    }

    /// GET a path; the status and the body as JSON (or text).
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        json_answer(self.agent.get(format!("{}{path}", self.url)).call())
    }

    /// A request for a path (with its query) signed by `key` now (none: unsigned), as
    /// members and stores send them; the status and the body as JSON (or text).
    pub fn signed(
        &self,
        method: &str,
        path: &str,
        key: Option<&linli_sdk::bundle::SecretKey>,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        if let Some(key) = key {
            // The signature covers the path without its query.
            let signed = path.split('?').next().unwrap_or(path);
            let authorization = key.sign_request(method, signed, now_ms(), body);
            request = request.header("authorization", authorization);
        }
        self.run(request.body(body.to_vec()).expect("a well-formed request"))
    }

    /// Run a request built by the test; the status and the body as JSON (or text).
    pub fn run(&self, request: ureq::http::Request<Vec<u8>>) -> (u16, serde_json::Value) {
        json_answer(self.agent.run(request))
    }

    /// GET a path's raw bytes.
    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("the registry answers");
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        (status, bytes)
    }

    /// SIGTERM, and wait for the exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }

    /// SIGKILL: the process dies wherever it is, a transaction half done included.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishers of an alliance: key pairs made by `linli key new` in a temporary folder,
/// and a registry data directory whose members they are.
pub struct Publishers {
    pub dir: tempfile::TempDir,
}

impl Publishers {
    /// `members`: (member, key name, namespace) added with `linli-registry member add`;
    /// `outsiders`: keys of nobody the registry knows.
    pub fn new(members: &[(&str, &str, &str)], outsiders: &[&str]) -> Publishers {
        let dir = tempfile::tempdir().unwrap();
        let keys = members
            .iter()
            .map(|(_, key, _)| *key)
            .chain(outsiders.iter().copied());
        for key in keys {
            succeed(
                Command::new(linli())
                    .args(["key", "new", key])
                    .current_dir(dir.path()),
            );
        }
        for (member, key, namespace) in members {
            succeed(
                Command::new(linli_registry())
                    .args(["member", "add", member, "--key"])
                    .arg(dir.path().join(format!("{key}.pub")))
                    .args(["--namespace", namespace, "--data-dir"])
                    .arg(dir.path().join("registry")),
            );
        }
        Publishers { dir }
    }

    /// The registry's data directory.
    pub fn registry_data(&self) -> PathBuf {
        self.dir.path().join("registry")
    }

    /// A key's secret file (`public`: its `.pub` file).
    pub fn key_file(&self, name: &str, public: bool) -> String {
        let extension = if public { "pub" } else { "key" };
        self.dir
            .path()
            .join(format!("{name}.{extension}"))
            .display()
            .to_string()
    }

    pub fn secret(&self, name: &str) -> linli_sdk::bundle::SecretKey {
        linli_sdk::bundle::SecretKey::read(Path::new(&self.key_file(name, false))).unwrap()
    }

    /// A bundle of `wasm` under the reference markdown plugin's manifest, renamed to
    /// `name`@`version` and edited by `edit`, signed by key `signer` (unsigned for none);
    /// written into the folder.
    pub fn bundle(
        &self,
        name: &str,
        version: &str,
        wasm: &[u8],
        signer: Option<&str>,
        edit: impl Fn(String) -> String,
    ) -> PathBuf {
        let manifest =
            std::fs::read_to_string(workspace().join("plugins/markdown-pricing/plugin.toml"))
                .unwrap()
                .replace(
                    "name = \"linli/markdown-pricing\"",
                    &format!("name = \"{name}\""),
                )
                .replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
        let key = signer.map(|signer| self.secret(signer));
        let bundle =
            linli_sdk::bundle::Bundle::new(&edit(manifest), wasm.to_vec(), key.as_ref()).unwrap();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&bundle.manifest_bytes, &mut hasher);
        let path = self.dir.path().join(format!(
            "{}-{version}-{}-{:x}.linli",
            name.replace('/', "-"),
            signer.unwrap_or("unsigned"),
            std::hash::Hasher::finish(&hasher)
        ));
        std::fs::write(&path, bundle.to_archive().unwrap()).unwrap();
        path
    }

    /// `linli plugin publish` with key `key`: the registry's answer, or the error line.
    pub fn publish(
        &self,
        registry: &str,
        bundle: &Path,
        key: &str,
    ) -> Result<serde_json::Value, String> {
        let output = Command::new(linli())
            .args(["plugin", "publish"])
            .arg(bundle)
            .args(["--registry", registry, "--key", &self.key_file(key, false)])
            .output()
            .unwrap();
        if output.status.success() {
            Ok(serde_json::from_slice(&output.stdout).unwrap())
        } else {
            assert_eq!(output.status.code(), Some(2));
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

/// Send `request` as it is over one connection and read the answer until the server
/// answers in full or closes it: the status line, the head lower-cased, and the body.
/// For what an HTTP client will not send (a URI past any limit, a request line that is
/// no HTTP, a head that waits for the answer before its body).
pub fn raw_http(url: &str, request: &[u8]) -> (String, String, String) {
    use std::io::{Read, Write};
    let address = url.strip_prefix("http://").expect("an http URL");
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the server");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).expect("send the request");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    // Until the daemon closes, or the answer is complete (its content-length read).
    while let Ok(read) = stream.read(&mut chunk) {
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer).to_lowercase();
        if let Some((head, body)) = text.split_once("\r\n\r\n")
            && let Some(length) = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|length| length.trim().parse::<usize>().ok())
            && body.len() >= length
            && !head.starts_with("http/1.1 100")
        {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head.to_lowercase(), body.to_string())
}

/// A server's answer: the status and the body as JSON, or as text when it is not JSON.
fn json_answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, serde_json::Value) {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, body)
}

/// Run a command to its end and insist that it succeeded: its stdout. A failure panics
/// naming the command, its exit status and what it printed on stderr.
pub fn succeed(command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?} did not start: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A loopback port free right now, for a server that has to come back at the same
/// address after a restart.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The current time in unix milliseconds, as the daemon reads it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// A running `linli daemon` on a free loopback port with its own data directory. It is
/// killed when dropped, so every test cleans up the process it started.
pub struct Daemon {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub token: String,
    /// What the daemon printed on stderr before it was ready (the admin-token line).
    pub startup_stderr: String,
    agent: ureq::Agent,
}

impl Daemon {
    /// Start the daemon on `data_dir` and wait until it listens.
    pub fn start(data_dir: &Path) -> Daemon {
        Daemon::start_with(data_dir, &[])
    }

    /// Start the daemon on `data_dir` with more arguments (`--config FILE`,
    /// `--log-json`) and wait until it listens.
    pub fn start_with(data_dir: &Path, args: &[&str]) -> Daemon {
        let mut command = Command::new(linli());
        command
            .args(["daemon", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args);
        let (child, url, startup_stderr) = spawn_server(command, "linli daemon listening on ");
        let token = std::fs::read_to_string(data_dir.join("admin-token"))
            .expect("the daemon keeps its admin token in the data directory")
            .trim()
            .to_string();
        // A fresh connection per request: a handler that answers without reading the
        // body (a 401, a 404 for an unknown install) makes the server close the
        // connection, and a pooled one could be reused just as it closes.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .build()
            .into();
        Daemon {
            child,
            url,
            token,
            startup_stderr,
            agent,
        }
    }

    /// GET a path; the status and the JSON body.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.agent.get(format!("{}{path}", self.url)).call();
        json_answer(response)
    }

    /// GET a path; the status and the body's text as sent.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("the daemon answers");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// POST JSON with the admin token.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw(path, &body.to_string(), true)
    }

    /// POST raw text, with or without the admin token.
    pub fn post_raw(&self, path: &str, body: &str, with_token: bool) -> (u16, serde_json::Value) {
        self.send("POST", path, body, with_token)
    }

    /// DELETE with the admin token.
    pub fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send("DELETE", path, "", true)
    }

    /// PUT JSON with the admin token.
    pub fn put(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.send("PUT", path, &body.to_string(), true)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: &str,
        with_token: bool,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.url);
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json");
        if with_token {
            request = request.header("authorization", format!("Bearer {}", self.token));
        }
        let request = request
            .body(body.to_string())
            .expect("a well-formed request");
        json_answer(self.agent.run(request))
    }

    /// Run a request built by the test (any method, headers and body; the test adds
    /// the token if it wants one): the status, the `content-type` and the body as JSON
    /// (or text).
    pub fn run(&self, request: ureq::http::Request<Vec<u8>>) -> (u16, String, serde_json::Value) {
        let mut response = self.agent.run(request).expect("the daemon answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, content_type, body)
    }

    /// [`raw_http`] to the daemon.
    pub fn raw(&self, request: &[u8]) -> (String, String, String) {
        raw_http(&self.url, request)
    }

    /// A request to a path of the daemon, for [`Daemon::run`].
    pub fn request(&self, method: &str, path: &str) -> ureq::http::request::Builder {
        ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }

    /// SIGKILL: the process dies wherever it is.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys that appear twice in one object anywhere in a JSON text, as `path.key`
/// (`serde_json::Value` keeps the last of duplicates, so a parse would not tell).
/// Panics when the text is not JSON.
pub fn duplicate_keys(text: &str) -> Vec<String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct Seed<'a> {
        path: String,
        found: &'a mut Vec<String>,
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
            let mut index = 0;
            while items
                .next_element_seed(Seed {
                    path: format!("{}[{index}]", self.path),
                    found: &mut *self.found,
                })?
                .is_some()
            {
                index += 1;
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = format!("{}.{key}", self.path);
                if !seen.insert(key) {
                    self.found.push(path.clone());
                }
                map.next_value_seed(Seed {
                    path,
                    found: &mut *self.found,
                })?;
            }
            Ok(())
        }
    }

    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Seed {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut deserializer)
    .unwrap_or_else(|err| panic!("not JSON ({err}): {text}"));
    found
}
