//! `kubectl accord`: Accord's kubectl plugin. Put it on PATH and run `kubectl accord --help`.

use std::{path::PathBuf, process::ExitCode};

use accord_plugin::commands::{self, Failure, Output, Scope};
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
    /// Act as this user (Kubernetes impersonation; needs the `impersonate` right), e.g.
    /// to see what a teammate is refused.
    #[arg(long = "as", global = true)]
    as_user: Option<String>,
    /// Groups to act as, with --as (repeatable).
    #[arg(long = "as-group", global = true, requires = "as_user")]
    as_group: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Candidate and active version, phase, conditions, and who attested what.
    Status {
        model_deployment: String,
        /// Keep printing it whenever it changes, until interrupted (Ctrl-C).
        #[arg(short = 'w', long)]
        watch: bool,
    },
    /// Print a shell completion script for `kubectl-accord` (bash, zsh, fish, elvish,
    /// powershell). For `kubectl accord <TAB>` (kubectl 1.26+), link `kubectl-accord` as
    /// `kubectl_complete-accord` on PATH instead (see docs/plugin.md).
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Attest a checklist item of the current candidate, as yourself. With --sign, print
    /// a signed Attestation to commit to Git instead (for Flux or Argo CD to apply).
    Attest {
        model_deployment: String,
        /// The checklist item's id.
        #[arg(long)]
        item: String,
        /// A link to the evidence.
        #[arg(long)]
        evidence: Option<String>,
        /// A note (not covered by a signature).
        #[arg(long)]
        comment: Option<String>,
        /// Sign the sign-off with your SSH key (`ssh-keygen -Y sign`) and print the
        /// Attestation instead of creating it.
        #[arg(long)]
        sign: bool,
        /// The key file ssh-keygen signs with: a private key, or a public key whose
        /// private half is in ssh-agent or on a security key. Default: the first of
        /// ~/.ssh/id_ed25519, id_ecdsa, id_ed25519_sk, id_ecdsa_sk.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Your Kubernetes user name, as your Team lists it (default: who the cluster
        /// says you are).
        #[arg(long)]
        signer: Option<String>,
        /// Read the ModelDeployment from this manifest instead of the cluster.
        #[arg(long, short = 'f')]
        from_file: Option<PathBuf>,
        /// Print the exact statement --sign would sign, and nothing else.
        #[arg(long, conflicts_with = "sign")]
        print_statement: bool,
    },
    /// Check signed Attestations in a file against the owning Team's signing keys, as
    /// the operator will.
    Verify {
        /// File of Attestations (YAML, several documents allowed; `-` for stdin).
        #[arg(short = 'f', long)]
        filename: PathBuf,
        /// Team manifests to check against (default: the cluster's Teams).
        #[arg(long)]
        team_file: Vec<PathBuf>,
        /// The ModelDeployment manifest (default: the cluster's, when reachable).
        #[arg(long)]
        model_deployment_file: Option<PathBuf>,
    },
    /// Team chores.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// The effective checklist: which policy required what, and what each item still
    /// needs (how many more people, from which team, by when); and the model's RACI.
    Explain {
        /// `md` (the only kind explained so far).
        #[arg(value_parser = ["md", "modeldeployment", "modeldeployments"])]
        kind: String,
        model_deployment: String,
    },
    /// Promotions and rollbacks, with approvers.
    History { model_deployment: String },
    /// Request a rollback to the previous good version.
    Rollback { model_deployment: String },
    /// The responsibility matrix: for each model, the Team holding each role and what
    /// it owes, and the RACI per lifecycle stage that its HandoffPolicies declare.
    Matrix,
    /// Teams with members, models owned and items pending.
    Teams,
}

#[derive(Subcommand, Debug)]
enum TeamCommand {
    /// Print the Team manifest with a member's SSH public key added to
    /// spec.signingKeys, ready to commit (or to apply).
    AddKey {
        /// The Team's name.
        team: String,
        /// The member the key belongs to (listed in spec.members.users).
        #[arg(long)]
        user: String,
        /// Their OpenSSH public key file, e.g. ~/.ssh/id_ed25519.pub.
        #[arg(long)]
        key: PathBuf,
        /// The key stops counting at this time (RFC 3339).
        #[arg(long)]
        valid_before: Option<jiff::Timestamp>,
        /// Read the Team from this manifest instead of the cluster.
        #[arg(short = 'f', long)]
        filename: Option<PathBuf>,
        /// Write the result back to --filename instead of printing it.
        #[arg(long, requires = "filename")]
        in_place: bool,
    },
}

/// The client configuration from --kubeconfig (else $KUBECONFIG, ~/.kube/config) and
/// --context.
async fn kube_config(
    kubeconfig: Option<&std::path::Path>,
    context: Option<String>,
) -> Result<kube::Config, String> {
    let options = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| format!("no usable kubeconfig: {e}"))
}

async fn scope(args: &Args) -> Result<Scope, String> {
    let config = kube_config(args.kubeconfig.as_deref(), args.context.clone()).await?;
    let server = config.cluster_url.to_string();
    let mut config = config;
    if let Some(user) = &args.as_user {
        config.auth_info.impersonate = Some(user.clone());
        if !args.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(args.as_group.clone());
        }
    }
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

