//! `kubectl accord board` in a real browser: headless Chromium, driven over WebDriver
//! ([`accord_e2e::Browser`]), on boards the static users run against the local control
//! plane, with the operator and its webhook. alice signs off what her Team owes through
//! the page's form; mallory (in no Team) owes nothing, and neither a forged POST nor her
//! own board can sign for alice; a request for another `Host` is refused; evidence that
//! is not an http(s) link is shown as text, never as a link; a sign-off made in another
//! terminal reaches an open page without a reload. Each scenario checks what the page
//! says and, as the admin, what the cluster stored.
//!
//! The fixtures' Teams: alice is in data-platform (here items `drift` and `lineage`),
//! bob in ml-platform (`latency`), carol in payments-app (`kpis`), mallory in none.
//!
//! The last test saves screenshots to `ACCORD_SCREENSHOTS_DIR`, else
//! `target/board-screenshots/` (`make docs-screenshots` refreshes `docs/board/`).

mod support;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::{Child, Stdio},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use accord_e2e::{Browser, Kubectl, TestNamespace, cluster_dir, http1, plugin_command, repo_root};
use serde_json::{Value, json};
use support::{create, create_as, model_deployment, wait_phase};

const WAIT: Duration = Duration::from_secs(60);
const MODEL: &str = "churn";
const VERSION: &str = "1.0.0";

/// One test at a time (one Chromium and a few boards are plenty for a small machine),
/// with the binary's operator, whose webhook stamps and refuses sign-offs.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    accord_e2e::shared_operator("board");
    guard
}

/// `kubectl accord board` as one static user on a free loopback port, killed when
/// dropped.
struct Board {
    child: Child,
    /// The link the board printed first (its address; its login, when it has one).
    link: String,
    /// `127.0.0.1:PORT`, the address it is bound to.
    addr: String,
}

impl Board {
    fn start(user: &str) -> Board {
        let kubeconfig = cluster_dir()
            .join("users")
            .join(format!("{user}.kubeconfig"));
        let log_path = cluster_dir().join("logs").join(format!("board-{user}.log"));
        let log = std::fs::File::create(&log_path).expect("the board's log");
        let mut child = plugin_command()
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["board", "--address", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("kubectl-accord board starts");
        let first = accord_e2e::first_stdout_line(&mut child, WAIT).unwrap_or_else(|| {
            panic!(
                "the board as {user} printed no first line; its stderr:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });
        let mut board = Board {
            child,
            link: String::new(),
            addr: String::new(),
        };
        board.link = first
            .split_whitespace()
            .find(|t| t.starts_with("http://"))
            .unwrap_or_else(|| panic!("no http:// link in the board's first line: {first:?}"))
            .to_string();
        board.addr = board.link["http://".len()..]
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            board.addr.starts_with("127.0.0.1:"),
            "the board serves on loopback: {first:?}"
        );
        board
    }

    /// `http://127.0.0.1:PORT{path}`.
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port, for other `Host` spellings.
    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap_or_default()
    }

    /// Opens the printed link in `browser`, as the person who started the board would.
    fn open(&self, browser: &Browser) {
        browser.goto(&self.link);
    }

    /// A request made by hand, as no browser would make it: `host` as the `Host`
    /// header, this board's own `Origin`, `cookie` when not empty, `form` as the body.
    fn raw(
        &self,
        method: &str,
        path: &str,
        host: &str,
        cookie: &str,
        form: &str,
    ) -> http1::Response {
        let origin = self.url("");
        let mut headers = vec![("Host", host), ("Origin", origin.as_str())];
        if method == "POST" {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie));
        }
        http1::request(&self.addr, method, path, &headers, form.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path} on the board at {}: {e}", self.addr))
    }

