//! `kubectl accord board`: the sign-off board, a web page on loopback for everyone who
//! shares a model. It acts with the caller's own credentials (their RBAC and Accord's
//! webhook apply to every read and write), learns who they are from a
//! SelfSubjectReview, and keeps what it shows in memory from watches.
//!
//! Pure parts: [`guard`] (what is refused), [`views`] and [`model`] (what each page
//! shows), [`html`] (how). I/O: [`cache`] (the watches) and [`server`] (the routes).

use std::{future::IntoFuture, net::SocketAddr, time::Duration};

use crate::{
    identity,
    scope::{Failure, GlobalFlags},
};

pub mod cache;
pub mod callers;
pub mod guard;
pub mod html;
pub mod model;
pub mod proxy;
pub mod server;
pub mod views;

#[cfg(test)]
mod proxy_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

/// `board` flags.
#[derive(clap::Args, Debug)]
pub struct BoardArgs {
    /// Address to serve on. Loopback by default: anything else exposes a page that
    /// writes with your credentials to whoever can reach it.
    #[arg(long, default_value = "127.0.0.1:7180")]
    pub address: SocketAddr,
    /// Another `Host` name the board answers to, with its port (e.g. behind an SSH
    /// tunnel, or the proxy's external name); repeatable. Requests for any other Host
    /// are refused.
    #[arg(long = "allow-host")]
    pub allow_host: Vec<String>,
    /// Open the board in the default browser ($BROWSER, else xdg-open).
    #[arg(long)]
    pub open: bool,
    /// Serve many people from the cluster, behind an identity-aware proxy: believe the
    /// proxy's identity headers, only from --trust-proxy addresses, and impersonate
    /// that person for every API call. Needs the `impersonate` right (docs/board.md).
    #[arg(long, requires = "trust_proxy")]
    pub proxy_auth: bool,
    /// The proxy's address range (e.g. 10.0.3.0/24); repeatable. Identity headers from
    /// anywhere else are refused (401).
    #[arg(long = "trust-proxy", value_parser = parse_cidr)]
    pub trust_proxy: Vec<proxy::Cidr>,
    /// The header naming the user, with --proxy-auth.
    #[arg(long, default_value = "X-Forwarded-User")]
    pub user_header: String,
    /// The header listing the groups (comma-separated or repeated), with --proxy-auth.
    #[arg(long, default_value = "X-Forwarded-Groups")]
    pub groups_header: String,
}

fn parse_cidr(text: &str) -> Result<proxy::Cidr, String> {
    text.parse()
}

/// Who the board is to the API server, and how it acts for people.
struct Acting {
    me: views::Me,
    reach: cache::Reach,
    proxy: Option<callers::ProxyMode>,
}

/// The local board acts as its caller (every namespace if they may list there);
/// the board behind a proxy reads everything with its own identity and acts as each
/// person.
async fn acting(
    flags: &GlobalFlags,
    args: &BoardArgs,
    scope: &crate::scope::Scope,
) -> Result<Acting, Failure> {
    let info = identity::user_info(&scope.client)
        .await
        .map_err(|e| scope.failure(e))?;
    let me = views::Me {
        user: info.username.unwrap_or_default(),
        groups: info.groups.unwrap_or_default(),
    };
    if args.proxy_auth {
        let config = crate::scope::kube_config(flags.kubeconfig.as_deref(), flags.context.clone())
            .await
            .map_err(Failure)?;
        let auth = proxy::ProxyAuth {
            user_header: args.user_header.to_ascii_lowercase(),
            groups_header: args.groups_header.to_ascii_lowercase(),
            trusted: args.trust_proxy.clone(),
        };
        return Ok(Acting {
            me,
            reach: cache::Reach::All,
            proxy: Some(callers::ProxyMode::new(auth, config)),
        });
    }
    let reach = if callers::may_list(&scope.client, "modeldeployments", None).await {
        cache::Reach::All
    } else {
        eprintln!(
            "you may not list ModelDeployments in every namespace: the board shows namespace {} (-n to pick another)",
            scope.namespace
        );
        cache::Reach::Namespace(scope.namespace.clone())
    };
    Ok(Acting {
        me,
        reach,
        proxy: None,
    })
}

fn open_browser(url: &str) {
    let opener = std::env::var("BROWSER").unwrap_or_else(|_| "xdg-open".into());
    if let Err(e) = std::process::Command::new(&opener).arg(url).spawn() {
        eprintln!("cannot open a browser with {opener} ({e}); open {url} yourself");
    }
}

/// The first line the board prints: where it is, for whom, and how exposed. The local
/// board's link carries its login secret.
fn started(
    args: &BoardArgs,
    me: &views::Me,
    bound: SocketAddr,
    session: Option<&guard::Session>,
) -> String {
    let url = match session {
        Some(s) => format!("http://{bound}{}", s.login_path()),
        None => format!("http://{bound}/"),
    };
    if args.proxy_auth {
        let trusted: Vec<String> = args.trust_proxy.iter().map(ToString::to_string).collect();
        format!(
            "Accord board on {url} behind an identity-aware proxy: {} and {} believed only from {}; \
             each person is impersonated by {}",
            args.user_header,
            args.groups_header,
            trusted.join(", "),
            me.user
        )
    } else if bound.ip().is_loopback() {
        format!(
            "Accord board for {} on {url} (loopback only; the link logs your browser in, keep it to yourself; Ctrl-C stops it)",
            me.user
        )
    } else {
        format!(
            "Accord board for {} on {url} — WARNING: not loopback; anyone who can reach {bound} can act as you",
            me.user
        )
    }
}

/// `board`: serves until interrupted.
pub async fn run(flags: &GlobalFlags, args: &BoardArgs) -> Result<String, Failure> {
    let scope = flags.connect().await?;
    let Acting { me, reach, proxy } = acting(flags, args, &scope).await?;
    eprintln!(
        "reading ModelDeployments, Attestations, Teams, HandoffPolicies and Incidents as {} …",
        me.user
    );
    let cache = cache::Cache::start(&scope.client, &reach);
    if let Err(problems) = cache.ready(Duration::from_secs(30)).await {
        eprintln!("not everything could be read yet ({problems}); the pages say what is missing");
    }
    let listener = tokio::net::TcpListener::bind(args.address)
        .await
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", args.address)))?;
    let bound = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
    let session = proxy
        .is_none()
        .then(|| guard::Session::generate(bound.port()));
    println!("{}", started(args, &me, bound, session.as_ref()));
    if let Some(session) = session.as_ref().filter(|_| args.open) {
        open_browser(&format!("http://{bound}{}", session.login_path()));
    }
    let board = server::Board {
        source: std::sync::Arc::new(cache),
        client: scope.client.clone(),
        me,
        server: scope.server.clone(),
        token: guard::CsrfToken::generate(),
        hosts: guard::Hosts::for_address(bound, &args.allow_host),
        proxy,
        session,
    };
    let app = server::router(board).into_make_service_with_connect_info::<SocketAddr>();
    // No graceful shutdown: open pages hold live-update streams that never end, and
    // the board keeps nothing to flush.
    tokio::select! {
        served = axum::serve(listener, app).into_future() => {
            served.map_err(|e| Failure(format!("the board stopped: {e}")))?;
        }
        _ = tokio::signal::ctrl_c() => eprintln!("board stopped"),
    }
    Ok(String::new())
}