/// The names of the objects `api` lists (metadata only).
async fn names<K>(api: kube::Api<K>) -> Option<Vec<String>>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let list = api
        .list_metadata(&kube::api::ListParams::default())
        .await
        .ok()?;
    Some(
        list.items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect(),
    )
}

/// Answers kubectl's plugin completion (`kubectl_complete-accord WORDS…`, or
/// `kubectl-accord __complete WORDS…`): Cobra's protocol, object names from the cluster
/// in the scope typed so far (nothing, quietly, when it cannot be reached in 5 s).
async fn complete(words: &[String]) -> ExitCode {
    use accord_plugin::complete::{Lookup, plan};
    let plan = plan(&<Args as clap::CommandFactory>::command(), words);
    let list = async {
        let lookup = plan.lookup?;
        let kubeconfig = plan.kubeconfig.as_ref().map(PathBuf::from);
        let config = kube_config(kubeconfig.as_deref(), plan.context.clone())
            .await
            .ok()?;
        let namespace = plan
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).ok()?;
        Some(match lookup {
            Lookup::ModelDeployments => {
                names(kube::Api::<accord_api::ModelDeployment>::namespaced(
                    client, &namespace,
                ))
                .await?
            }
            Lookup::Teams => names(kube::Api::<accord_api::Team>::all(client)).await?,
            Lookup::Namespaces => {
                names(kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(
                    client,
                ))
                .await?
            }
        })
    };
    let names = tokio::time::timeout(std::time::Duration::from_secs(5), list)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    print!("{}", plan.render(&names));
    ExitCode::SUCCESS
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if name == Some("kubectl_complete-accord") {
        return complete(&argv[1..]).await;
    }
    if argv.get(1).map(String::as_str) == Some("__complete") {
        return complete(&argv[2..]).await;
    }
    let args = Args::parse();
    match run(&args).await {
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

/// Runs the command; only commands that need the cluster connect to it.
async fn run(args: &Args) -> Result<String, Failure> {
    let connect = || async { scope(args).await.map_err(Failure) };
    match &args.command {
        Command::Status {
            model_deployment,
            watch: false,
        } => commands::status(&connect().await?, model_deployment).await,
        Command::Status {
            model_deployment,
            watch: true,
        } => {
            let scope = connect().await?;
            commands::watch_status(&scope, model_deployment, |text| {
                use std::io::Write;
                print!("{text}");
                let _ = std::io::stdout().flush();
            })
            .await
        }
        Command::Completion { shell } => {
            let mut command = <Args as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut command, "kubectl-accord", &mut out);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Attest {
            model_deployment,
            item,
            evidence,
            comment,
            sign,
            key,
            signer,
            from_file,
            print_statement,
        } if *sign || *print_statement || from_file.is_some() => {
            let request = commands::SignRequest {
                model_deployment,
                item,
                evidence: evidence.clone(),
                comment: comment.clone(),
                key: key.clone(),
                signer: signer.clone(),
                from_file: from_file.clone(),
                namespace: args.namespace.clone(),
                print_statement: *print_statement,
            };
            let needs_cluster = from_file.is_none() || signer.is_none();
            let scope = if needs_cluster {
                Some(connect().await?)
            } else {
                None
            };
            commands::attest_signed(scope.as_ref(), &request).await
        }
        Command::Attest {
            model_deployment,
            item,
            evidence,
            comment,
            ..
        } => {
            commands::attest(
                &connect().await?,
                model_deployment,
                item,
                evidence.clone(),
                comment.clone(),
            )
            .await
        }
        Command::Verify {
            filename,
            team_file,
            model_deployment_file,
        } => {
            // With Team files it works offline, from files only.
            let scope = if team_file.is_empty() {
                Some(connect().await?)
            } else {
                None
            };
            commands::verify(
                scope.as_ref(),
                filename,
                team_file,
                model_deployment_file.as_deref(),
            )
            .await
        }
        Command::Team {
            command:
                TeamCommand::AddKey {
                    team,
                    user,
                    key,
                    valid_before,
                    filename,
                    in_place,
                },
        } => {
            let scope = if filename.is_none() {
                Some(connect().await?)
            } else {
                None
            };
            commands::team_add_key(
                scope.as_ref(),
                &commands::AddKey {
                    team,
                    user,
                    key,
                    valid_before: *valid_before,
                    filename: filename.as_deref(),
                    in_place: *in_place,
                },
            )
            .await
        }
        Command::Explain {
            model_deployment, ..
        } => commands::explain(&connect().await?, model_deployment).await,
        Command::History { model_deployment } => {
            commands::history(&connect().await?, model_deployment).await
        }
        Command::Rollback { model_deployment } => {
            commands::rollback(&connect().await?, model_deployment).await
        }
        Command::Matrix => commands::matrix(&connect().await?).await,
        Command::Teams => commands::teams(&connect().await?).await,
    }
}
