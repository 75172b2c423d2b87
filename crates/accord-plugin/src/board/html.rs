//! The board's pages as HTML. maud escapes every interpolated value, evidence becomes a
//! link only through [`guard::safe_href`], and the pages work without JavaScript: the
//! one script only swaps `<main>` when the server says something changed.

use jiff::Timestamp;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{
    guard::safe_href,
    model::{How, ModelPage},
    views::{Me, ModelRisk, ModelsQuery, Owed, Signed},
};
use crate::{
    matrix::{MatrixCell, MatrixRow},
    teams::TeamRow,
};

/// What every page shows around its content.
pub struct Frame<'a> {
    pub me: &'a Me,
    /// The caller's form token, also in a `<meta>` of every live page (for scripts and
    /// tools that post without a form); never on a refusal.
    pub csrf: &'a str,
    pub server: &'a str,
    /// Watches that fail now.
    pub problems: &'a [String],
    /// Whether the page follows live updates (not for answers to a POST).
    pub live: bool,
}

const NAV: [(&str, &str); 4] = [
    ("/", "What I owe"),
    ("/models", "Models"),
    ("/matrix", "Matrix"),
    ("/teams", "Teams"),
];

/// A whole page: title, navigation, who the caller is, then `body` in `<main>`.
pub fn page(frame: &Frame, title: &str, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                @if frame.live { meta name="csrf-token" content=(frame.csrf); }
                title { (title) " — Accord board" }
                link rel="stylesheet" href="/static/board.css";
                @if frame.live { script src="/static/board.js" defer {} }
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    nav aria-label="Board" {
                        ul {
                            @for (href, label) in NAV {
                                li { a href=(href) aria-current=[(href == current).then_some("page")] { (label) } }
                            }
                        }
                    }
                    p class="who" {
                        "Signed in as " strong { (frame.me.user) }
                        @if !frame.me.groups.is_empty() { " (groups: " (frame.me.groups.join(", ")) ")" }
                        " on " code { (frame.server) }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    @for p in frame.problems { p class="problem" role="alert" { (p) } }
                    (body)
                }
                p id="live" class="live" aria-live="polite" {}
            }
        }
    }
}

/// Evidence: a link for `http`/`https`, text otherwise.
pub fn evidence(url: &Option<String>) -> Markup {
    match url.as_deref() {
        None => html! { "—" },
        Some(url) => match safe_href(url) {
            Some(href) => {
                html! { a class="evidence" href=(href) rel="noopener noreferrer" { (href) } }
            }
            None => {
                html! { span class="evidence unsafe" title="not an http(s) link, shown as text" { (url) } }
            }
        },
    }
}

fn when(at: Option<Timestamp>) -> Markup {
    match at {
        Some(at) => html! { time datetime=(at) { (at.strftime("%Y-%m-%d %H:%M:%S UTC")) } },
        None => html! { "—" },
    }
}

fn model_link(ns: &str, name: &str) -> Markup {
    html! { a href={ "/models/" (ns) "/" (name) } { (ns) "/" (name) } }
}

/// The sign-off form of one owed item.
fn sign_form(o: &Owed, n: usize, csrf: &str) -> Markup {
    html! {
        form class="signoff" method="post" action="/signoff" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="namespace" value=(o.namespace);
            input type="hidden" name="model" value=(o.model);
            input type="hidden" name="item" value=(o.item);
            input type="hidden" name="version" value=(o.version);
            input type="hidden" name="fingerprint" value=(o.fingerprint);
            label for={ "evidence-" (n) } { "Evidence (URL)" }
            input type="url" id={ "evidence-" (n) } name="evidence" placeholder="https://ci.example/run/1";
            label for={ "comment-" (n) } { "Comment" }
            input type="text" id={ "comment-" (n) } name="comment" maxlength="4096";
            span class="confirm" {
                input type="checkbox" id={ "confirm-" (n) } name="confirm" value="yes" required;
                label for={ "confirm-" (n) } { "I reviewed " (o.item) " of " (o.model) " " (o.version) }
            }
            button type="submit" { "Sign off " (o.item) }
        }
    }
}

