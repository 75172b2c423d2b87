//! `kubectl accord`: Accord's kubectl plugin. Put it on PATH and run `kubectl accord --help`.

use std::process::ExitCode;

use accord::plugin::commands::{self, Output, Scope};
use clap::{Parser, Subcommand};

/// Everyday Accord jobs: see what a model waits for, sign off, review history, roll back.
#[derive(Parser, Debug)]
#[command(name = "kubectl accord", version, about)]
struct Args {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// Namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// All namespaces (matrix).
    #[arg(short = 'A', long, global = true)]
    all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Candidate and active version, phase, conditions, and who attested what.
    Status { model_deployment: String },
    /// Attest a checklist item of the current candidate, as yourself.
    Attest {
        model_deployment: String,
        /// The checklist item's id.
        #[arg(long)]
        item: String,
        /// A link to the evidence.
        #[arg(long)]
        evidence: Option<String>,
        /// A note.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Promotions and rollbacks, with approvers.
    History { model_deployment: String },
    /// Request a rollback to the previous good version.
    Rollback { model_deployment: String },
    /// The responsibility matrix: models × data/platform/application teams.
    Matrix,
    /// Teams with members, models owned and items pending.
    Teams,
}

async fn scope(args: &Args) -> Result<Scope, String> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| format!("no usable kubeconfig: {e}"))?;
    let server = config.cluster_url.to_string();
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client =
        kube::Client::try_from(config).map_err(|e| format!("cannot create a client: {e}"))?;
    Ok(Scope {
        client,
        namespace,
        all_namespaces: args.all_namespaces,
        output: args.output,
        server,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let scope = match scope(&args).await {
        Ok(scope) => scope,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match &args.command {
        Command::Status { model_deployment } => commands::status(&scope, model_deployment).await,
        Command::Attest {
            model_deployment,
            item,
            evidence,
            comment,
        } => {
            commands::attest(
                &scope,
                model_deployment,
                item,
                evidence.clone(),
                comment.clone(),
            )
            .await
        }
        Command::History { model_deployment } => commands::history(&scope, model_deployment).await,
        Command::Rollback { model_deployment } => {
            commands::rollback(&scope, model_deployment).await
        }
        Command::Matrix => commands::matrix(&scope).await,
        Command::Teams => commands::teams(&scope).await,
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
