//! The board's HTTP server: the routes, the refusals every request passes first (a
//! foreign `Host`), the headers every answer carries (a strict Content-Security-Policy,
//! `no-store`), the sign-off form's write, and the live-update stream.

use std::{collections::BTreeSet, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Extension, Form, Json, Router,
    extract::{ConnectInfo, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{
        IntoResponse, Redirect, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::Stream;
use jiff::Timestamp;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Event};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use maud::{Markup, html};
use serde::Deserialize;
use tokio::sync::watch;

use super::{
    callers::{Caller, CallerError, ProxyMode, Visible},
    guard::{CsrfToken, Hosts, Session, check_write},
    html::{self, Frame, TeamView},
    model,
    views::{self, Me, ModelsQuery, Snapshot},
};
use crate::{
    api::{Attestation, AttestationSpec},
    matrix, teams,
};

/// Where the board's data comes from: the live watches, or fixed data in tests.
pub trait Source: Send + Sync + 'static {
    fn snapshot(&self) -> Snapshot;
    fn changes(&self) -> watch::Receiver<u64>;
    fn problems(&self) -> Vec<String>;
}

impl Source for super::cache::Cache {
    fn snapshot(&self) -> Snapshot {
        super::cache::Cache::snapshot(self)
    }
    fn changes(&self) -> watch::Receiver<u64> {
        super::cache::Cache::changes(self)
    }
    fn problems(&self) -> Vec<String> {
        super::cache::Cache::problems(self)
    }
}

/// Everything a request needs.
pub struct Board {
    pub source: Arc<dyn Source>,
    /// The caller's client: every read the watches do not cover, and every write.
    pub client: Client,
    pub me: Me,
    pub server: String,
    pub token: CsrfToken,
    pub hosts: Hosts,
    /// Set when the board runs in the cluster behind an identity-aware proxy: then
    /// each request's person comes from the proxy, and `client`/`me` are the board's.
    pub proxy: Option<ProxyMode>,
    /// The local board's login (a secret printed in the terminal, traded for a
    /// cookie); `None` behind a proxy, which authenticates people itself.
    pub session: Option<Session>,
}

/// The board, and the caller of the local board (always the same person).
struct Inner {
    board: Board,
    local: Arc<Caller>,
}

impl std::ops::Deref for Inner {
    type Target = Board;
    fn deref(&self) -> &Board {
        &self.board
    }
}

type Shared = Arc<Inner>;
type Who = Extension<Arc<Caller>>;

/// The board's routes, behind the `Host` check, the caller's identity and the response
/// headers.
pub fn router(board: Board) -> Router {
    let local = Arc::new(Caller {
        me: board.me.clone(),
        client: board.client.clone(),
        token: board.token.clone(),
        visible: Visible::All,
    });
    let board = Arc::new(Inner { board, local });
    Router::new()
        .route("/", get(owed))
        .route("/models", get(models))
        .route("/api/models", get(api_models))
        .route("/models/{ns}/{name}", get(model_page))
        .route("/models/{ns}/{name}/deployment", get(deployment))
        .route("/matrix", get(matrix_page))
        .route("/teams", get(teams_page))
        .route("/signoff", post(sign_off))
        .route("/login/{secret}", get(login))
        .route("/events", get(events))
        .route("/static/board.css", get(css))
        .route("/static/board.js", get(js))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(board.clone(), gate))
        .with_state(board)
}

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
                   img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Refuses a request for another `Host` (DNS rebinding) before any handler runs, and
