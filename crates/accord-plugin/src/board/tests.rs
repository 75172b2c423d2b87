//! The board over HTTP, without a cluster: the router driven with `oneshot`, fixed data
//! from a test [`Source`], and a `kube::Client` whose transport is a closure that
//! records every request and answers as a test says. Every page, every refusal, the
//! headers every answer carries, and an accessibility check of every page's HTML.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use accord_core::testing::{attestation, md, team, time};
use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use regex::Regex;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use super::{
    guard::{CsrfToken, Hosts, WriteRefusal},
    server::{self, Board, SignOffForm, Source},
    views::{Me, Snapshot},
};
use crate::{
    api::{
        Attestation, CandidateTracking, HandoffPolicy, HandoffPolicySpec, IncidentPhase,
        ItemApproval, ModelDeployment, ModelIdentity, Phase, Role, SigningKey,
        handoff_policy::{Responsibility, Stage},
    },
    fixtures::{history_entry, incident, waiting},
};

// ---- the fixed source ----

/// The board's data, fixed by the test (which may change it between requests).
struct Fixed {
    snapshot: Arc<Mutex<Snapshot>>,
    changes: Arc<watch::Sender<u64>>,
    problems: Vec<String>,
}

impl Source for Fixed {
    fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().unwrap().clone()
    }
    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
    fn problems(&self) -> Vec<String> {
        self.problems.clone()
    }
}

// ---- the fake cluster ----

/// One request the board's client sent.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: String,
    body: String,
}

impl Call {
    fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// The query string's pairs.
    fn params(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// How the fake cluster answers a call: a status code and a JSON body, or `None` for a
/// connection that fails.
type Reply = Arc<dyn Fn(&Call) -> Option<(u16, String)> + Send + Sync>;

fn status_json(code: u16, reason: &str, message: &str) -> String {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

fn event_list(events: Value) -> String {
    json!({"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": events}).to_string()
}

/// A cluster that lists no Events, stores every Attestation it is given (echoing it)
/// and has nothing else.
fn cluster(call: &Call) -> Option<(u16, String)> {
    Some(match (call.method.as_str(), call.path.as_str()) {
        ("GET", p) if p.ends_with("/events") => (200, event_list(json!([]))),
        ("POST", p) if p.ends_with("/attestations") => (201, call.body.clone()),
        _ => (404, status_json(404, "NotFound", "not found")),
    })
}

/// A `kube::Client` that never reaches a cluster: `reply` answers, every call is logged.
fn fake_client(reply: Reply) -> (kube::Client, Arc<Mutex<Vec<Call>>>) {
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let log = calls.clone();
    let service = tower::service_fn(move |request: Request<kube::client::Body>| {
        let (log, reply) = (log.clone(), reply.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect_bytes().await.expect("a request body");
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or_default().to_string(),
                body: String::from_utf8(body.to_vec()).expect("UTF-8"),
            };
            let answer = reply(&call);
            log.lock().unwrap().push(call);
            let (code, text) = answer.ok_or("connection refused")?;
            let response = axum::http::Response::builder()
                .status(code)
                .header(header::CONTENT_TYPE, "application/json")
                .body(kube::client::Body::from(text.into_bytes()))
                .expect("a response");
            Ok::<_, &'static str>(response)
        }
    });
    (kube::Client::new(service, "default"), calls)
}

// ---- the board under test ----

const TOKEN: &str = "5f0c-test-token-of-this-board";
const HOST: &str = "127.0.0.1:7180";
const ORIGIN: &str = "http://127.0.0.1:7180";
const SERVER: &str = "https://127.0.0.1:6443";

/// Long before any clock the tests run on: every deadline counted from it has passed.
const LONG_AGO: i64 = -1_000_000_000;

struct Harness {
    app: Router,
    calls: Arc<Mutex<Vec<Call>>>,
    snapshot: Arc<Mutex<Snapshot>>,
    changes: Arc<watch::Sender<u64>>,
}

impl Harness {
    fn new(me: Me, snapshot: Snapshot, reply: Reply) -> Harness {
        Harness::with_problems(me, snapshot, reply, vec![])
    }

    fn with_problems(me: Me, snapshot: Snapshot, reply: Reply, problems: Vec<String>) -> Harness {
        let (client, calls) = fake_client(reply);
        let snapshot = Arc::new(Mutex::new(snapshot));
        let changes = Arc::new(watch::channel(0u64).0);
        let source = Fixed {
            snapshot: snapshot.clone(),
            changes: changes.clone(),
            problems,
        };
        let app = server::router(Board {
            source: Arc::new(source),
            client,
            me,
            server: SERVER.into(),
            token: CsrfToken::fixed(TOKEN),
            hosts: Hosts::for_address(HOST.parse().unwrap(), &[]),
            proxy: None,
            session: None,
        });
        Harness {
            app,
            calls,
            snapshot,
            changes,
        }
    }

    /// bob (ml-platform) on [`world`], against [`cluster`].
    fn bob() -> Harness {
        Harness::new(me("bob"), world(), Arc::new(cluster))
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_write).collect()
    }

    fn assert_no_write(&self) {
        assert_eq!(self.writes().len(), 0, "wrote: {:?}", self.writes());
    }

    /// Sends `request`; checks the headers every answer carries.
    async fn send(&self, request: Request<Body>) -> Answer {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        assert_security_headers(&what, &parts.headers);
        let bytes = body.collect().await.expect("a body").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).expect("UTF-8"),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(get(path)).await
    }