    /// A sign-off POSTed by hand, with this board's own `Host` and `Origin`.
    fn post_sign_off(&self, cookie: &str, fields: &[(&str, &str)]) -> http1::Response {
        let form = http1::form_urlencoded(fields);
        self.raw("POST", "/signoff", &self.addr, cookie, &form)
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `churn` 1.0.0 in `namespace`, whose checklist gives data-platform two items (`drift`,
/// `lineage`), ml-platform `latency` and payments-app `kpis`, once it awaits them.
fn churn(namespace: &str, customize: impl FnOnce(&mut Value)) {
    let mut md = model_deployment(namespace, MODEL, VERSION);
    md["spec"]["handoff"]["checklist"]
        .as_array_mut()
        .expect("a checklist")
        .push(json!({"id": "lineage", "owner": "data",
                     "description": "Training data lineage recorded"}));
    customize(&mut md);
    create(&md);
    wait_phase(namespace, MODEL, "AwaitingAttestations", WAIT);
}

/// The namespace's Attestations, as the admin reads them.
fn attestations(namespace: &str) -> Vec<Value> {
    let list = Kubectl::admin()
        .get_json(&["attestations", "-n", namespace])
        .expect("the Attestations list");
    list["items"].as_array().cloned().unwrap_or_default()
}

#[track_caller]
fn assert_no_attestations(case: &str, namespace: &str) {
    let stored = attestations(namespace);
    assert!(
        stored.is_empty(),
        "{case}: nothing may be stored, but: {stored:#?}"
    );
}

/// `user` signs off `item` with `evidence` through the API (kubectl), as themselves.
fn attest_with_evidence(user: &str, namespace: &str, item: &str, evidence: &str) {
    create_as(
        user,
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
            "metadata": {"name": format!("{MODEL}-{VERSION}-{item}"), "namespace": namespace},
            "spec": {"modelDeployment": MODEL, "item": item, "version": VERSION,
                     "evidence": evidence}}),
    );
}

/// Loads `url` again until `ready` holds: the board fills its cache from watches in the
/// background, and a page is rendered from what it has.
fn load_until(browser: &Browser, url: &str, what: &str, ready: impl Fn() -> bool) {
    browser.wait_until(WAIT, what, || {
        browser.goto(url);
        ready()
    });
}

/// The `data-item` of every row of `#owed` in `namespace`.
fn owed_rows(browser: &Browser, namespace: &str) -> BTreeSet<String> {
    let rows = browser.execute(
        "return Array.from(document.querySelectorAll('#owed tr[data-item]'), r => r.dataset.item)",
        &[],
    );
    rows.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|item| item.starts_with(&format!("{namespace}/")))
        .map(String::from)
        .collect()
}

/// A row of the model page's `#checklist`: its `data-state` and its text.
fn checklist_row(browser: &Browser, item: &str) -> Option<(String, String)> {
    let row = browser.execute(
        "const r = document.querySelector('#checklist tr[data-item=\"' + CSS.escape(arguments[0]) + '\"]');
         return r ? [r.dataset.state || '', r.textContent] : null;",
        &[json!(item)],
    );
    Some((row[0].as_str()?.to_string(), row[1].as_str()?.to_string()))
}

fn attested_by(browser: &Browser, item: &str, user: &str) -> bool {
    checklist_row(browser, item)
        .is_some_and(|(state, text)| state == "attested" && text.contains(user))
}

/// What `team` still owes on `churn`, as `kubectl accord status` tells `user`.
fn owed_by(user: &str, namespace: &str, team: &str) -> BTreeSet<String> {
    let (ok, out, err) =
        accord_e2e::plugin_as(user, &["status", MODEL, "-n", namespace, "-o", "json"]);
    assert!(ok, "status: {err}");
    let status: Value = serde_json::from_str(&out).expect("status -o json");
    status["owed"][team]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|item| format!("{namespace}/{MODEL}/{item}"))
        .collect()
}

/// The hidden fields of the sign-off form in `#owed`'s row `row` (`NS/MODEL/ITEM`).
fn hidden_fields(browser: &Browser, row: &str) -> Vec<(&'static str, String)> {
    let form = browser
        .find(&format!(
            "#owed tr[data-item=\"{row}\"] form.signoff[method=post i][action=\"/signoff\"]"
        ))
        .unwrap_or_else(|| panic!("no sign-off form in row {row}:\n{}", browser.source()));
    [
        "csrf",
        "namespace",
        "model",
        "item",
        "version",
        "fingerprint",
    ]
    .into_iter()
    .map(|name| {
        let input = form
            .find(&format!("input[type=hidden][name={name}]"))
            .unwrap_or_else(|| panic!("row {row}'s form has no hidden {name}"));
        (name, input.attr("value").unwrap_or_default())
    })
    .collect()
}