/// `/`: what the caller's Teams owe, and what they signed recently.
pub fn owed(owed: &[Owed], signed: &[Signed], teams: &[String], csrf: &str) -> Markup {
    html! {
        @if teams.is_empty() {
            p { "You are in no Team, so nothing is owed by you. Teams list their members by user name and group." }
        } @else {
            p { "Your Teams: " (teams.join(", ")) "." }
        }
        h2 { "Open items, oldest first" }
        @if owed.is_empty() {
            p id="owed-none" { "Nothing is owed by your Teams." }
        } @else {
            table id="owed" {
                caption { (owed.len()) " open items" }
                thead { tr {
                    th scope="col" { "Model" } th scope="col" { "Candidate" } th scope="col" { "Item" }
                    th scope="col" { "Still needed" } th scope="col" { "Owed since" } th scope="col" { "Escalates" }
                    th scope="col" { "Sign off" }
                } }
                tbody {
                    @for (n, o) in owed.iter().enumerate() {
                        tr data-item={ (o.namespace) "/" (o.model) "/" (o.item) } class=[o.overdue.then_some("overdue")] {
                            td { (model_link(&o.namespace, &o.model)) }
                            td { (o.version) br; code class="fingerprint" { (o.fingerprint) } }
                            td { strong { (o.item) } " (" (o.role) ")"
                                 @if let Some(d) = &o.description { br; (d) }
                                 @if let Some(r) = &o.reason { br; span class="reason" { "Did not count: " (r) } } }
                            td { (o.still) }
                            td { (when(o.since)) }
                            td { (when(o.deadline)) @if o.overdue { " " strong class="badge" { "overdue" } } }
                            td { @if o.authored_by_me { "You introduced this candidate, so another member of " (o.team) " must sign it off." } @else if o.signed_by_me { "You signed this; another member must too." } @else { (sign_form(o, n, csrf)) } }
                        }
                    }
                }
            }
        }
        h2 { "Signed recently by your Teams" }
        @if signed.is_empty() { p { "Nothing yet." } } @else {
            table id="signed" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Model" } th scope="col" { "Item" } th scope="col" { "Version" } th scope="col" { "By" } th scope="col" { "Evidence" } } }
                tbody { @for s in signed { tr {
                    td { (when(s.at)) } td { (model_link(&s.namespace, &s.model)) } td { (s.item) }
                    td { (s.version) } td { (s.by) " (" (s.team) ")" } td { (evidence(&s.evidence)) }
                } } }
            }
        }
    }
}

fn sort_link(query: &ModelsQuery, sort: &str, label: &str) -> Markup {
    let mut q = query.clone();
    q.sort = Some(sort.to_string());
    let qs = query_string(&q);
    html! { a href={ "/models?" (qs) } { (label) } }
}

