//! The board behind an identity-aware proxy, over HTTP without a cluster: who a request
//! is from comes only from a trusted peer's headers, each person has their own form
//! token, and nothing is shown that the API server did not say they may read (here it
//! cannot be reached, so nothing is).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use tokio::sync::watch;
use tower::ServiceExt;

use super::{
    callers::ProxyMode,
    guard::{CsrfToken, Hosts},
    proxy::ProxyAuth,
    server::{self, Board, Source},
    views::{Me, Snapshot},
};
use crate::fixtures::waiting;

struct Fixed(Mutex<Snapshot>, watch::Sender<u64>);

impl Source for Fixed {
    fn snapshot(&self) -> Snapshot {
        self.0.lock().unwrap().clone()
    }
    fn changes(&self) -> watch::Receiver<u64> {
        self.1.subscribe()
    }
    fn problems(&self) -> Vec<String> {
        vec![]
    }
}

const HOST: &str = "board.example:443";
const KEY: &str = "process-key";

/// A board behind a proxy at 10.0.3.0/24, whose API server cannot be reached.
fn board() -> Router {
    let mut config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    config.connect_timeout = Some(std::time::Duration::from_millis(200));
    let client = kube::Client::try_from(config.clone()).unwrap();
    let snapshot = Snapshot {
        mds: vec![Arc::new(waiting())],
        ..Default::default()
    };
    server::router(Board {
        source: Arc::new(Fixed(Mutex::new(snapshot), watch::channel(0).0)),
        client,
        me: Me {
            user: "system:serviceaccount:accord-system:accord-board".into(),
            groups: vec![],
        },
        server: "https://kubernetes.default.svc".into(),
        token: CsrfToken::fixed(KEY),
        hosts: Hosts::for_address("0.0.0.0:7180".parse().unwrap(), &[HOST.into()]),
        proxy: Some(ProxyMode::new(
            ProxyAuth {
                user_header: "x-forwarded-user".into(),
                groups_header: "x-forwarded-groups".into(),
                trusted: vec!["10.0.3.0/24".parse().unwrap()],
            },
            config,
        )),
        session: None,
    })
}

fn request(
    method: &str,
    path: &str,
    peer: Option<&str>,
    user: Option<&str>,
    body: &str,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(user) = user {
        builder = builder
            .header("x-forwarded-user", user)
            .header("x-forwarded-groups", "data-platform-eng");
    }
    let mut request = builder.body(Body::from(body.to_string())).unwrap();
    if let Some(peer) = peer {
        let addr: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
    }
    request
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn identity_headers_count_only_from_the_proxy() {
    let app = board();
    let (status, body) = send(
        &app,
        request("GET", "/", Some("192.168.1.7:5000"), Some("alice"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body.contains("192.168.1.7 is not the identity-aware proxy"),
        "{body}"
    );
    let (status, body) = send(&app, request("GET", "/", None, Some("alice"), "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no peer known: {body}");
    let (status, body) = send(&app, request("GET", "/", Some("10.0.3.4:5000"), None, "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("did not say who you are"), "{body}");
    let (status, body) = send(
        &app,
        request("GET", "/", Some("10.0.3.4:5000"), Some("alice"), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Signed in as <strong>alice</strong> (groups: data-platform-eng)"),
        "{body}"
    );
    let (status, _) = send(&app, {
        let mut r = request("GET", "/", Some("10.0.3.4:5000"), Some("alice"), "");
        r.headers_mut()
            .insert("host", "evil.example:443".parse().unwrap());
        r
    })
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the Host check still applies"
    );
}

#[tokio::test]
async fn nothing_is_shown_that_the_api_server_did_not_allow() {
    let app = board();
    let (status, body) = send(
        &app,
        request(
            "GET",
            "/api/models",
            Some("10.0.3.4:5000"),
            Some("alice"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body, "[]",
        "the access reviews could not be asked, so nothing is visible"
    );
    let (status, body) = send(
        &app,
        request(
            "GET",
            "/models/payments/fraud-scorer",
            Some("10.0.3.4:5000"),
            Some("alice"),
            "",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn each_person_has_their_own_form_token() {
    let app = board();
    let key = CsrfToken::fixed(KEY);
    let (alice, bob) = (key.for_user("alice"), key.for_user("bob"));
    let form = |token: &str| {
        format!(
            "csrf={token}&namespace=payments&model=fraud-scorer&item=drift&version=2.4.0&fingerprint=x&confirm=yes"
        )
    };
    for (who, token) in [
        ("alice", bob.as_str()),
        ("alice", KEY),
        ("bob", alice.as_str()),
    ] {
        let (status, body) = send(
            &app,
            request(
                "POST",
                "/signoff",
                Some("10.0.3.4:5000"),
                Some(who),
                &form(token),
            ),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{who} with another token: {body}"
        );
        assert!(body.contains("CSRF token"), "{body}");
    }
    // alice's own token passes the form check; the model is not visible to her, so the
    // write stops there, before any request to the cluster.
    let (status, body) = send(
        &app,
        request(
            "POST",
            "/signoff",
            Some("10.0.3.4:5000"),
            Some("alice"),
            &form(alice.as_str()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("is not there"), "{body}");
}

#[test]
fn each_kind_is_shown_only_where_the_person_may_list_it() {
    use super::callers::Visible;
    use accord_core::testing::{attestation, team};
    let mut other = waiting();
    other.metadata.namespace = Some("risk".into());
    let mut elsewhere = attestation("a2", "drift", "2.4.0", "alice", &[]);
    elsewhere.metadata.namespace = Some("risk".into());
    let snapshot = Snapshot {
        mds: vec![Arc::new(waiting()), Arc::new(other)],
        attestations: vec![
            Arc::new(attestation("a1", "drift", "2.4.0", "alice", &[])),
            Arc::new(elsewhere),
        ],
        teams: vec![Arc::new(team("data-platform", &["alice"], &[]))],
        ..Default::default()
    };
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    let namespace_of = |s: &Snapshot| {
        (
            s.mds
                .iter()
                .map(|m| m.metadata.namespace.clone().unwrap())
                .collect::<Vec<_>>(),
            s.attestations
                .iter()
                .map(|a| a.metadata.namespace.clone().unwrap())
                .collect::<Vec<_>>(),
            s.teams.len(),
        )
    };
    let some = Visible::Some {
        models: set(&["payments", "risk"]),
        attestations: set(&["risk"]),
        incidents: set(&[]),
        cluster: false,
    };
    assert_eq!(
        namespace_of(&some.filter(snapshot.clone())),
        (
            vec!["payments".into(), "risk".into()],
            vec!["risk".into()],
            0
        )
    );
    assert_eq!(
        namespace_of(&Visible::All.filter(snapshot.clone())),
        (
            vec!["payments".into(), "risk".into()],
            vec!["payments".into(), "risk".into()],
            1
        )
    );
}