fn field<'a>(fields: &'a [(&str, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Fills in and submits row `row`'s sign-off form as a person would: types the
/// evidence and the comment, ticks the confirmation, clicks the button.
fn sign_off_in_browser(browser: &Browser, row: &str, evidence: &str, comment: &str) {
    let form = browser
        .find(&format!("#owed tr[data-item=\"{row}\"] form.signoff"))
        .unwrap_or_else(|| panic!("no sign-off form in row {row}"));
    let part = |css: &str| {
        form.find(css)
            .unwrap_or_else(|| panic!("row {row}'s form has no {css}"))
    };
    part("input[name=evidence][type=url]").send_keys(evidence);
    part("input[name=comment]").send_keys(comment);
    let confirm = part("input[name=confirm][type=checkbox]");
    assert_eq!(confirm.attr("value").as_deref(), Some("yes"));
    confirm.click();
    part("button[type=submit]").click();
}

#[test]
fn alice_signs_off_what_her_team_owes_through_the_form() {
    let _serial = serial();
    let ns = TestNamespace::create("board-signoff");
    let n = ns.name.as_str();
    churn(n, |_| {});
    let board = Board::start("alice");
    let browser = Browser::start();
    board.open(&browser);
    let (drift, lineage) = (format!("{n}/{MODEL}/drift"), format!("{n}/{MODEL}/lineage"));

    // `/` lists exactly what data-platform owes on the candidate.
    load_until(&browser, &board.url("/"), "alice's open items", || {
        owed_rows(&browser, n).contains(&drift)
    });
    let expected: BTreeSet<String> = [drift.clone(), lineage.clone()].into();
    assert_eq!(owed_by("alice", n, "data-platform"), expected);
    assert_eq!(owed_rows(&browser, n), expected, "alice's rows in {n}");
    api_models_lists_churn(&board, &browser.cookie_header(), n);
    let fields = hidden_fields(&browser, &drift);
    assert_eq!(
        [
            field(&fields, "namespace"),
            field(&fields, "model"),
            field(&fields, "item"),
            field(&fields, "version")
        ],
        [n, MODEL, "drift", VERSION]
    );
    assert!(
        field(&fields, "fingerprint").starts_with("sha256:"),
        "{fields:?}"
    );
    assert!(!field(&fields, "csrf").is_empty(), "{fields:?}");

    sign_off_in_browser(
        &browser,
        &drift,
        "https://ci.example/run/1",
        "drift within bounds",
    );
    let page = board.url(&format!("/models/{n}/{MODEL}"));
    browser.wait_until(WAIT, "the redirect to the model page, or a refusal", || {
        browser.current_url() == page || browser.find("#error").is_some()
    });
    if let Some(error) = browser.find("#error") {
        panic!("alice's sign-off was refused: {:?}", error.text());
    }
    load_until(&browser, &page, "drift attested by alice", || {
        attested_by(&browser, "drift", "alice")
    });
    let link = browser.find("#checklist tr[data-item=drift] a.evidence");
    assert_eq!(
        link.and_then(|a| a.attr("href")).as_deref(),
        Some("https://ci.example/run/1")
    );

    assert_alices_sign_off_stored(n, field(&fields, "fingerprint"));

    load_until(
        &browser,
        &board.url("/"),
        "drift to leave alice's list",
        || owed_rows(&browser, n) == BTreeSet::from([lineage.clone()]),
    );
}

/// The one Attestation in `namespace` is alice's sign-off of drift, as the form sent it
/// for the candidate `fingerprint`, stamped by the webhook with her name and Team.
fn assert_alices_sign_off_stored(namespace: &str, fingerprint: &str) {
    let stored = attestations(namespace);
    assert_eq!(stored.len(), 1, "{stored:#?}");
    let spec = &stored[0]["spec"];
    assert_eq!(spec["attestedBy"], "alice");
    assert_eq!(spec["team"], "data-platform");
    assert_eq!(
        (spec["modelDeployment"].as_str(), spec["item"].as_str()),
        (Some(MODEL), Some("drift"))
    );
    assert_eq!(spec["version"], VERSION);
    assert_eq!(spec["evidence"], "https://ci.example/run/1");
    assert_eq!(spec["comment"], "drift within bounds");
    assert_eq!(
        spec["candidate"], fingerprint,
        "the candidate the form showed"
    );
}

/// `/api/models` (as the board's browser would fetch it) has `churn` with its phase
/// and risks.
fn api_models_lists_churn(board: &Board, cookie: &str, namespace: &str) {
    let answer = board.raw("GET", "/api/models", &board.addr, cookie, "");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let models: Value = serde_json::from_slice(&answer.body).expect("/api/models is JSON");
    let churn = models
        .as_array()
        .expect("/api/models is an array")
        .iter()
        .find(|m| m["namespace"] == namespace && m["name"] == MODEL)
        .unwrap_or_else(|| panic!("no {namespace}/{MODEL} in {models:#}"));
    assert_eq!(churn["phase"], "AwaitingAttestations", "{churn:#}");
    let risks = churn["risks"]
        .as_array()
        .unwrap_or_else(|| panic!("risks: {churn:#}"));
    assert!(risks.iter().all(|r| r["kind"].is_string()), "{churn:#}");
}

/// The CSRF token a board puts in its pages, from the first of `paths` that has one.
fn csrf_token(browser: &Browser, board: &Board, paths: &[String]) -> Option<String> {
    paths.iter().find_map(|path| {
        browser.goto(&board.url(path));
        let token = browser.execute(
            "const e = document.querySelector('input[name=csrf], meta[name=csrf-token], meta[name=csrf]');
             return e ? (e.value || e.content || null) : null;",
            &[],
        );
        token.as_str().filter(|t| !t.is_empty()).map(String::from)
    })
}

/// A sign-off of the item of `fields` (the hidden fields of alice's form, less its
/// token) filled in, with `csrf` when given.
fn forged(fields: &[(&str, String)], csrf: Option<&str>) -> Vec<(String, String)> {
    let filled = [
        ("evidence", "https://evil.example/"),
        ("comment", "forged"),
        ("confirm", "yes"),
    ];
    fields
        .iter()
        .filter(|(name, _)| *name != "csrf")
        .map(|(name, value)| (*name, value.as_str()))
        .chain(filled)
        .chain(csrf.map(|t| ("csrf", t)))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn forged_and_unauthorised_sign_offs_store_nothing() {
    let _serial = serial();
    let ns = TestNamespace::create("board-forged");
    let n = ns.name.as_str();
    churn(n, |_| {});
    let (alice, mallory) = (Board::start("alice"), Board::start("mallory"));
    let browser = Browser::start();
    alice.open(&browser);
    let drift = format!("{n}/{MODEL}/drift");
    load_until(&browser, &alice.url("/"), "alice's drift row", || {
        owed_rows(&browser, n).contains(&drift)
    });
    let fields = hidden_fields(&browser, &drift);
    let cookie = browser.cookie_header();
    // (a) No token, with alice's own cookies and Origin: refused.
    let answer = alice.post_sign_off(&cookie, &refs(&forged(&fields, None)));
    assert_eq!(
        answer.status,
        403,
        "a POST without the CSRF token: {}",
        answer.text()
    );
    assert_no_attestations("a POST without the CSRF token", n);

    // mallory's board, once it has read the model: she owes nothing.
    mallory.open(&browser);
    let mallory_cookie = browser.cookie_header();
    accord_e2e::poll("mallory's board to read churn", WAIT, || {
        let text = mallory
            .raw("GET", "/api/models", &mallory.addr, &mallory_cookie, "")
            .text();
        text.contains(&format!("\"namespace\":\"{n}\""))
            .then_some(())
            .ok_or(text)
    });
    browser.goto(&mallory.url("/"));
    assert!(
        browser.find("#owed-none").is_some(),
        "mallory owes nothing:\n{}",
        browser.source()
    );
    assert!(
        browser.find("#owed tr[data-item]").is_none(),
        "{}",
        browser.source()
    );

    // (b) mallory's board's token at alice's board: refused.
    let pages = [
        "/".to_string(),
        "/models".into(),
        format!("/models/{n}/{MODEL}"),
        "/matrix".into(),
        "/teams".into(),
    ];
    let token = csrf_token(&browser, &mallory, &pages).unwrap_or_else(|| {
        panic!("mallory's board shows no CSRF token (input[name=csrf] or meta[name=csrf-token]) on {pages:?}")
    });
    assert_ne!(
        token,
        field(&fields, "csrf"),
        "each board has its own token"
    );
    let answer = alice.post_sign_off(&cookie, &refs(&forged(&fields, Some(&token))));
    assert_eq!(
        answer.status,
        403,
        "another board's token: {}",
        answer.text()
    );
    assert_no_attestations("another board's token", n);

    mallory_is_refused_by_the_webhook(&browser, &mallory, &refs(&forged(&fields, Some(&token))), n);
}

/// (c) mallory signs alice's item at her own board with her own token: the webhook
/// refuses, and its words are on the page.
fn mallory_is_refused_by_the_webhook(
    browser: &Browser,
    mallory: &Board,
    form: &[(&str, &str)],
    namespace: &str,
) {
    let refusal = "mallory is not a member of team data-platform, which owns item drift";
    let answer = mallory.post_sign_off(&browser.cookie_header(), form);
    assert!(
        (400..500).contains(&answer.status) && answer.text().contains(refusal),
        "mallory's own board: {} {}",
        answer.status,
        answer.text()
    );
    assert_no_attestations("mallory at her own board", namespace);

    // The same through her browser: a form posted from her board's page.
    browser.goto(&mallory.url("/"));
    let fields: serde_json::Map<String, Value> = form
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    browser.execute(
        "const f = document.createElement('form');
         f.method = 'post'; f.action = '/signoff';
         for (const [name, value] of Object.entries(arguments[0])) {
           const i = document.createElement('input');
           i.type = 'hidden'; i.name = name; i.value = value; f.appendChild(i);
         }
         document.body.appendChild(f); f.submit();",
        &[Value::Object(fields)],
    );
    browser.wait_until(WAIT, "the refusal page", || {
        browser.find("#error").is_some()
    });
    let error = browser.find("#error").expect("#error");
    assert_eq!(error.attr("role").as_deref(), Some("alert"));
    assert!(
        error.text().contains(refusal),
        "#error says: {}",
        error.text()
    );
    assert_no_attestations("mallory's browser at her own board", namespace);
}

#[test]
fn a_request_for_another_host_is_refused() {
    let _serial = serial();
    let board = Board::start("alice");
    let browser = Browser::start();
    board.open(&browser);
    let cookie = browser.cookie_header();
    let (localhost, evil) = (
        format!("localhost:{}", board.port()),
        format!("evil.example:{}", board.port()),
    );
    for host in [board.addr.as_str(), localhost.as_str()] {
        let answer = board.raw("GET", "/", host, &cookie, "");
        assert_eq!(answer.status, 200, "Host {host}: {}", answer.text());
    }
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/models"),
        ("GET", "/events"),
        ("POST", "/signoff"),
    ] {
        let answer = board.raw(method, path, &evil, &cookie, "csrf=x");
        assert_eq!(
            answer.status,
            403,
            "{method} {path} for Host {evil}: {}",
            answer.text()
        );
    }
}

/// No link, source or form target on the page is a script (or `data:`) URL, however
/// it is spelled.
#[track_caller]
fn assert_no_script_urls(browser: &Browser, page: &str) {
    assert!(
        browser.find("a[href^=\"javascript\" i]").is_none(),
        "{page}:\n{}",
        browser.source()
    );
    let scripted = browser.execute(
        r"return Array.from(document.querySelectorAll('[href], [src], [action]'))
            .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))
            .filter(u => /^[\s\x00-\x1f]*(javascript|vbscript|data):/i.test(u));",
        &[],
    );
    assert_eq!(scripted, json!([]), "{page}: script URLs");
}