    /// The sign-off form of `item` on `/`, as the page has it, filled in and ticked.
    async fn form_of(&self, item: &str) -> Vec<(String, String)> {
        let page = self.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        let mut fields = hidden_fields(&page.body, item);
        fields.extend([
            ("evidence".into(), "https://ci.example.com/runs/9".into()),
            ("comment".into(), "  p99 41 ms at 2x  ".into()),
            ("confirm".into(), "yes".into()),
        ]);
        fields
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// The text of `#error`, unescaped.
    fn error(&self) -> String {
        element_text(&self.body, "p", "error")
            .unwrap_or_else(|| panic!("no #error in {}", self.body))
    }
}

fn me(user: &str) -> Me {
    Me {
        user: user.into(),
        groups: vec!["system:authenticated".into()],
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

fn post(fields: &[(String, String)], headers: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut request = Request::post("/signoff")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A form as someone might post it by hand.
fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `fields` without `name`, or with its value replaced.
fn with(
    mut fields: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    fields.retain(|(k, _)| k != name);
    if let Some(value) = value {
        fields.push((name.into(), value.into()));
    }
    fields
}

fn assert_security_headers(what: &str, headers: &HeaderMap) {
    let value = |name: header::HeaderName| {
        headers
            .get(&name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let csp = value(header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP {csp:?} lacks {directive}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(value(header::CACHE_CONTROL), "no-store", "{what}");
    assert_eq!(value(header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(value(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    assert_eq!(value(header::REFERRER_POLICY), "same-origin", "{what}");
}

// ---- the data ----

fn tracked(mut md: ModelDeployment, first_seen: i64) -> ModelDeployment {
    let tracking = CandidateTracking {
        fingerprint: Some(md.spec.fingerprint()),
        artifact_fingerprint: None,
        identity: ModelIdentity {
            version: md.spec.model.version.clone(),
            digest: None,
            artifact: None,
            image: md.spec.serving.serving_image(),
        },
        author: Some("carol".into()),
        legacy_attestations: false,
        first_seen: time(first_seen),
        blocked_reported: true,
        escalated: false,
    };
    md.status.get_or_insert_with(Default::default).candidate = Some(tracking);
    md
}

/// payments/fraud-scorer 2.4.0 waiting (overdue) for latency and kpis, drift signed by
/// alice with a `javascript:` evidence; retail/churn serving, signed by bob and dan of
/// ml-platform; four Teams (one with a key, one with a revoked key); a policy with a
/// RACI; an open Incident.
fn world() -> Snapshot {
    let mut fraud = tracked(waiting(), LONG_AGO);
    fraud.spec.handoff.escalate_after = Some("24h".into());
    fraud.spec.handoff.checklist[1].description =
        Some("p99 under 50 ms at twice the traffic".into());
    let st = fraud.status.as_mut().unwrap();
    st.pending_items = 2;
    st.policies = vec!["prod".into()];
    st.checklist[0].approvals = vec![ItemApproval {
        attested_by: "alice".into(),
        attestation: "a1".into(),
        carried_from: None,
    }];
    st.history = vec![
        history_entry("2.3.0", LONG_AGO - 200, Some(LONG_AGO - 190)),
        history_entry("2.3.1", LONG_AGO - 100, Some(LONG_AGO - 90)),
    ];

    let mut churn = md("1.0.0");
    churn.metadata.namespace = Some("retail".into());
    churn.metadata.name = Some("churn".into());
    churn.spec.owners.data = "retail-data".into();
    churn.spec.owners.application = "retail-app".into();
    churn.status = Some(crate::api::ModelDeploymentStatus {
        phase: Some(Phase::Serving),
        active_version: Some("1.0.0".into()),
        ..Default::default()
    });

    let mut data = team("data-platform", &["alice"], &["data-eng"]);
    data.spec.signing_keys = vec![SigningKey {
        user: "alice".into(),
        key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHz8zYbNvqJ6K2Ym2PmYdEw0cT7OSvKq alice@laptop"
            .into(),
        valid_before: None,
    }];
    let mut platform = team("ml-platform", &["bob", "dan"], &[]);
    platform.spec.revoked_keys = vec!["SHA256:2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2m2".into()];

    let signed = |name: &str, item: &str, user: &str, team: &str, at: i64, evidence: &str| {
        let mut a = attestation(name, item, "1.0.0", user, &[]);
        a.metadata.namespace = Some("retail".into());
        a.metadata.creation_timestamp = Some(time(at));
        a.spec.model_deployment = "churn".into();
        a.spec.team = Some(team.into());
        a.spec.evidence = Some(evidence.into());
        a
    };
    let mut a1 = attestation("a1", "drift", "2.4.0", "alice", &["data-eng"]);
    a1.metadata.creation_timestamp = Some(time(LONG_AGO + 10));
    a1.spec.team = Some("data-platform".into());
    a1.spec.evidence = Some("javascript:alert(document.cookie)".into());
    let attestations: Vec<Attestation> = vec![
        a1,
        signed(
            "c1",
            "latency",
            "bob",
            "ml-platform",
            LONG_AGO + 20,
            "https://ci.example.com/runs/42",
        ),
        signed(
            "c2",
            "smoke",
            "dan",
            "ml-platform",
            LONG_AGO + 30,
            " JavaScript:alert(1)",
        ),
    ];

    let policy = HandoffPolicy::new(
        "prod",
        HandoffPolicySpec {
            responsibilities: vec![Responsibility {
                stage: Stage::Deployment,
                responsible: vec![Role::Platform],
                accountable: Role::Application,
                consulted: vec![Role::Data],
                informed: vec![],
            }],
            ..Default::default()
        },
    );

    Snapshot {
        mds: vec![Arc::new(fraud), Arc::new(churn)],
        attestations: attestations.into_iter().map(Arc::new).collect(),
        teams: [
            data,
            platform,
            team("payments-app", &["carol"], &[]),
            team("retail-app", &["rita"], &[]),
        ]
        .into_iter()
        .map(Arc::new)
        .collect(),
        policies: vec![Arc::new(policy)],
        incidents: vec![Arc::new(incident(
            "inc-1",
            LONG_AGO + 40,
            Some(IncidentPhase::Open),
        ))],
    }
}

fn fingerprint() -> String {
    md("2.4.0").spec.fingerprint()
}

// ---- reading HTML ----

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn strip_tags(html: &str) -> String {
    let tags = Regex::new(r"<[^>]*>").unwrap();
    unescape(&tags.replace_all(html, ""))
}

/// The text of the `<tag id="id">` element (not nested in its own kind).
fn element_text(html: &str, tag: &str, id: &str) -> Option<String> {
    let re = Regex::new(&format!(
        r#"(?s)<{tag}\b[^>]*\sid="{id}"[^>]*>(.*?)</{tag}>"#
    ))
    .unwrap();
    Some(strip_tags(&re.captures(html)?[1]))
}

/// The hidden fields of the sign-off form of `item`.
fn hidden_fields(html: &str, item: &str) -> Vec<(String, String)> {
    let forms = Regex::new(r#"(?s)<form class="signoff"[^>]*>(.*?)</form>"#).unwrap();
    let hidden = Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#).unwrap();
    forms
        .captures_iter(html)
        .map(|form| {
            hidden
                .captures_iter(&form[1])
                .map(|c| (c[1].to_string(), unescape(&c[2])))
                .collect::<Vec<_>>()
        })
        .find(|fields| fields.iter().any(|(k, v)| k == "item" && v == item))
        .unwrap_or_else(|| panic!("no sign-off form of {item} in {html}"))
}

/// Every `<a>` whose `href` is not an http(s) or same-site link.
fn dangerous_links(html: &str) -> Vec<String> {
    let href = Regex::new(r#"(?i)<a\b[^>]*\shref\s*=\s*"\s*([^"]*)""#).unwrap();
    href.captures_iter(html)
        .map(|c| unescape(&c[1]).to_ascii_lowercase())
        .filter(|h| {
            !(h.starts_with('/')
                || h.starts_with('#')
                || h.starts_with("http://")
                || h.starts_with("https://"))
        })
        .collect()
}

// ---- the accessibility check ----

/// A start tag: its name (lower case) and attributes.
struct Tag {
    name: String,
    attrs: HashMap<String, String>,
    /// Where the tag ends in the page.
    end: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn describe(&self) -> String {
        let mut out = format!("<{}", self.name);
        for key in ["id", "name", "type", "href", "src", "class"] {
            if let Some(v) = self.attr(key) {
                out.push_str(&format!(" {key}=\"{v}\""));
            }
        }
        out.push('>');
        out
    }
}

fn tags(html: &str) -> Vec<Tag> {
    let tag = Regex::new(r"<([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>").unwrap();
    let attr = Regex::new(r#"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*"([^"]*)")?"#).unwrap();
    tag.captures_iter(html)
        .map(|c| Tag {
            name: c[1].to_ascii_lowercase(),
            attrs: attr
                .captures_iter(&c[2])
                .map(|a| {
                    let value = a.get(2).map_or("", |v| v.as_str());
                    (a[1].to_ascii_lowercase(), unescape(value))
                })
                .collect(),
            end: c.get(0).unwrap().end(),
        })
        .collect()
}

/// The content of the element whose start tag ends at `from` (up to its first
/// closing tag: enough for the elements checked, which the board never nests).
fn content<'a>(html: &'a str, tag: &Tag) -> &'a str {
    let rest = &html[tag.end..];
    let close = format!("</{}>", tag.name);
    rest.find(&close).map_or(rest, |i| &rest[..i])
}

/// The name a screen reader gives an element: its text, the `alt` of images in it, or
/// its `aria-label`.
fn accessible_name(html: &str, tag: &Tag) -> String {
    if let Some(label) = tag.attr("aria-label").filter(|l| !l.trim().is_empty()) {
        return label.to_string();
    }
    let inner = content(html, tag);
    let alts: Vec<String> = tags(inner)
        .into_iter()
        .filter(|t| t.name == "img")
        .filter_map(|t| t.attr("alt").map(String::from))
        .collect();
    format!("{} {}", strip_tags(inner), alts.join(" "))
        .trim()
        .to_string()
}

fn named<'a>(all: &'a [Tag], name: &'a str) -> impl Iterator<Item = &'a Tag> {
    all.iter().filter(move |t| t.name == name)
}

/// What a browserless accessibility check finds wrong with a page: each problem
/// prefixed with `path`.
fn a11y(path: &str, html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let all = tags(html);

    if !named(&all, "html").any(|t| t.attr("lang").is_some_and(|l| !l.trim().is_empty())) {
        problems.push("no <html lang=…>".to_string());
    }
    match named(&all, "title").next() {
        None => problems.push("no <title>".into()),
        Some(t) if strip_tags(content(html, t)).trim().is_empty() => {
            problems.push("an empty <title>".into());
        }
        Some(_) => {}
    }

    let levels: Vec<u8> = all
        .iter()
        .filter_map(|t| match t.name.as_bytes() {
            [b'h', d @ b'1'..=b'6'] => Some(d - b'0'),
            _ => None,
        })
        .collect();
    let h1s = levels.iter().filter(|l| **l == 1).count();
    if h1s != 1 {
        problems.push(format!("{h1s} <h1> (want exactly one)"));
    }
    if let Some(first) = levels.first().filter(|l| **l != 1) {
        problems.push(format!("the first heading is <h{first}>, not <h1>"));
    }
    for pair in levels.windows(2) {
        if pair[1] > pair[0] + 1 {
            problems.push(format!(
                "heading levels skip from <h{}> to <h{}>",
                pair[0], pair[1]
            ));
        }
    }

    for img in named(&all, "img").filter(|t| t.attr("alt").is_none()) {
        problems.push(format!("{} without alt", img.describe()));
    }

    let label_for: BTreeSet<&str> = named(&all, "label").filter_map(|t| t.attr("for")).collect();
    let controls = all.iter().filter(|t| {
        matches!(t.name.as_str(), "input" | "select" | "textarea")
            && !matches!(t.attr("type"), Some("hidden" | "submit"))
    });
    for control in controls {
        let aria = control
            .attr("aria-label")
            .or(control.attr("aria-labelledby"))
            .is_some_and(|l| !l.trim().is_empty());
        let labelled = control.attr("id").is_some_and(|id| label_for.contains(id));
        if !aria && !labelled {
            problems.push(format!(
                "{} has no <label for> (nor aria-label)",
                control.describe()
            ));
        }
    }

    let ids: Vec<&str> = all.iter().filter_map(|t| t.attr("id")).collect();
    for id in label_for.iter().filter(|f| !ids.contains(*f)) {
        problems.push(format!("<label for=\"{id}\"> names no element"));
    }
    let mut seen = BTreeSet::new();
    for id in &ids {
        if !seen.insert(*id) {
            problems.push(format!("id \"{id}\" is used more than once"));
        }
    }

    for table in named(&all, "table") {
        if !tags(content(html, table)).iter().any(|t| t.name == "th") {
            problems.push(format!("{} has no <th>", table.describe()));
        }
    }
    for element in all.iter().filter(|t| t.name == "a" || t.name == "button") {
        if accessible_name(html, element).is_empty() {
            problems.push(format!("{} has no text", element.describe()));
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{path}: {p}"))
        .collect()
}

#[test]
fn the_accessibility_check_finds_every_kind_of_problem() {
    let bad = r#"<!DOCTYPE html><html><head><title> </title></head><body>
        <h2>Out of order</h2><h1>One</h1><h1>Two</h1><h4>Skipped</h4>
        <img src="/logo.png">
        <form><input type="text" name="q"><input type="url" id="e"><label for="e">Evidence</label>
        <select id="s"></select><textarea aria-label="Notes"></textarea><label for="gone">Gone</label>
        <input type="hidden" name="csrf" value="x"><input type="submit" value="Go"></form>
        <table id="t"><tr><td>1</td></tr></table>
        <a href="/x"> </a><a href="/y"><img src="/i.png" alt=""></a><a href="/z"><img src="/i.png" alt="Home"></a>
        <p id="dup"></p><p id="dup"></p>
        <button type="submit"></button><button aria-label="Close"></button>
        </body></html>"#;
    let problems = a11y("/bad", bad);
    let expected = [
        "/bad: no <html lang=…>",
        "/bad: an empty <title>",
        "/bad: 2 <h1> (want exactly one)",
        "/bad: the first heading is <h2>, not <h1>",
        "/bad: heading levels skip from <h1> to <h4>",
        "/bad: <img src=\"/logo.png\"> without alt",
        "/bad: <input name=\"q\" type=\"text\"> has no <label for> (nor aria-label)",
        "/bad: <select id=\"s\"> has no <label for> (nor aria-label)",
        "/bad: <label for=\"gone\"> names no element",
        "/bad: id \"dup\" is used more than once",
        "/bad: <table id=\"t\"> has no <th>",
        "/bad: <a href=\"/x\"> has no text",
        "/bad: <a href=\"/y\"> has no text",
        "/bad: <button type=\"submit\"> has no text",
    ];
    assert_eq!(problems, expected);

    let good = r#"<!DOCTYPE html><html lang="en"><head><title>Fine</title></head><body>
        <h1>Fine</h1><h2>Part</h2><h3>Sub</h3><h2>Next</h2>
        <label for="q">Query</label><input type="search" id="q" name="q">
        <table><tr><th>A</th></tr></table><a href="/">Home</a><button>Go</button>
        </body></html>"#;
    assert_eq!(a11y("/good", good), Vec::<String>::new());
    assert_eq!(
        a11y("/none", "<p>no page at all</p>"),
        [
            "/none: no <html lang=…>",
            "/none: no <title>",
            "/none: 0 <h1> (want exactly one)"
        ]
    );
}

#[tokio::test]
async fn every_page_is_accessible() {
    let h = Harness::with_problems(
        me("bob"),
        world(),
        Arc::new(|call: &Call| {
            if call.path.ends_with("/deployments/fraud-scorer") {
                return Some((200, deployment_json()));
            }
            cluster(call)
        }),
        vec!["cannot watch Incidents: incidents.accord.dev is forbidden".into()],
    );
    let mut problems = Vec::new();
    let pages = [
        ("/", StatusCode::OK),
        ("/models", StatusCode::OK),
        (
            "/models?ns=payments&team=ml-platform&sort=name",
            StatusCode::OK,
        ),
        ("/models/payments/fraud-scorer", StatusCode::OK),
        ("/models/payments/fraud-scorer/deployment", StatusCode::OK),
        ("/models/retail/churn/deployment", StatusCode::NOT_FOUND),
        ("/models/x/missing", StatusCode::NOT_FOUND),
        ("/matrix", StatusCode::OK),
        ("/teams", StatusCode::OK),
        ("/no/such/page", StatusCode::NOT_FOUND),
    ];
    for (path, status) in pages {
        let page = h.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert_eq!(
            page.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        problems.extend(a11y(path, &page.body));
    }
    // The pages answering a sign-off: refused by the board, and by the cluster.
    let form = h.form_of("latency").await;
    for (name, form) in [
        ("POST /signoff (no token)", with(form.clone(), "csrf", None)),
        (
            "POST /signoff (not confirmed)",
            with(form.clone(), "confirm", None),
        ),
    ] {
        let page = h.send(post(&form, &[])).await;
        assert!(page.status.is_client_error(), "{name}");
        problems.extend(a11y(name, &page.body));
    }
    let mallory = Harness::new(me("mallory"), world(), Arc::new(webhook_denies));
    let page = mallory.send(post(&form, &[])).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    problems.extend(a11y("POST /signoff (webhook)", &page.body));
    // Empty pages (nobody, nothing) too.
    let empty = Harness::new(me("nobody"), Snapshot::default(), Arc::new(cluster));
    for path in ["/", "/models", "/matrix", "/teams"] {
        problems.extend(a11y(
            &format!("{path} (empty)"),
            &empty.get(path).await.body,
        ));
    }
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
}

// ---- the pages ----

#[tokio::test]
async fn what_i_owe_lists_my_open_items_with_a_form_each() {
    let h = Harness::bob();
    let page = h.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let body = &page.body;
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert!(
        body.contains("<title>What I owe — Accord board</title>"),
        "{body}"
    );
    assert!(body.contains(r#"<a href="/" aria-current="page">What I owe</a>"#));
    assert!(body.contains("Signed in as <strong>bob</strong> (groups: system:authenticated)"));
    assert!(body.contains(&format!("<code>{SERVER}</code>")));
    assert!(body.contains(r#"<script src="/static/board.js" defer></script>"#));
    assert!(body.contains("Your Teams: ml-platform."));
    assert!(body.contains(r#"<tr data-item="payments/fraud-scorer/latency" class="overdue">"#));
    assert!(
        !body.contains(r#"data-item="payments/fraud-scorer/kpis""#),
        "payments-app's"
    );
    assert!(body.contains("1 more person of ml-platform"));
    assert!(body.contains("p99 under 50 ms at twice the traffic"));
    assert!(body.contains(r#"<strong class="badge">overdue</strong>"#));
    assert_eq!(
        hidden_fields(body, "latency"),
        fields(&[
            ("csrf", TOKEN),
            ("namespace", "payments"),
            ("model", "fraud-scorer"),
            ("item", "latency"),
            ("version", "2.4.0"),
            ("fingerprint", &fingerprint()),
        ])
    );
    // Signed recently: ml-platform's two, newest first; only http(s) is a link.
    let signed = element_text(body, "table", "signed").expect("a table of sign-offs");
    let dan = signed.find("dan (ml-platform)").expect("dan's");
    let bob = signed.find("bob (ml-platform)").expect("bob's");
    assert!(dan < bob, "newest first: {signed}");
    assert!(body.contains(
        r#"<a class="evidence" href="https://ci.example.com/runs/42" rel="noopener noreferrer">"#
    ));
    assert!(
        !signed.contains("alice"),
        "data-platform's is not bob's Teams'"
    );
    assert_eq!(h.calls().len(), 0, "the page is drawn from the watches");
}

#[tokio::test]
async fn what_i_owe_for_someone_in_no_team_or_who_introduced_the_candidate() {
    let nobody = Harness::new(me("zed"), world(), Arc::new(cluster));
    let body = nobody.get("/").await.body;
    assert!(body.contains("You are in no Team"));
    assert!(body.contains(r#"<p id="owed-none">Nothing is owed by your Teams.</p>"#));
    assert!(!body.contains("<form class=\"signoff\""));

    // carol introduced 2.4.0 (see `tracked`): no form for her kpis.
    let carol = Harness::new(me("carol"), world(), Arc::new(cluster));
    let body = carol.get("/").await.body;
    assert!(body.contains(r#"data-item="payments/fraud-scorer/kpis""#));
    assert!(body.contains(
        "You introduced this candidate, so another member of payments-app must sign it off."
    ));
    assert!(!body.contains("<form class=\"signoff\""));
}

#[tokio::test]
async fn watch_problems_are_shown_on_every_page() {
    let h = Harness::with_problems(
        me("bob"),
        world(),
        Arc::new(cluster),
        vec!["cannot watch Teams: teams.accord.dev is forbidden".into()],
    );
    for path in [
        "/",
        "/models",
        "/matrix",
        "/teams",
        "/models/payments/fraud-scorer",
        "/nope",
    ] {
        let body = h.get(path).await.body;
        assert!(
            body.contains(
                r#"<p class="problem" role="alert">cannot watch Teams: teams.accord.dev is forbidden</p>"#
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn models_lists_every_model_with_its_risks() {
    let h = Harness::bob();
    let page = h.get("/models").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(
        body.contains("<caption>2 models; 2 with risks</caption>"),
        "{body}"
    );
    for kind in ["EscalationOverdue", "IncidentOpen", "NoMembers"] {
        assert!(
            body.contains(&format!(r#"<li data-kind="{kind}">"#)),
            "{kind}"
        );
    }
    let fraud = body.find(r#"data-model="payments/fraud-scorer""#).unwrap();
    let churn = body.find(r#"data-model="retail/churn""#).unwrap();
    assert!(fraud < churn, "most risks first");
    assert!(body.contains(r#"<a href="/models?sort=name">Model</a>"#));
    assert!(body.contains(r#"<input type="text" id="ns" name="ns" value="">"#));
}

#[tokio::test]
async fn models_are_filtered_and_sorted_by_the_query() {
    let h = Harness::bob();
    let body = h
        .get("/models?ns=retail&team=ml-platform&sort=name")
        .await
        .body;
    assert!(
        body.contains("<caption>1 models; 1 with risks</caption>"),
        "{body}"
    );
    assert!(body.contains(r#"data-model="retail/churn""#));
    assert!(!body.contains(r#"data-model="payments/fraud-scorer""#));
    assert!(body.contains(r#"<input type="text" id="ns" name="ns" value="retail">"#));
    assert!(body.contains(r#"<input type="text" id="team" name="team" value="ml-platform">"#));
    assert!(body.contains(r#"<input type="hidden" name="sort" value="name">"#));
    assert!(body.contains(r#"href="/api/models?ns=retail&amp;team=ml-platform&amp;sort=name""#));
    assert!(body.contains(r#"href="/models?ns=retail&amp;team=ml-platform&amp;sort=phase""#));

    let by_name = h.get("/models?sort=name").await.body;
    let fraud = by_name
        .find(r#"data-model="payments/fraud-scorer""#)
        .unwrap();
    let churn = by_name.find(r#"data-model="retail/churn""#).unwrap();
    assert!(fraud < churn);
    let nobody = h.get("/models?team=nobody").await.body;
    assert!(nobody.contains("<caption>0 models; 0 with risks</caption>"));
    // Markup in the query is text.
    let hostile = h
        .get("/models?ns=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
        .await
        .body;
    assert!(!hostile.contains("<script>alert"), "{hostile}");
    assert!(hostile.contains(r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#));
}

#[tokio::test]
async fn api_models_is_the_models_as_json() {
    let h = Harness::bob();
    let answer = h.get("/api/models").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/json");
    let rows: Vec<Value> = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(rows.len(), 2);
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let expected: BTreeSet<String> = [
        "namespace",
        "name",
        "phase",
        "candidate",
        "active",
        "data",
        "platform",
        "application",
        "pendingItems",
        "risks",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys(&rows[0]), expected);
    let fraud = &rows[0];
    assert_eq!(fraud["namespace"], "payments");
    assert_eq!(fraud["name"], "fraud-scorer");
    assert_eq!(fraud["phase"], "AwaitingAttestations");
    assert_eq!(fraud["candidate"], "2.4.0");
    assert_eq!(fraud["active"], "2.3.1");
    assert_eq!(fraud["pendingItems"], 2);
    let risks = fraud["risks"].as_array().unwrap();
    assert_eq!(
        keys(&risks[0]),
        ["kind", "team", "message"].map(String::from).into()
    );
    let kinds: Vec<&str> = risks.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["EscalationOverdue", "EscalationOverdue", "IncidentOpen"]
    );
    assert_eq!(risks[0]["team"], "ml-platform");
    let churn = &rows[1];
    assert_eq!(churn["active"], "1.0.0");
    assert_eq!(churn["risks"][0]["kind"], "NoMembers");
    assert_eq!(churn["risks"][0]["team"], "retail-data");

    let filtered: Vec<Value> =
        serde_json::from_str(&h.get("/api/models?ns=retail").await.body).unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["name"], "churn");
    h.assert_no_write();
}

#[tokio::test]
async fn the_model_page_reads_its_events_and_shows_everything() {
    let h = Harness::new(
        me("bob"),
        world(),
        Arc::new(|call: &Call| {
            if call.path.ends_with("/events") {
                let event = json!({
                    "metadata": {"name": "fraud-scorer.1", "namespace": "payments"},
                    "involvedObject": {"kind": "ModelDeployment", "name": "fraud-scorer"},
                    "reason": "PromotionBlocked",
                    "message": "waiting for latency, kpis",
                    "lastTimestamp": "2000-01-01T00:00:00Z",
                });
                return Some((200, event_list(json!([event]))));
            }
            cluster(call)
        }),
    );
    let page = h.get("/models/payments/fraud-scorer").await;
    assert_eq!(page.status, StatusCode::OK);
    let calls = h.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].path, "/api/v1/namespaces/payments/events");
    assert_eq!(
        calls[0].params().get("fieldSelector").map(String::as_str),
        Some("involvedObject.kind=ModelDeployment,involvedObject.name=fraud-scorer")
    );

    let body = &page.body;
    assert!(body.contains("<title>payments/fraud-scorer — Accord board</title>"));
    assert!(body.contains(r#"<a href="/models" aria-current="page">Models</a>"#));
    assert!(!body.contains(r#"class="problem""#), "the Events were read");
    let checklist = element_text(body, "table", "checklist").unwrap();
    assert!(checklist.contains("alice, in the cluster"), "{checklist}");
    assert!(body.contains(r#"<tr data-item="latency" data-state="pending">"#));
    assert!(body.contains(r#"<tr data-item="drift" data-state="attested">"#));
    assert!(body.contains(&fingerprint()));
    assert!(body.contains("<dt>Introduced by</dt><dd>—</dd>"));
    assert!(
        body.contains(r#"<a href="/models/payments/fraud-scorer/deployment">fraud-scorer</a>"#)
    );
    let timeline = element_text(body, "table", "timeline").unwrap();
    assert!(
        timeline.contains("PromotionBlocked: waiting for latency, kpis"),
        "{timeline}"
    );
    assert!(timeline.contains("alice signed off drift for 2.4.0"));
    assert!(timeline.contains("Promoted 2.3.1 (Attested)"));
    let event = timeline.find("PromotionBlocked").unwrap();
    let signed = timeline.find("alice signed off").unwrap();
    assert!(event < signed, "2000 is after 1995: newest first");
    let rollback = element_text(body, "p", "rollback").unwrap();
    assert_eq!(
        rollback,
        "Automatic, 60 s to become available; would restore 2.3.0"
    );
    assert!(body.contains("<h2>Open incidents</h2>"));
    assert!(body.contains("inc-1: error-rate 0.071 &gt; 0.02 for 5m"));
}

#[tokio::test]
async fn the_model_page_says_when_its_events_cannot_be_read() {
    let message = r#"events is forbidden: User "bob" cannot list resource "events" in API group "" in the namespace "payments""#;
    let h = Harness::new(
        me("bob"),
        world(),
        Arc::new(move |call: &Call| {
            if call.path.ends_with("/events") {
                return Some((403, status_json(403, "Forbidden", message)));
            }
            cluster(call)
        }),
    );
    let page = h.get("/models/payments/fraud-scorer").await;
    assert_eq!(page.status, StatusCode::OK, "the page still renders");
    let problem = Regex::new(r#"<p class="problem">(.*?)</p>"#).unwrap();
    let shown = problem.captures(&page.body).map(|c| unescape(&c[1]));
    assert_eq!(shown, Some(format!("Events are not shown: {message}")));
    assert!(page.body.contains(r#"<table id="checklist">"#));

    // A cluster that cannot be reached at all: still the page.
    let down = Harness::new(me("bob"), world(), Arc::new(|_: &Call| None));
    let page = down.get("/models/payments/fraud-scorer").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"<p class="problem">Events are not shown: "#)
    );
}

#[tokio::test]
async fn a_model_that_is_not_there_is_404() {
    let h = Harness::bob();
    let page = h.get("/models/x/missing").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        page.error(),
        "ModelDeployment x/missing is not there, or you may not read it"
    );
    assert!(page.body.contains(r#"<a href="/models">Back</a>"#));
    assert!(
        !page.body.contains("/static/board.js"),
        "a refusal is not live"
    );
    h.assert_no_write();
}

fn deployment_json() -> String {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fraud-scorer", "namespace": "payments",
                     "labels": {"accord.dev/model-version": "2.3.1"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "fraud-scorer"}},
            "template": {"spec": {"containers": [
                {"name": "model", "image": "registry.example.com/fraud-scorer:2.3.1"}
            ]}}
        },
        "status": {"readyReplicas": 1}
    })
    .to_string()
}

#[tokio::test]
async fn the_deployment_page_reads_the_deployment() {
    let h = Harness::new(
        me("bob"),
        world(),
        Arc::new(|call: &Call| {
            if call.path == "/apis/apps/v1/namespaces/payments/deployments/fraud-scorer" {
                return Some((200, deployment_json()));
            }
            if call.path.ends_with("/deployments/secret") {
                return Some((
                    403,
                    status_json(403, "Forbidden", "deployments.apps \"secret\" is forbidden"),
                ));
            }
            cluster(call)
        }),
    );
    let page = h.get("/models/payments/fraud-scorer/deployment").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("1 ready of 2"), "{}", page.body);
    assert!(
        page.body
            .contains("registry.example.com/fraud-scorer:2.3.1")
    );
    assert!(
        page.body
            .contains("<code>accord.dev/model-version=2.3.1</code>")
    );

    let missing = h.get("/models/retail/churn/deployment").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.error(),
        "Deployment retail/churn does not exist yet"
    );
    let forbidden = h.get("/models/payments/secret/deployment").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.error(),
        "deployments.apps \"secret\" is forbidden"
    );
    h.assert_no_write();
}

#[tokio::test]
async fn the_matrix_and_the_teams() {
    let h = Harness::bob();
    let matrix = h.get("/matrix").await;
    assert_eq!(matrix.status, StatusCode::OK);
    let table = element_text(&matrix.body, "table", "matrix").unwrap();
    assert!(table.contains("payments/fraud-scorer"), "{table}");
    assert!(table.contains("ml-platformowes latency"), "{table}");
    assert!(table.contains("data-platform ✓"), "{table}");
    let raci = element_text(&matrix.body, "table", "raci").expect("the policy's RACI");
    assert!(raci.contains("deployment"), "{raci}");
    assert!(raci.contains("ml-platform (platform)"), "{raci}");

    let teams = h.get("/teams").await;
    assert_eq!(teams.status, StatusCode::OK);
    let body = &teams.body;
    for team in ["data-platform", "ml-platform", "payments-app", "retail-app"] {
        assert!(body.contains(&format!(r#"data-team="{team}""#)), "{team}");
    }
    assert!(
        body.contains("alice: <code>ssh-ed25519 …dEw0cT7OSvKq</code>"),
        "{body}"
    );
    assert!(body.contains(" (1 revoked)"));
    assert!(
        body.contains("latency of payments/fraud-scorer"),
        "what ml-platform owes"
    );
    h.assert_no_write();
}

#[tokio::test]
async fn the_static_files() {
    let h = Harness::bob();
    let css = h.get("/static/board.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header(header::CONTENT_TYPE), "text/css; charset=utf-8");
    assert_eq!(css.body, include_str!("board.css"));
    let js = h.get("/static/board.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.header(header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.body, include_str!("board.js"));
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let h = Harness::bob();
    for path in ["/nope", "/models/a/b/c/d", "/static/other.js", "/api/teams"] {
        let page = h.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.error(), "no such page", "{path}");
    }
    // A GET of the write is not a write.
    let page = h.get("/signoff").await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    h.assert_no_write();
}

#[tokio::test]
async fn events_streams_a_change_each_time_the_data_changes() {
    let h = Harness::bob();
    let response = h.app.clone().oneshot(get("/events")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers("GET /events", response.headers());
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    h.changes.send_replace(7);
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("a change within 5 s")
            .expect("the stream goes on")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    assert_eq!(seen, "event: change\ndata: 7\n\n");
}

#[tokio::test]
async fn every_loopback_spelling_of_the_bound_address_is_this_board() {
    let h = Harness::bob();
    for host in [
        "127.0.0.1:7180",
        "localhost:7180",
        "LOCALHOST:7180",
        "[::1]:7180",
    ] {
        let request = Request::get("/")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(h.send(request).await.status, StatusCode::OK, "{host}");
    }
}

// ---- signing off ----

#[tokio::test]
async fn signing_off_creates_the_attestation_as_the_form_said() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    let answer = h
        .send(post(
            &form,
            &[("origin", ORIGIN), ("sec-fetch-site", "same-origin")],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(
        answer.header(header::LOCATION),
        "/models/payments/fraud-scorer"
    );

    let writes = h.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let write = &writes[0];
    assert_eq!(write.method, "POST");
    assert_eq!(
        write.path,
        "/apis/accord.dev/v1alpha1/namespaces/payments/attestations"
    );
    let sent: Value = serde_json::from_str(&write.body).unwrap();
    assert_eq!(sent["apiVersion"], "accord.dev/v1alpha1");
    assert_eq!(sent["kind"], "Attestation");
    assert_eq!(sent["metadata"]["name"], "fraud-scorer-2.4.0-latency-bob");
    assert_eq!(
        sent["spec"],
        json!({
            "modelDeployment": "fraud-scorer",
            "item": "latency",
            "version": "2.4.0",
            "candidate": fingerprint(),
            "evidence": "https://ci.example.com/runs/9",
            "comment": "p99 41 ms at 2x",
        }),
        "no attestedBy or team: the webhook writes those"
    );
}

#[tokio::test]
async fn signing_off_without_evidence_or_comment_leaves_them_out() {
    let h = Harness::bob();
    let form = with(
        with(h.form_of("latency").await, "evidence", Some("  ")),
        "comment",
        None,
    );
    let answer = h.send(post(&form, &[("sec-fetch-site", "none")])).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let sent: Value = serde_json::from_str(&h.writes()[0].body).unwrap();
    assert_eq!(sent["spec"].get("evidence"), None);
    assert_eq!(sent["spec"].get("comment"), None);
}

#[test]
fn the_attestation_is_named_after_the_item_and_the_signer() {
    let form = |model: &str, version: &str, item: &str| SignOffForm {
        csrf: None,
        namespace: "payments".into(),
        model: model.into(),
        item: item.into(),
        version: version.into(),
        fingerprint: String::new(),
        evidence: String::new(),
        comment: String::new(),
        confirm: None,
    };
    let name = server::attestation_name;
    assert_eq!(
        name(&form("fraud-scorer", "2.4.0", "latency"), "bob"),
        "fraud-scorer-2.4.0-latency-bob"
    );
    assert_eq!(
        name(
            &form("fraud-scorer", "2.4.0", "latency"),
            "Bob.Smith@Corp.example"
        ),
        "fraud-scorer-2.4.0-latency-bob-smith-corp-example"
    );
    assert_eq!(
        name(
            &form("fraud-scorer", "2.4.0", "latency"),
            "system:serviceaccount:ci:bot"
        ),
        "fraud-scorer-2.4.0-latency-system-serviceaccount-ci-bot"
    );
    let long = name(&form(&"m".repeat(250), "2.4.0", "latency"), "bob");
    assert!(long.len() <= 253 && !long.ends_with('-'), "{long}");
}

/// A cluster whose webhook refuses every Attestation: mallory is in no Team.
fn webhook_denies(call: &Call) -> Option<(u16, String)> {
    if call.method == "POST" {
        return Some((403, status_json(403, "Forbidden", DENIED)));
    }
    cluster(call)
}

const DENIED: &str = "admission webhook \"validate.attestations.accord.dev\" denied the request: mallory is not in team data-platform";

#[tokio::test]
async fn the_webhooks_refusal_is_shown_as_it_said() {
    let h = Harness::new(me("mallory"), world(), Arc::new(webhook_denies));
    let form = fields(&[
        ("csrf", TOKEN),
        ("namespace", "payments"),
        ("model", "fraud-scorer"),
        ("item", "drift"),
        ("version", "2.4.0"),
        ("fingerprint", &fingerprint()),
        ("confirm", "yes"),
    ]);
    let page = h.send(post(&form, &[("origin", ORIGIN)])).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(page.error(), DENIED);
    assert!(page.body.contains(r#"<a href="/">Back</a>"#));
    assert_eq!(h.writes().len(), 1, "the cluster was asked, and refused");
}

#[tokio::test]
async fn signing_off_twice_says_so() {
    let h = Harness::new(
        me("bob"),
        world(),
        Arc::new(|call: &Call| {
            if call.method == "POST" {
                let message =
                    r#"attestations.accord.dev "fraud-scorer-2.4.0-latency-bob" already exists"#;
                return Some((409, status_json(409, "AlreadyExists", message)));
            }
            cluster(call)
        }),
    );
    let form = h.form_of("latency").await;
    let page = h.send(post(&form, &[])).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert_eq!(
        page.error(),
        r#"you already signed off latency of fraud-scorer 2.4.0: attestations.accord.dev "fraud-scorer-2.4.0-latency-bob" already exists"#
    );
}

#[tokio::test]
async fn a_cluster_that_cannot_be_reached_is_a_bad_gateway() {
    let h = Harness::new(me("bob"), world(), Arc::new(|_: &Call| None));
    let form = h.form_of("latency").await;
    let page = h.send(post(&form, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert!(
        page.error()
            .starts_with(&format!("cannot reach the cluster at {SERVER}: ")),
        "{}",
        page.error()
    );
}

// ---- refusals: none of them reaches the cluster ----

#[tokio::test]
async fn a_foreign_host_is_refused_for_every_path_and_method() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    for host in [
        "evil.example:7180",
        "127.0.0.1:7181",
        "localhost",
        "localhost.evil.example:7180",
    ] {
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/static/board.css"),
            ("GET", "/static/board.js"),
            ("GET", "/api/models"),
            ("GET", "/events"),
            ("POST", "/signoff"),
        ] {
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, host);
            let body = if method == "POST" {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&form)
                        .finish(),
                )
            } else {
                Body::empty()
            };
            let answer = h.send(request.body(body).unwrap()).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{method} {path} for {host}"
            );
            assert_eq!(
                answer.body,
                format!(
                    "refused: this board serves only its own address, not Host {host:?} \
                     (a page on another site may be trying to reach it)\n"
                ),
                "{method} {path} for {host}"
            );
            assert!(!answer.body.contains(":root"), "no stylesheet");
        }
    }
    h.assert_no_write();
}

#[tokio::test]
async fn a_request_without_host_is_refused() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    let get = Request::get("/").body(Body::empty()).unwrap();
    let answer = h.send(get).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("not Host \"\""), "{}", answer.body);
    let mut request = post(&form, &[]);
    request.headers_mut().remove(header::HOST);
    assert_eq!(h.send(request).await.status, StatusCode::FORBIDDEN);
    h.assert_no_write();
}

async fn refused(h: &Harness, form: &[(String, String)], headers: &[(&str, &str)]) -> Answer {
    let answer = h.send(post(form, headers)).await;
    assert!(
        !answer.body.contains(TOKEN),
        "a refusal never shows the token"
    );
    h.assert_no_write();
    answer
}

#[tokio::test]
async fn a_write_without_this_boards_token_is_refused() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    let token = WriteRefusal::Token.to_string();
    let other_board = CsrfToken::generate();
    for (why, form) in [
        ("no token", with(form.clone(), "csrf", None)),
        ("empty token", with(form.clone(), "csrf", Some(""))),
        (
            "wrong token",
            with(form.clone(), "csrf", Some("5f0c-test-token-of-this-boarD")),
        ),
        (
            "longer token",
            with(form.clone(), "csrf", Some(&format!("{TOKEN}0"))),
        ),
        (
            "another board's",
            with(form.clone(), "csrf", Some(other_board.as_str())),
        ),
    ] {
        let answer = refused(&h, &form, &[]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{why}");
        assert_eq!(answer.error(), token, "{why}");
    }
}

#[tokio::test]
async fn a_write_from_another_site_is_refused_even_with_the_token() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    for (headers, from) in [
        (
            vec![("origin", "http://evil.example:7180")],
            "http://evil.example:7180",
        ),
        (vec![("origin", "null")], "null"),
        (
            vec![("origin", "https://127.0.0.1:7180")],
            "https://127.0.0.1:7180",
        ),
        (
            vec![("sec-fetch-site", "cross-site")],
            "Sec-Fetch-Site: cross-site",
        ),
        (
            vec![("sec-fetch-site", "same-site")],
            "Sec-Fetch-Site: same-site",
        ),
        (
            vec![("origin", ORIGIN), ("sec-fetch-site", "cross-site")],
            "Sec-Fetch-Site: cross-site",
        ),
    ] {
        let answer = refused(&h, &form, &headers).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(
            answer.error(),
            format!(
                "refused: the request came from another site ({from}); sign off from the board's own page"
            )
        );
    }
}

#[tokio::test]
async fn a_write_without_the_confirmation_is_refused() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    for confirm in [None, Some("on"), Some(""), Some("YES")] {
        let answer = refused(&h, &with(form.clone(), "confirm", confirm), &[]).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{confirm:?}");
        assert_eq!(answer.error(), "tick the confirmation box to sign off");
    }
}

#[tokio::test]
async fn a_write_for_a_candidate_that_changed_is_refused() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    h.calls.lock().unwrap().clear();
    // 2.4.1 replaces 2.4.0 while the page is open.
    {
        let mut snapshot = h.snapshot.lock().unwrap();
        let mut newer = (*snapshot.mds[0]).clone();
        newer.spec.model.version = "2.4.1".into();
        snapshot.mds[0] = Arc::new(newer);
    }
    let answer = refused(&h, &form, &[]).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.error(),
        "the candidate of payments/fraud-scorer changed since the page was loaded (now 2.4.1); \
         nothing was signed: reload and review the new candidate"
    );
    assert_eq!(h.calls().len(), 0, "the cluster was not asked at all");

    // Same version, another image: another candidate too.
    {
        let mut snapshot = h.snapshot.lock().unwrap();
        let mut rebuilt = (*snapshot.mds[0]).clone();
        rebuilt.spec.model.version = "2.4.0".into();
        rebuilt.spec.serving.image = Some("registry.example.com/fraud-scorer:2.4.0-rebuilt".into());
        snapshot.mds[0] = Arc::new(rebuilt);
    }
    let answer = refused(&h, &form, &[]).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(
        answer
            .error()
            .contains("changed since the page was loaded (now 2.4.0)")
    );
    // A fingerprint made up by hand, and a model that is not there.
    let h = Harness::bob();
    let forged = with(form.clone(), "fingerprint", Some("sha256:0000"));
    assert_eq!(refused(&h, &forged, &[]).await.status, StatusCode::CONFLICT);
    let ghost = with(form, "model", Some("ghost"));
    let answer = refused(&h, &ghost, &[]).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.error(),
        "ModelDeployment payments/ghost is not there"
    );
    assert_eq!(h.calls().len(), 0);
}

#[tokio::test]
async fn a_malformed_write_is_refused() {
    let h = Harness::bob();
    let form = h.form_of("latency").await;
    let answer = refused(&h, &with(form, "fingerprint", None), &[]).await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    let answer = h
        .send(
            Request::post("/signoff")
                .header(header::HOST, HOST)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"csrf":"x"}"#))
                .unwrap(),
        )
        .await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    h.assert_no_write();
}

// ---- what a person wrote is never markup or a script link ----

#[tokio::test]
async fn evidence_that_is_not_http_is_text_not_a_link() {
    let script_link = Regex::new(r#"(?i)<a\b[^>]*href="\s*javascript"#).unwrap();
    // The checks can fail.
    let bad =
        r#"<a class="evidence" href=" JavaScript:alert(1)">x</a><a href="data:text/html,x">y</a>"#;
    assert_eq!(
        dangerous_links(bad),
        ["javascript:alert(1)", "data:text/html,x"]
    );
    assert!(script_link.is_match(bad));
    let h = Harness::bob();
    for path in ["/", "/models/payments/fraud-scorer"] {
        let body = h.get(path).await.body;
        assert_eq!(dangerous_links(&body), Vec::<String>::new(), "{path}");
        assert!(!script_link.is_match(&body), "{path}");
    }
    let owed = h.get("/").await.body;
    assert!(owed.contains(
        r#"<span class="evidence unsafe" title="not an http(s) link, shown as text"> JavaScript:alert(1)</span>"#
    ), "{owed}");
    let model = h.get("/models/payments/fraud-scorer").await.body;
    assert!(model.contains(
        r#"<span class="evidence unsafe" title="not an http(s) link, shown as text">javascript:alert(document.cookie)</span>"#
    ), "{model}");
}

#[tokio::test]
async fn markup_in_the_data_is_escaped() {
    let mut snapshot = world();
    let mut hostile = incident("inc-2", LONG_AGO + 50, Some(IncidentPhase::Open));
    hostile.spec.summary = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#.into();
    snapshot.incidents.push(Arc::new(hostile));
    let mut fraud = (*snapshot.mds[0]).clone();
    fraud.spec.handoff.checklist[1].description = Some("<b onmouseover=alert(3)>p99</b>".into());
    snapshot.mds[0] = Arc::new(fraud);
    let h = Harness::new(me("bob<i>"), snapshot, Arc::new(cluster));
    for path in ["/", "/models", "/models/payments/fraud-scorer"] {
        let body = h.get(path).await.body;
        for raw in ["<script>alert", "<img src=x", "<b onmouseover", "bob<i>"] {
            assert!(!body.contains(raw), "{path} has {raw}");
        }
    }
    let models = h.get("/models").await.body;
    assert!(models.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        h.get("/")
            .await
            .body
            .contains("<strong>bob&lt;i&gt;</strong>")
    );
}
