//! The Accord operator: parses flags, sets up logging and the client, and runs.

// Long functions are split into named steps.
#![warn(clippy::too_many_lines)]

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use accord_core::{admission::Rights, timing::parse_duration};
use accord_operator::{
    operator::{self, Config},
    records::RecordConfig,
    registry::RegistryTarget,
    telemetry::{self, LogFormat},
    webhook::{WebhookConfig, certs::CertSource, configuration::Endpoint},
};
use clap::Parser;

/// Accord: gated, accountable promotion of machine-learning models on Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "accord", version, about)]
struct Args {
    /// Kubeconfig file; in-cluster configuration or $KUBECONFIG is used when absent.
    #[arg(long, env = "ACCORD_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// The operator's namespace, holding its Lease and Secrets (defaults to $POD_NAMESPACE, else accord-system).
    #[arg(long, env = "ACCORD_NAMESPACE")]
    namespace: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "ACCORD_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Run the reconcilers only while holding the leader Lease.
    #[arg(long, env = "ACCORD_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "ACCORD_LEASE_NAME", default_value = "accord-leader")]
    lease_name: String,
    /// Namespace of the leader Lease (defaults to --namespace).
    #[arg(long, env = "ACCORD_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity (defaults to $POD_NAME, else host name and process id).
    #[arg(long, env = "ACCORD_IDENTITY")]
    identity: Option<String>,
    /// Log format.
    #[arg(long, env = "ACCORD_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Serve the admission webhook (on every replica).
    #[arg(long, env = "ACCORD_WEBHOOK", default_value_t = true, action = clap::ArgAction::Set)]
    webhook: bool,
    /// Address of the webhook's HTTPS server.
    #[arg(long, env = "ACCORD_WEBHOOK_ADDR", default_value = "0.0.0.0:9443")]
    webhook_addr: SocketAddr,
    /// Write the webhook configurations at start-up, pointing at this base URL
    /// (for an operator outside the cluster), e.g. https://127.0.0.1:9443.
    #[arg(long, env = "ACCORD_WEBHOOK_URL", conflicts_with = "webhook_service")]
    webhook_url: Option<String>,
    /// Write the webhook configurations at start-up, pointing at this Service:
    /// NAMESPACE/NAME:PORT, e.g. accord-system/accord-webhook:443.
    #[arg(long, env = "ACCORD_WEBHOOK_SERVICE")]
    webhook_service: Option<String>,
    /// Serve this certificate (PEM, e.g. from cert-manager) instead of a self-managed one.
    #[arg(long, env = "ACCORD_WEBHOOK_CERT_FILE", requires = "webhook_key_file")]
    webhook_cert_file: Option<PathBuf>,
    /// The private key of --webhook-cert-file.
    #[arg(long, env = "ACCORD_WEBHOOK_KEY_FILE", requires = "webhook_cert_file")]
    webhook_key_file: Option<PathBuf>,
    /// Lifetime of self-managed serving certificates; renewed after two thirds of it.
    #[arg(long, env = "ACCORD_WEBHOOK_CERT_VALIDITY", default_value = "2160h")]
    webhook_cert_validity: String,
    /// Groups that may change owners and request rollbacks of any ModelDeployment.
    #[arg(
        long = "admin-group",
        env = "ACCORD_ADMIN_GROUPS",
        value_delimiter = ',',
        default_value = "accord-admins"
    )]
    admin_groups: Vec<String>,
    /// Other identities of this operator (user names as the API server authenticates
    /// them), e.g. the ServiceAccount of another replica. The operator's own identity is
    /// always included; only these write status and use the field manager `accord`.
    #[arg(
        long = "operator-identity",
        env = "ACCORD_OPERATOR_IDENTITIES",
        value_delimiter = ','
    )]
    operator_identities: Vec<String>,
    /// Identities GitOps controllers apply Git as (user names as the API server
    /// authenticates them, e.g. `system:serviceaccount:flux-system:kustomize-controller`).
    /// Attestations they apply must be signed (`kubectl accord attest --sign`); they may
    /// prune signed ones.
    #[arg(
        long = "gitops-identities",
        alias = "gitops-identity",
        env = "ACCORD_GITOPS_IDENTITIES",
        value_delimiter = ','
    )]
    gitops_identities: Vec<String>,
    /// DANGEROUS: count attestations without a valid seal, trusting attestedBy as written.
    /// Only for a cluster where the webhook cannot run.
    #[arg(long, env = "ACCORD_TRUST_UNSEALED_ATTESTATIONS", default_value_t = false, action = clap::ArgAction::Set)]
    trust_unsealed_attestations: bool,
    /// The cluster's name, written into every PromotionRecord so records exported from
    /// several clusters say where they were made.
    #[arg(long, env = "ACCORD_CLUSTER_NAME", default_value = "default")]
    cluster_name: String,
    /// Delete PromotionRecords older than this (e.g. `400d`); by default every record is
    /// kept.
    #[arg(long, env = "ACCORD_RECORD_RETENTION")]
    record_retention: Option<String>,
    /// Also attach each PromotionRecord to its images (those pinned by digest) in their
    /// OCI registries, as `cosign attest` does, so a policy engine elsewhere can verify
    /// them.
    #[arg(long, env = "ACCORD_RECORD_REGISTRY", default_value_t = false, action = clap::ArgAction::Set)]
    record_registry: bool,
    /// A `kubernetes.io/dockerconfigjson` Secret in the operator's namespace with push
    /// credentials for --record-registry (anonymous without it).
    #[arg(
        long,
        env = "ACCORD_RECORD_REGISTRY_SECRET",
        requires = "record_registry"
    )]
    record_registry_secret: Option<String>,
    /// Let rollback drills ask each target image's registry whether the manifest a
    /// rollback would pull is still there (their ImagePresent step; Skipped without it).
    #[arg(long, env = "ACCORD_DRILL_REGISTRY", default_value_t = false, action = clap::ArgAction::Set)]
    drill_registry: bool,
    /// A `kubernetes.io/dockerconfigjson` Secret in the operator's namespace with pull
    /// credentials for --drill-registry (anonymous without it).
    #[arg(
        long,
        env = "ACCORD_DRILL_REGISTRY_SECRET",
        requires = "drill_registry"
    )]
    drill_registry_secret: Option<String>,
    /// Only for measuring what records cost (`make bench-scale RECORDS=1`): write no
    /// PromotionRecords. Never in production: the audit trail then has gaps.
    #[arg(long, env = "ACCORD_WRITE_RECORDS", default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    write_records: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Check, through the API server, that Accord's admission webhook answers and decides
    /// (server-side dry runs in --namespace; nothing is stored). Exit status 0 when it
    /// does; what the chart's `helm test` runs.
    CheckWebhook {
        /// How long to retry while the webhook cannot be reached.
        #[arg(long, default_value = "60s")]
        timeout: String,
    },
}