/// The query string of a [`ModelsQuery`].
fn query_string(q: &ModelsQuery) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("ns", &q.ns), ("team", &q.team), ("sort", &q.sort)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// `/models`: every model with what makes it risky, sortable and filterable.
pub fn models(rows: &[ModelRisk], query: &ModelsQuery) -> Markup {
    html! {
        form class="filters" method="get" action="/models" {
            label for="ns" { "Namespace" }
            input type="text" id="ns" name="ns" value=(query.ns.clone().unwrap_or_default());
            label for="team" { "Team" }
            input type="text" id="team" name="team" value=(query.team.clone().unwrap_or_default());
            @if let Some(sort) = &query.sort { input type="hidden" name="sort" value=(sort); }
            button type="submit" { "Filter" }
            " " a href={ "/api/models?" (query_string(query)) } { "as JSON" }
        }
        table id="models" {
            caption { (rows.len()) " models; " (rows.iter().filter(|r| !r.risks.is_empty()).count()) " with risks" }
            thead { tr {
                th scope="col" { (sort_link(query, "name", "Model")) }
                th scope="col" { (sort_link(query, "phase", "Phase")) }
                th scope="col" { "Candidate" } th scope="col" { "Serving" }
                th scope="col" { "Teams (data / platform / application)" }
                th scope="col" { (sort_link(query, "risk", "Risks")) }
            } }
            tbody {
                @for r in rows {
                    tr data-model={ (r.namespace) "/" (r.name) } class=[(!r.risks.is_empty()).then_some("risky")] {
                        td { (model_link(&r.namespace, &r.name)) }
                        td { (r.phase.as_deref().unwrap_or("—")) }
                        td { (r.candidate) }
                        td { (r.active.as_deref().unwrap_or("—")) }
                        td { (r.data) " / " (r.platform) " / " (r.application) }
                        td {
                            @if r.risks.is_empty() { "none" } @else {
                                ul class="risks" { @for k in &r.risks {
                                    li data-kind=(k.kind) { strong { (k.kind) } ": " (k.message) }
                                } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn how(h: How) -> &'static str {
    match h {
        How::InCluster => "in the cluster",
        How::Signed => "signed (SSH)",
        How::Carried => "carried from upstream",
        How::AutoApproved => "auto-approved",
    }
}

fn checklist(page: &ModelPage) -> Markup {
    html! {
        table id="checklist" {
            caption { "Checklist for " (page.status.candidate) }
            thead { tr { th scope="col" { "Item" } th scope="col" { "Team" } th scope="col" { "State" } th scope="col" { "Signed off by" } } }
            tbody { @for i in &page.items {
                tr data-item=(i.id) data-state=(i.state()) {
                    th scope="row" { (i.id) @if let Some(d) = &i.description { br; span class="desc" { (d) } } }
                    td { (i.team) " (" (i.owner) ")" }
                    td { (i.state()) @if let Some(r) = &i.reason { br; span class="reason" { (r) } } }
                    td { @if i.sign_offs.is_empty() { "—" } @else { ul { @for s in &i.sign_offs { li {
                        strong { (s.by) } ", " (how(s.how))
                        @if let Some(f) = &s.from { " (" (f) ")" }
                        @if s.at.is_some() { ", " (when(s.at)) }
                        @if s.evidence.is_some() { ", evidence: " (evidence(&s.evidence)) }
                    } } } }
                    }
                }
            } }
        }
    }
}

/// `/models/{ns}/{name}`.
pub fn model(page: &ModelPage) -> Markup {
    let st = &page.status;
    html! {
        dl class="facts" {
            dt { "Phase" } dd { (st.phase.as_deref().unwrap_or("—")) }
            dt { "Candidate" } dd { (st.candidate) " " code class="fingerprint" { (st.fingerprint) } }
            dt { "Serving" } dd { (st.active.as_deref().unwrap_or("—")) }
            dt { "Introduced by" } dd { (st.candidate_author.as_deref().unwrap_or("—")) }
            dt { "Deployment" } dd { a href={ "/models/" (st.namespace) "/" (st.name) "/deployment" } { (page.deployment) } }
        }
        h2 { "Checklist" }
        (checklist(page))
        @if !st.incidents.open.is_empty() {
            h2 { "Open incidents" }
            ul { @for i in &st.incidents.open { li { (i.name) ": " (i.summary) } } }
        }
        @if let Some(c) = &page.canary {
            h2 { "Canary" }
            p { (c.version) " on " (c.replicas) " pods, started " (c.started_at) "; " (c.failed_measurements) " failed measurements" }
            @if !c.measurements.is_empty() { ol id="measurements" { @for m in &c.measurements { li { (m) } } } }
        }
        h2 { "Rollback plan" }
        p id="rollback" { (page.rollback_mode) ", " (page.progress_deadline_seconds) " s to become available; would restore "
            (page.rollback_target.as_deref().unwrap_or("nothing yet (no earlier available version)")) }
        h2 { "Timeline" }
        @if page.timeline.is_empty() { p { "Nothing has happened yet." } } @else {
            table id="timeline" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Source" } th scope="col" { "What" } } }
                tbody { @for m in &page.timeline { tr data-source=(m.source) { td { (when(m.at)) } td { (m.source) } td { (m.what) } } } }
            }
        }
    }
}

fn cell(c: &MatrixCell) -> Markup {
    html! { (c.team) @if c.pending.is_empty() { " ✓" } @else { br; span class="owes" { "owes " (c.pending.join(", ")) } } }
}

/// `/matrix`: as `kubectl accord matrix -A` prints it.
pub fn matrix(rows: &[MatrixRow]) -> Markup {
    html! {
        table id="matrix" {
            thead { tr { th scope="col" { "Model" } th scope="col" { "Candidate" } th scope="col" { "Phase" } th scope="col" { "Data" } th scope="col" { "Platform" } th scope="col" { "Application" } } }
            tbody { @for r in rows { tr {
                th scope="row" { a href={ "/models/" (r.model_deployment) } { (r.model_deployment) } }
                td { (r.candidate) } td { (r.phase.as_deref().unwrap_or("—")) }
                td { (cell(&r.data)) } td { (cell(&r.platform)) } td { (cell(&r.application)) }
            } } }
        }
        @let raci: Vec<_> = rows.iter().flat_map(|r| r.responsibilities.iter().map(move |x| (r, x))).collect();
        @if !raci.is_empty() {
            h2 { "Responsibilities (from HandoffPolicies)" }
            table id="raci" {
                thead { tr { th scope="col" { "Model" } th scope="col" { "Stage" } th scope="col" { "Responsible" } th scope="col" { "Accountable" } th scope="col" { "Consulted" } th scope="col" { "Informed" } th scope="col" { "Enforced by Accord" } } }
                tbody { @for (r, x) in raci { tr {
                    td { (r.model_deployment) } th scope="row" { (x.stage) }
                    td { (x.responsible.join(", ")) } td { (x.accountable.join(", ")) }
                    td { (x.consulted.join(", ")) } td { (x.informed.join(", ")) }
                    td { (x.enforced_by_accord.as_deref().unwrap_or("—")) @if let Some(c) = &x.conflict { br; span class="reason" { (c) } } }
                } } }
            }
        }
    }
}

/// One Team on `/teams`: its row, and its keys.
pub struct TeamView<'a> {
    pub row: &'a TeamRow,
    pub keys: Vec<(String, String)>,
    pub revoked: usize,
    pub owes: Vec<String>,
}

/// `/teams`.
pub fn teams(teams: &[TeamView]) -> Markup {
    html! {
        @for t in teams {
            section aria-labelledby={ "team-" (t.row.name) } data-team=(t.row.name) {
                h2 id={ "team-" (t.row.name) } { (t.row.name) }
                dl class="facts" {
                    dt { "Members" } dd { (t.row.users.join(", ")) @for g in &t.row.groups { " group:" (g) } }
                    dt { "Models" } dd { (t.row.model_deployments.len()) }
                    dt { "Owes" } dd { @if t.owes.is_empty() { "nothing" } @else { (t.owes.join(", ")) } }
                    dt { "Signing keys" } dd { @if t.keys.is_empty() { "none" } @else { ul { @for (user, key) in &t.keys { li { (user) ": " code { (key) } } } } }
                        @if t.revoked > 0 { " (" (t.revoked) " revoked)" } }
                }
            }
        }
    }
}

/// A refusal or failure, with the reason as the API server (or the board) gave it.
pub fn error(message: &str, back: Option<&str>) -> Markup {
    html! {
        p id="error" role="alert" { (message) }
        @if let Some(back) = back { p { a href=(back) { "Back" } } }
    }
}

/// A notice shown after a write.
pub fn notice(message: &str) -> Markup {
    html! { p id="notice" role="status" { (PreEscaped("&#10003; ")) (message) } }
}
