//! The Accord operator: parses flags, sets up logging and the client, and runs.

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use accord::{
    controller::gate::TrustAsWritten,
    operator::{self, Config},
    telemetry::{self, LogFormat},
};
use clap::Parser;

/// Accord: gated, accountable promotion of machine-learning models on Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "accord", version, about)]
struct Args {
    /// Kubeconfig file; in-cluster configuration or $KUBECONFIG is used when absent.
    #[arg(long, env = "ACCORD_KUBECONFIG")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "ACCORD_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Run the reconcilers only while holding the leader Lease.
    #[arg(long, env = "ACCORD_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "ACCORD_LEASE_NAME", default_value = "accord-leader")]
    lease_name: String,
    /// Namespace of the leader Lease (defaults to $POD_NAMESPACE, else `default`).
    #[arg(long, env = "ACCORD_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity (defaults to $POD_NAME, else host name and process id).
    #[arg(long, env = "ACCORD_IDENTITY")]
    identity: Option<String>,
    /// Log format.
    #[arg(long, env = "ACCORD_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

async fn client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration found: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("cannot create a Kubernetes client: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_format);
    let client = match client(args.kubeconfig.as_deref()).await {
        Ok(client) => client,
        Err(err) => {
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let identity = args
        .identity
        .or_else(|| std::env::var("POD_NAME").ok())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_else(|_| "accord".into());
            format!("{}-{}", host.trim(), std::process::id())
        });
    let config = Config {
        metrics_addr: args.metrics_addr,
        leader_election: args.leader_election,
        lease_name: args.lease_name,
        lease_namespace: args
            .lease_namespace
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into()),
        identity,
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), identity = %config.identity, "starting accord");
    match operator::run(client, config, Arc::new(TrustAsWritten)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
