//! A headless Chromium driven through `chromedriver` over the W3C WebDriver protocol
//! (JSON over HTTP): just what the dashboard test needs — open a page, find elements by
//! CSS selector, read their text, click, type, run a script, take a screenshot.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the session is closed and `chromedriver` killed when dropped.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    agent: ureq::Agent,
}

/// The Chromium binary: `LINLI_CHROMIUM`, or Debian's `/usr/bin/chromium`.
fn chromium() -> PathBuf {
    std::env::var_os("LINLI_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether `chromedriver` runs.
fn chromedriver_runs() -> bool {
    Command::new("chromedriver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl Browser {
    /// Start `chromedriver` on a free port and open a headless Chromium session. When
    /// Chromium or chromedriver is missing: `None` with a loud message, unless `CI` is
    /// set, where a missing browser fails the test (`.ci/run` installs it).
    pub fn start() -> Option<Browser> {
        let binary = chromium();
        if !binary.exists() || !chromedriver_runs() {
            let message = format!(
                "no browser: {} and `chromedriver` are needed (apt-get install chromium chromium-driver)",
                binary.display()
            );
            if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty() && ci != "false") {
                panic!("{message}");
            }
            eprintln!("\n*** SKIPPED: {message} ***\n");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            session: String::new(),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = browser
                .agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut response| response.body_mut().read_json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-dev-shm-usage",
                    "--window-size=1400,3200", "--lang=zh-CN",
                ],
            },
        }}});
        let session = browser
            .call("POST", &format!("{base}/session"), Some(capabilities))
            .unwrap_or_else(|err| panic!("new browser session: {err}"));
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id: {session}"));
        browser.session = format!("{base}/session/{id}");
        Some(browser)
    }

    /// One WebDriver command: its `value`, or the error WebDriver named.
    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            .body(body.map(|body| body.to_string()).unwrap_or_default())
            .expect("a well-formed request");
        let mut response = self
            .agent
            .run(request)
            .map_err(|err| format!("{method} {url}: {err}"))?;
        let status = response.status().as_u16();
        let answer: Value = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_json()
            .map_err(|err| format!("{method} {url}: {err}"))?;
        if status != 200 {
            return Err(format!(
                "{method} {url}: {status} {} {}",
                answer["value"]["error"], answer["value"]["message"]
            ));
        }
        Ok(answer["value"].clone())
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call(method, &format!("{}{path}", self.session), body)
    }

    /// Load a page.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .unwrap_or_else(|err| panic!("{err}"));
    }

    /// The element a CSS selector finds first, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let found = self
            .command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        found[ELEMENT].as_str().map(str::to_string)
    }

    /// The rendered text of the first element `css` finds; none when there is none (or
    /// it was replaced while being read).
    pub fn text(&self, css: &str) -> Option<String> {
        let element = self.find(css)?;
        self.command("GET", &format!("/element/{element}/text"), None)
            .ok()?
            .as_str()
            .map(str::to_string)
    }

    /// Whether the first element `css` finds is shown.
    pub fn displayed(&self, css: &str) -> bool {
        self.find(css).is_some_and(|element| {
            self.command("GET", &format!("/element/{element}/displayed"), None)
                .is_ok_and(|shown| shown == true)
        })
    }

    /// Click the first element `css` finds. The page may replace the element between
    /// finding and clicking it (a poll re-rendered its table): then find it again.
    pub fn click(&self, css: &str) -> Result<(), String> {
        let mut attempts = 0;
        loop {
            let element = self
                .find(css)
                .ok_or_else(|| format!("{css}: no such element"))?;
            let clicked = self.command(
                "POST",
                &format!("/element/{element}/click"),
                Some(json!({})),
            );
            match clicked {
                Err(err) if err.contains("stale element") && attempts < 5 => attempts += 1,
                clicked => return clicked.map(drop),
            }
        }
    }

    /// Type into the first element `css` finds.
    pub fn type_text(&self, css: &str, text: &str) -> Result<(), String> {
        let element = self
            .find(css)
            .ok_or_else(|| format!("{css}: no such element"))?;
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// Run a script in the page; what it returns.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .unwrap_or_else(|err| panic!("{err}"))
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self
            .command("GET", "/screenshot", None)
            .unwrap_or_else(|err| panic!("{err}"));
        decode_base64(encoded.as_str().expect("a base64 string"))
    }

    /// Poll `probe` until it answers (up to 20 s); the panic says what was awaited and
    /// what the page last showed.
    pub fn wait_for<T>(
        &self,
        what: &str,
        mut probe: impl FnMut(&Browser) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match probe(self) {
                Ok(found) => return found,
                Err(last) if Instant::now() > deadline => panic!("waiting for {what}: {last}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.session.clone(), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> u32 {
        match byte {
            b'A'..=b'Z' => u32::from(byte - b'A'),
            b'a'..=b'z' => u32::from(byte - b'a') + 26,
            b'0'..=b'9' => u32::from(byte - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            other => panic!("not base64: {:?}", other as char),
        }
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace() && *byte != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut bits = 0u32;
        for (index, byte) in chunk.iter().enumerate() {
            bits |= value(*byte) << (18 - 6 * index);
        }
        let produced = chunk.len() * 6 / 8;
        out.extend_from_slice(&bits.to_be_bytes()[1..1 + produced]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(super::decode_base64("aGVsbG8="), b"hello");
        assert_eq!(super::decode_base64("aGk="), b"hi");
        assert_eq!(super::decode_base64("YWJj"), b"abc");
        assert_eq!(super::decode_base64("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    }
}