/// sets the headers every answer carries.
async fn gate(State(board): State<Shared>, mut request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let mut response = if !board.hosts.allows(host) {
        (
            StatusCode::FORBIDDEN,
            format!(
                "refused: this board serves only its own address, not Host {:?} \
                 (a page on another site may be trying to reach it)\n",
                host.unwrap_or("")
            ),
        )
            .into_response()
    } else if !board.logged_in(&request) {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not logged in: open the link `kubectl accord board` printed in the terminal \
             that started it (it carries a secret only that terminal saw)\n",
        )
            .into_response()
    } else {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let headers = request.headers().clone();
        match board.caller(peer, &headers).await {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
            Err(CallerError::Refused(why)) => {
                (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
            }
            Err(CallerError::Client(e)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot act as you: {e}\n"),
            )
                .into_response(),
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: under it a browser sends `Origin: null` with the board's
        // own form POST, and the Origin check refuses it. `same-origin` still keeps the
        // board's address from every other site.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

impl Inner {
    /// Whether the request may use the board: always behind a proxy; locally, with the
    /// session cookie, or on its way to get it.
    fn logged_in(&self, request: &Request) -> bool {
        let Some(session) = &self.session else {
            return true;
        };
        let path = request.uri().path();
        path.starts_with("/login/")
            || path.starts_with("/static/")
            || session.admits(
                request
                    .headers()
                    .get(header::COOKIE)
                    .and_then(|v| v.to_str().ok()),
            )
    }

    /// Who a request is from: the local board's one person, or the proxy's.
    async fn caller(
        &self,
        peer: Option<std::net::IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Arc<Caller>, CallerError> {
        let Some(proxy) = &self.proxy else {
            return Ok(self.local.clone());
        };
        let namespaces: BTreeSet<String> = self
            .source
            .snapshot()
            .mds
            .iter()
            .filter_map(|m| m.metadata.namespace.clone())
            .collect();
        proxy.caller(peer, headers, &self.token, namespaces).await
    }
}

impl Board {
    /// What `caller` may see of the cache now.
    fn snapshot(&self, caller: &Caller) -> Snapshot {
        caller.visible.filter(self.source.snapshot())
    }

    /// A whole page around `body`.
    fn render(
        &self,
        caller: &Caller,
        title: &str,
        current: &str,
        live: bool,
        body: Markup,
    ) -> Markup {
        let problems = self.source.problems();
        let frame = Frame {
            csrf: caller.token.as_str(),
            me: &caller.me,
            server: &self.server,
            problems: &problems,
            live,
        };
        html::page(&frame, title, current, body)
    }

    /// A refusal page with `status`.
    fn refuse(
        &self,
        caller: &Caller,
        status: StatusCode,
        message: &str,
        back: Option<&str>,
    ) -> Response {
        (
            status,
            self.render(caller, "Refused", "", false, html::error(message, back)),
        )
            .into_response()
    }
}

async fn owed(State(board): State<Shared>, Extension(caller): Who) -> Markup {
    let snapshot = board.snapshot(&caller);
    let owed = views::owed(&snapshot, &caller.me, Timestamp::now());
    let signed = views::signed_recently(&snapshot, &caller.me, 20);
    let teams: Vec<String> = caller.me.teams(&snapshot).into_iter().collect();
    board.render(
        &caller,
        "What I owe",
        "/",
        true,
        html::owed(&owed, &signed, &teams, caller.token.as_str()),
    )
}

async fn models(
    State(board): State<Shared>,
    Extension(caller): Who,
    Query(query): Query<ModelsQuery>,
) -> Markup {
    let rows = views::models(&board.snapshot(&caller), &query, Timestamp::now());
    board.render(
        &caller,
        "Models",
        "/models",
        true,
        html::models(&rows, &query),
    )
}

async fn api_models(
    State(board): State<Shared>,
    Extension(caller): Who,
    Query(query): Query<ModelsQuery>,
) -> Json<Vec<views::ModelRisk>> {
    Json(views::models(
        &board.snapshot(&caller),
        &query,
        Timestamp::now(),
    ))
}

/// The Events about one ModelDeployment, read now with the caller's credentials.
async fn events_of(client: &Client, ns: &str, name: &str) -> Result<Vec<Event>, String> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let fields = format!("involvedObject.kind=ModelDeployment,involvedObject.name={name}");
    api.list(&ListParams::default().fields(&fields))
        .await
        .map(|l| l.items)
        .map_err(|e| match e {
            kube::Error::Api(s) => s.message,
            other => other.to_string(),
        })
}

async fn model_page(
    State(board): State<Shared>,
    Extension(caller): Who,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let (events, problem) = match events_of(&caller.client, &ns, &name).await {
        Ok(events) => (events, None),
        Err(e) => (vec![], Some(format!("Events are not shown: {e}"))),
    };
    let Some(page) = model::page(&board.snapshot(&caller), &ns, &name, &events) else {
        return board.refuse(
            &caller,
            StatusCode::NOT_FOUND,
            &format!("ModelDeployment {ns}/{name} is not there, or you may not read it"),
            Some("/models"),
        );
    };
    let body = html! {
        @if let Some(p) = problem { p class="problem" { (p) } }
        (html::model(&page))
    };
    board
        .render(&caller, &format!("{ns}/{name}"), "/models", true, body)
        .into_response()
}

async fn deployment(
    State(board): State<Shared>,
    Extension(caller): Who,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let api: Api<Deployment> = Api::namespaced(caller.client.clone(), &ns);
    match api.get_opt(&name).await {
        Ok(Some(d)) => {
            let spec = d.spec.unwrap_or_default();
            let st = d.status.unwrap_or_default();
            let images: Vec<String> = spec
                .template
                .spec
                .map(|p| p.containers.into_iter().filter_map(|c| c.image).collect())
                .unwrap_or_default();
            let labels = d.metadata.labels.unwrap_or_default();
            let body = html! {
                dl class="facts" {
                    dt { "Replicas" } dd { (st.ready_replicas.unwrap_or(0)) " ready of " (spec.replicas.unwrap_or(1)) }
                    dt { "Images" } dd { (images.join(", ")) }
                    dt { "Labels" } dd { ul { @for (k, v) in &labels { li { code { (k) "=" (v) } } } } }
                }
                p { a href={ "/models/" (ns) "/" (name) } { "Back to the model" } }
            };
            board
                .render(
                    &caller,
                    &format!("Deployment {ns}/{name}"),
                    "/models",
                    true,
                    body,
                )
                .into_response()
        }
        Ok(None) => board.refuse(
            &caller,
            StatusCode::NOT_FOUND,
            &format!("Deployment {ns}/{name} does not exist yet"),
            None,
        ),
        Err(kube::Error::Api(s)) => board.refuse(&caller, StatusCode::FORBIDDEN, &s.message, None),
        Err(e) => board.refuse(&caller, StatusCode::BAD_GATEWAY, &e.to_string(), None),
    }
}

async fn matrix_page(State(board): State<Shared>, Extension(caller): Who) -> Markup {
    let s = board.snapshot(&caller);
    let mds: Vec<_> = s.mds.iter().map(|m| (**m).clone()).collect();
    let policies: Vec<_> = s.policies.iter().map(|p| (**p).clone()).collect();
    board.render(
        &caller,
        "Responsibility matrix",
        "/matrix",
        true,
        html::matrix(&matrix::view(&mds, &policies)),
    )
}

async fn teams_page(State(board): State<Shared>, Extension(caller): Who) -> Markup {
    let s = board.snapshot(&caller);
    let mds: Vec<_> = s.mds.iter().map(|m| (**m).clone()).collect();
    let all: Vec<_> = s.teams.iter().map(|t| (**t).clone()).collect();
    let rows = teams::view(&all, &mds);
    let matrix = matrix::view(&mds, &[]);
    let views: Vec<TeamView> = rows
        .iter()
        .map(|row| {
            let team = all
                .iter()
                .find(|t| t.metadata.name.as_ref() == Some(&row.name));
            let owes = matrix
                .iter()
                .flat_map(|m| {
                    [&m.data, &m.platform, &m.application]
                        .into_iter()
                        .filter(|c| c.team == row.name)
                        .flat_map(move |c| {
                            c.pending
                                .iter()
                                .map(move |i| format!("{i} of {}", m.model_deployment))
                        })
                })
                .collect();
            TeamView {
                row,
                keys: team
                    .map(|t| {
                        t.spec
                            .signing_keys
                            .iter()
                            .map(|k| (k.user.clone(), key_summary(&k.key)))
                            .collect()
                    })
                    .unwrap_or_default(),
                revoked: team.map_or(0, |t| t.spec.revoked_keys.len()),
                owes,
            }
        })
        .collect();
    board.render(&caller, "Teams", "/teams", true, html::teams(&views))
}

/// A public key as its type and a short head of its body (the whole key is in the Team).
fn key_summary(key: &str) -> String {
    let mut parts = key.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let head: String = body
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{kind} …{head}")
}

/// The sign-off form, as posted.
#[derive(Debug, Deserialize)]
pub struct SignOffForm {
    pub csrf: Option<String>,
    pub namespace: String,
    pub model: String,
    pub item: String,
    pub version: String,
    pub fingerprint: String,
    #[serde(default)]
    pub evidence: String,
    #[serde(default)]
    pub comment: String,
    pub confirm: Option<String>,
}

/// The Attestation name the board creates: `attest`'s name and the signer, so each
/// member of a Team that needs several people gets their own.
pub fn attestation_name(form: &SignOffForm, user: &str) -> String {
    let base = crate::attest::attestation_name(&form.model, &form.version, &form.item);
    let who: String = user
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!("{base}-{}", who.trim_matches('-'));
    name.chars()
        .take(253)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Checks a posted form against what the board holds: the model and the candidate the
/// person saw must still be the ones the cluster has.
fn check_form(form: &SignOffForm, snapshot: &Snapshot) -> Result<(), String> {
    if form.confirm.as_deref() != Some("yes") {
        return Err("tick the confirmation box to sign off".into());
    }
    let md = snapshot
        .mds
        .iter()
        .find(|m| {
            m.metadata.namespace.as_deref() == Some(form.namespace.as_str())
                && m.metadata.name.as_deref() == Some(form.model.as_str())
        })
        .ok_or_else(|| {
            format!(
                "ModelDeployment {}/{} is not there",
                form.namespace, form.model
            )
        })?;
    if md.spec.model.version != form.version || md.spec.fingerprint() != form.fingerprint {
        return Err(format!(
            "the candidate of {}/{} changed since the page was loaded (now {}); nothing was signed: reload and review the new candidate",
            form.namespace, form.model, md.spec.model.version
        ));
    }
    Ok(())
}

async fn sign_off(
    State(board): State<Shared>,
    Extension(caller): Who,
    headers: HeaderMap,
    Form(form): Form<SignOffForm>,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(refusal) = check_write(
        &caller.token,
        &board.hosts,
        form.csrf.as_deref(),
        header("origin"),
        header("sec-fetch-site"),
    ) {
        return board.refuse(
            &caller,
            StatusCode::FORBIDDEN,
            &refusal.to_string(),
            Some("/"),
        );
    }
    if let Err(why) = check_form(&form, &board.snapshot(&caller)) {
        return board.refuse(&caller, StatusCode::CONFLICT, &why, Some("/"));
    }
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let attestation = Attestation::new(
        &attestation_name(&form, &caller.me.user),
        AttestationSpec {
            model_deployment: form.model.clone(),
            item: form.item.clone(),
            version: form.version.clone(),
            digest: None,
            candidate: Some(form.fingerprint.clone()),
            evidence: nonempty(&form.evidence),
            comment: nonempty(&form.comment),
            attested_by: None,
            team: None,
            incident: None,
            follow_ups: vec![],
            drill: None,
            signature: None,
        },
    );
    let api: Api<Attestation> = Api::namespaced(caller.client.clone(), &form.namespace);
    match api.create(&PostParams::default(), &attestation).await {
        Ok(_) => {
            Redirect::to(&format!("/models/{}/{}", form.namespace, form.model)).into_response()
        }
        Err(kube::Error::Api(s)) if s.code == 409 => board.refuse(
            &caller,
            StatusCode::CONFLICT,
            &format!(
                "you already signed off {} of {} {}: {}",
                form.item, form.model, form.version, s.message
            ),
            Some("/"),
        ),
        Err(kube::Error::Api(s)) => board.refuse(
            &caller,
            StatusCode::from_u16(s.code).unwrap_or(StatusCode::FORBIDDEN),
            &s.message,
            Some("/"),
        ),
        Err(e) => board.refuse(
            &caller,
            StatusCode::BAD_GATEWAY,
            &format!("cannot reach the cluster at {}: {e}", board.server),
            Some("/"),
        ),
    }
}

/// Server-sent events: `change` each time the watched data changes (at most about
/// three times a second), so an open page can refresh its `<main>`.
async fn events(
    State(board): State<Shared>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let changes = board.source.changes();
    let stream = futures::stream::unfold(changes, |mut rx| async move {
        rx.changed().await.ok()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = *rx.borrow_and_update();
        Some((
            Ok(SseEvent::default().event("change").data(n.to_string())),
            rx,
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("board.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("board.js"),
    )
}

/// `/login/<secret>`: trades the secret the terminal showed for the session cookie.
async fn login(State(board): State<Shared>, Path(secret): Path<String>) -> Response {
    match &board.session {
        Some(session) if session.login_matches(&secret) => (
            [(header::SET_COOKIE, session.set_cookie())],
            Redirect::to("/"),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            "this login link is not this board's (each start of the board prints a new one)\n",
        )
            .into_response(),
    }
}

async fn not_found(State(board): State<Shared>, Extension(caller): Who) -> Response {
    board.refuse(&caller, StatusCode::NOT_FOUND, "no such page", Some("/"))
}