#[test]
fn evidence_that_is_not_a_web_link_is_shown_as_text() {
    let _serial = serial();
    let ns = TestNamespace::create("board-evidence");
    let n = ns.name.as_str();
    churn(n, |_| {});
    attest_with_evidence("carol", n, "kpis", "javascript:alert(1)");
    attest_with_evidence("bob", n, "latency", " JavaScript:alert(document.domain)");
    attest_with_evidence("alice", n, "drift", "https://ci.example/run/7");
    attest_with_evidence(
        "alice",
        n,
        "lineage",
        "data:text/html,<script>alert(3)</script>",
    );
    let board = Board::start("alice");
    let browser = Browser::start();
    board.open(&browser);
    let page = board.url(&format!("/models/{n}/{MODEL}"));
    let signed = [
        ("kpis", "carol"),
        ("latency", "bob"),
        ("drift", "alice"),
        ("lineage", "alice"),
    ];
    load_until(&browser, &page, "the four sign-offs", || {
        signed
            .iter()
            .all(|(item, user)| attested_by(&browser, item, user))
    });

    assert_no_script_urls(&browser, "the model page");
    for (item, text) in [
        ("kpis", "javascript:alert(1)"),
        ("latency", "JavaScript:alert(document.domain)"),
        ("lineage", "data:text/html,<script>alert(3)</script>"),
    ] {
        let css = format!("#checklist tr[data-item={item}] span.evidence.unsafe");
        let shown = browser.find(&css);
        let shown =
            shown.unwrap_or_else(|| panic!("{item}'s evidence as text:\n{}", browser.source()));
        assert!(shown.text().contains(text), "{item}: {}", shown.text());
    }
    let link = browser.find("#checklist tr[data-item=drift] a.evidence");
    assert_eq!(
        link.and_then(|a| a.attr("href")).as_deref(),
        Some("https://ci.example/run/7")
    );
    // The other pages that show sign-offs (alice's Team's recent ones on `/`).
    for path in ["/", "/models", "/matrix"] {
        browser.goto(&board.url(path));
        assert_no_script_urls(&browser, path);
    }

    // What the page shows is what the cluster holds.
    let stored = attestations(n);
    let kpis = stored
        .iter()
        .find(|a| a["spec"]["item"] == "kpis")
        .expect("kpis stored");
    assert_eq!(kpis["spec"]["evidence"], "javascript:alert(1)");
    assert_eq!(kpis["spec"]["attestedBy"], "carol");
}