/// `accord check-webhook`: prints what Accord's webhook answered, or why it did not.
async fn check_webhook(client: &kube::Client, namespace: &str, timeout: &str) -> ExitCode {
    let Some(timeout) = parse_duration(timeout) else {
        eprintln!("--timeout must be a duration such as 60s, not {timeout:?}");
        return ExitCode::from(2);
    };
    match accord_operator::webhook::check::run(client, namespace, timeout).await {
        Ok(answers) => {
            for answer in answers {
                println!("{answer}");
            }
            println!("Accord's admission webhook answers in namespace {namespace}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("Accord's admission webhook does not answer: {problem}");
            ExitCode::FAILURE
        }
    }
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

fn parse_service(text: &str) -> Result<Endpoint, String> {
    let err = || format!("--webhook-service must look like NAMESPACE/NAME:PORT, not {text:?}");
    let (namespace, rest) = text.split_once('/').ok_or_else(err)?;
    let (name, port) = rest.split_once(':').ok_or_else(err)?;
    Ok(Endpoint::Service {
        namespace: namespace.into(),
        name: name.into(),
        port: port.parse().map_err(|_| err())?,
    })
}

fn webhook_config(args: &Args, namespace: &str) -> Result<Option<WebhookConfig>, String> {
    if !args.webhook {
        return Ok(None);
    }
    let endpoint = match (&args.webhook_url, &args.webhook_service) {
        (Some(url), _) => Some(Endpoint::Url(url.clone())),
        (None, Some(service)) => Some(parse_service(service)?),
        (None, None) => None,
    };
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    match &endpoint {
        Some(Endpoint::Url(url)) => {
            let host = url
                .trim_start_matches("https://")
                .split(['/', ':'])
                .next()
                .unwrap_or_default();
            if !host.is_empty() && !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
            }
        }
        Some(Endpoint::Service {
            namespace, name, ..
        }) => {
            hosts.extend([
                format!("{name}.{namespace}.svc"),
                format!("{name}.{namespace}.svc.cluster.local"),
            ]);
        }
        None => {}
    }
    let validity = parse_duration(&args.webhook_cert_validity)
        .filter(|d| d.as_secs() >= 30)
        .ok_or_else(|| format!("--webhook-cert-validity must be a duration of at least 30s, such as 2160h, not {:?}", args.webhook_cert_validity))?;
    let certs = match (&args.webhook_cert_file, &args.webhook_key_file) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertSource::SelfManaged {
            namespace: namespace.to_string(),
            hosts,
            validity,
        },
    };
    let non_empty = |values: &[String]| -> Vec<String> {
        values.iter().filter(|v| !v.is_empty()).cloned().collect()
    };
    Ok(Some(WebhookConfig {
        addr: args.webhook_addr,
        certs,
        manage_configurations: endpoint,
        rights: Rights {
            admin_groups: non_empty(&args.admin_groups),
            operator_identities: non_empty(&args.operator_identities),
            gitops_identities: non_empty(&args.gitops_identities),
        },
    }))
}

