//! A real browser for the tests: headless Chromium driven through `chromedriver` over
//! the W3C WebDriver protocol (JSON over HTTP, spoken with [`crate::http1`]). The
//! calls block; every WebDriver error panics with the command and the driver's message,
//! as a failed step in a test should.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them);
//! `ACCORD_CHROMIUM` names another Chromium binary.
//!
//! A page that swaps its DOM while a test looks (a live page) makes an [`Element`]
//! found before the swap stale: poll such a page with [`Browser::execute`], which
//! reads it in one step.

use std::{
    os::unix::process::CommandExt as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{http1, operator::free_port, poll};

/// The key of an element reference in the WebDriver wire format.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session. Dropping it ends the session, stops `chromedriver`
/// (and with it Chromium) and removes the browser's profile.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    dir: PathBuf,
}

/// An element of the current page, found by [`Browser::find`].
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and opens a headless Chromium
    /// session with a fresh profile.
    pub fn start() -> Browser {
        let dir = std::env::temp_dir().join(format!(
            "accord-browser-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(dir.join("profile")).expect("the browser's temp dir");
        let log = std::fs::File::create(dir.join("chromedriver.log")).expect("driver log");
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("driver log"))
            .stderr(log)
            // Its own process group, so that Drop also reaches the Chromium it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run chromedriver ({e}): install Debian's chromium and \
                     chromium-driver; .ci/run does"
                )
            });
        let mut browser = Browser {
            driver,
            addr: format!("127.0.0.1:{port}"),
            session: String::new(),
            dir,
        };
        poll("chromedriver to be ready", Duration::from_secs(30), || {
            let ready = browser.wire("GET", "/status", None);
            match ready {
                Ok(status) if status["ready"] == true => Ok(()),
                other => Err(format!("{other:?}\n{}", browser.driver_log())),
            }
        });
        browser.session = browser.new_session();
        browser
    }

    fn new_session(&self) -> String {
        let binary =
            std::env::var("ACCORD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&binary).exists(),
            "{binary} not found: install Debian's chromium and chromium-driver; .ci/run does"
        );
        let profile = format!("--user-data-dir={}", self.dir.join("profile").display());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            &profile,
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args}
        }}});
        let created = self.wire("POST", "/session", Some(&capabilities));
        let created = created.unwrap_or_else(|e| panic!("{e}\n{}", self.driver_log()));
        created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string()
    }

    /// One WebDriver command: its `value`, or the driver's error.
    fn wire(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let headers = [("Content-Type", "application/json; charset=utf-8")];
        let response = http1::request(&self.addr, method, path, &headers, body.as_bytes())?;
        let value: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("{method} {path}: not JSON ({e}): {}", response.text()))?;
        match response.status {
            200 => Ok(value["value"].clone()),
            status => Err(format!("{method} {path}: {status} {}", value["value"])),
        }
    }

    /// A command of this session (`path` after `/session/{id}`); panics on an error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.wire(method, &path, body.as_ref())
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }

    /// Navigates to `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    /// The URL of the current page.
    pub fn current_url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The current page's DOM, serialised.
    pub fn source(&self) -> String {
        self.command("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching the CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<Element<'_>> {
        self.find_all(css).into_iter().next()
    }

    /// Every element matching the CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.command("POST", "/elements", Some(locator(css)));
        self.elements(&found)
    }

    fn elements(&self, found: &Value) -> Vec<Element<'_>> {
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element {
                browser: self,
                id: id.to_string(),
            })
            .collect()
    }

    /// Runs `script` (a function body: `arguments[i]` are `args`, `return` answers) in
    /// the page and returns what it returned.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The cookies the current page would send, as a `Cookie` header value
    /// (`name=value; …`, HttpOnly ones included): to make by hand a request that a
    /// browser holding them could make.
    pub fn cookie_header(&self) -> String {
        let cookies = self.command("GET", "/cookie", None);
        let pairs: Vec<String> = cookies
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some(format!("{}={}", c["name"].as_str()?, c["value"].as_str()?)))
            .collect();
        pairs.join("; ")
    }

    /// A PNG of the viewport.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let data = self.command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("the screenshot is base64")
    }

    /// Checks `ready` every 200 ms until it holds; after `timeout`, panics naming what
    /// was awaited, with the page's URL and source.
    pub fn wait_until(&self, timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready() {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the page at {}:\n{}",
                    self.current_url(),
                    self.source()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.wire("DELETE", &format!("/session/{}", self.session), None);
        }
        // The driver's process group: chromedriver and the Chromium it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl<'a> Element<'a> {
    /// The element's rendered text.
    pub fn text(&self) -> String {
        let text = self.command("GET", "/text", None);
        text.as_str().unwrap_or_default().to_string()
    }

    /// The attribute `name` (`None` when absent). For `value`, the current value.
    pub fn attr(&self, name: &str) -> Option<String> {
        let value = self.command("GET", &format!("/attribute/{name}"), None);
        value.as_str().map(String::from)
    }

    /// Clicks it, as a user would (it must be visible and not covered).
    pub fn click(&self) {
        self.command("POST", "/click", Some(json!({})));
    }

    /// Types `text` into it.
    pub fn send_keys(&self, text: &str) {
        self.command("POST", "/value", Some(json!({"text": text})));
    }

    /// Whether it is rendered visibly.
    pub fn is_displayed(&self) -> bool {
        self.command("GET", "/displayed", None) == true
    }

    /// The first element inside this one matching the CSS selector.
    pub fn find(&self, css: &str) -> Option<Element<'a>> {
        let found = self.command("POST", "/elements", Some(locator(css)));
        self.browser.elements(&found).into_iter().next()
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/element/{}{path}", self.id);
        self.browser.command(method, &path, body)
    }
}

fn locator(css: &str) -> Value {
    json!({"using": "css selector", "value": css})
}