#[test]
fn a_sign_off_made_elsewhere_reaches_the_open_page_without_a_reload() {
    let _serial = serial();
    let ns = TestNamespace::create("board-live");
    let n = ns.name.as_str();
    churn(n, |_| {});
    let board = Board::start("alice");
    let browser = Browser::start();
    board.open(&browser);
    let page = board.url(&format!("/models/{n}/{MODEL}"));
    load_until(&browser, &page, "latency pending", || {
        checklist_row(&browser, "latency").is_some_and(|(state, _)| state == "pending")
    });
    assert_eq!(
        browser.execute("window.__marker = 42; return window.__marker", &[]),
        json!(42)
    );

    // bob, in another terminal.
    let (ok, out, err) =
        accord_e2e::plugin_as("bob", &["attest", MODEL, "--item", "latency", "-n", n]);
    assert!(ok, "bob's attest: {out}{err}");
    browser.wait_until(
        WAIT,
        "latency to turn attested by bob on the open page",
        || attested_by(&browser, "latency", "bob"),
    );
    assert_eq!(
        browser.execute("return window.__marker", &[]),
        json!(42),
        "the page was updated in place, not reloaded"
    );
    assert_eq!(browser.current_url(), page);

    let stored = attestations(n);
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["spec"]["item"], "latency");
    assert_eq!(stored[0]["spec"]["attestedBy"], "bob");
}