fn record_config(args: &Args, namespace: &str) -> Result<RecordConfig, String> {
    let retention = args
        .record_retention
        .as_deref()
        .map(|text| {
            parse_duration(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    format!(
                        "--record-retention must be a duration such as 400d or 9000h, not {text:?}"
                    )
                })
        })
        .transpose()?;
    Ok(RecordConfig {
        cluster: args.cluster_name.clone(),
        retention,
        registry: args.record_registry.then(|| RegistryTarget {
            namespace: namespace.to_string(),
            secret: args.record_registry_secret.clone(),
        }),
        disabled: !args.write_records,
    })
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
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_else(|_| "accord".into());
            format!("{}-{}", host.trim(), std::process::id())
        });
    let namespace = args
        .namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "accord-system".into());
    if let Some(Command::CheckWebhook { timeout }) = &args.command {
        return check_webhook(&client, &namespace, timeout).await;
    }
    let webhook = match webhook_config(&args, &namespace) {
        Ok(webhook) => webhook,
        Err(err) => {
            tracing::error!("{err}");
            return ExitCode::from(2);
        }
    };
    let records = match record_config(&args, &namespace) {
        Ok(records) => records,
        Err(problem) => {
            eprintln!("{problem}");
            return ExitCode::from(2);
        }
    };
    let drill_registry = args.drill_registry.then(|| RegistryTarget {
        namespace: namespace.clone(),
        secret: args.drill_registry_secret.clone(),
    });
    let config = Config {
        metrics_addr: args.metrics_addr,
        leader_election: args.leader_election,
        lease_name: args.lease_name.clone(),
        lease_namespace: args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| namespace.clone()),
        identity,
        namespace,
        webhook,
        trust_unsealed_attestations: args.trust_unsealed_attestations,
        records,
        drill_registry,
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), identity = %config.identity, "starting accord");
    match operator::run(client, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
