//! The local board's login over HTTP: nothing but the login link and the static files
//! answers without the session cookie, and the link gives it.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use tokio::sync::watch;
use tower::ServiceExt;

use super::{
    guard::{CsrfToken, Hosts, Session},
    server::{self, Board, Source},
    views::{Me, Snapshot},
};

struct Empty(Mutex<Snapshot>, watch::Sender<u64>);

impl Source for Empty {
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

const HOST: &str = "127.0.0.1:7180";

fn board() -> Router {
    let client =
        kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
    server::router(Board {
        source: Arc::new(Empty(Mutex::default(), watch::channel(0).0)),
        client,
        me: Me {
            user: "alice".into(),
            groups: vec![],
        },
        server: "https://127.0.0.1:6443".into(),
        token: CsrfToken::fixed("csrf"),
        hosts: Hosts::for_address(HOST.parse().unwrap(), &[]),
        proxy: None,
        session: Some(Session::fixed("s3cret", "c00kie", 7180)),
    })
}

async fn get(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>) {
    let mut request = Request::get(path).header("host", HOST);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
    };
    (
        response.status(),
        header(header::SET_COOKIE),
        header(header::LOCATION),
    )
}

#[tokio::test]
async fn without_the_cookie_only_the_login_link_answers() {
    let app = board();
    for path in [
        "/",
        "/models",
        "/api/models",
        "/teams",
        "/events",
        "/models/a/b",
    ] {
        let (status, cookie, _) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(cookie, None, "{path}");
        let (status, _, _) = get(&app, path, Some("accord-board-7180=wrong")).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} with a wrong cookie"
        );
    }
    let (status, _, _) = get(&app, "/static/board.css", None).await;
    assert_eq!(status, StatusCode::OK, "the stylesheet is no secret");
    let (status, cookie, _) = get(&app, "/login/guess", None).await;
    assert_eq!((status, cookie), (StatusCode::UNAUTHORIZED, None));
}

#[tokio::test]
async fn the_login_link_gives_the_cookie_and_the_cookie_opens_the_board() {
    let app = board();
    let (status, cookie, location) = get(&app, "/login/s3cret", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/"));
    let cookie = cookie.expect("a session cookie");
    assert_eq!(
        cookie,
        "accord-board-7180=c00kie; Path=/; HttpOnly; SameSite=Strict"
    );
    let (status, _, _) = get(&app, "/", Some("accord-board-7180=c00kie")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&app, "/", Some("accord-board-7181=c00kie")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another port's cookie is not this board's"
    );
}