/// Where screenshots go: `ACCORD_SCREENSHOTS_DIR`, else `target/board-screenshots/`.
fn screenshots_dir() -> PathBuf {
    std::env::var_os("ACCORD_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/board-screenshots"))
}

#[test]
fn screenshots_of_the_board() {
    let _serial = serial();
    let ns = TestNamespace::create("board-shots");
    let n = ns.name.as_str();
    churn(n, |md| {
        md["spec"]["handoff"]["checklist"]
            .as_array_mut()
            .expect("a checklist")
            .push(
                json!({"id": "runbook", "owner": "application", "required": false,
                         "description": "On-call runbook linked"}),
            );
    });
    attest_with_evidence("bob", n, "latency", "https://ci.example/load-test/42");
    let board = Board::start("alice");
    let browser = Browser::start();
    board.open(&browser);
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).expect("the screenshots directory");
    let save = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, browser.screenshot_png()).expect("write the screenshot");
        eprintln!("saved {}", path.display());
    };

    load_until(&browser, &board.url("/"), "alice's open items", || {
        owed_rows(&browser, n).len() == 2
    });
    save("owed.png");
    load_until(&browser, &board.url("/models"), "churn on /models", || {
        browser
            .execute(
                "const m = document.querySelector('main'); return m ? m.textContent : ''",
                &[],
            )
            .as_str()
            .is_some_and(|text| text.contains(n) && text.contains(MODEL))
    });
    save("models.png");
    load_until(
        &browser,
        &board.url(&format!("/models/{n}/{MODEL}")),
        "the model page",
        || attested_by(&browser, "latency", "bob"),
    );
    save("model.png");
    for name in ["owed.png", "models.png", "model.png"] {
        let png = std::fs::read(dir.join(name)).expect("the screenshot");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: {} bytes",
            png.len()
        );
    }
}
