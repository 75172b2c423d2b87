//! The plugin's command line (clap) and [`run`], which hands each subcommand to its
//! module, connecting to the cluster only for the commands that need it. The binary
//! parses [`Args`] and prints what [`run`] returns; completion plans against [`Args`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{
    attest::{self, sign::SignRequest},
    completion, explain, history, matrix, pipeline,
    promote::{self, DryRun},
    rollback,
    scope::{Failure, GlobalFlags},
    status, team, teams, verify,
};

/// Everyday Accord jobs: see what a model waits for, sign off, review history, promote
/// through environments, roll back.
#[derive(Parser, Debug)]
#[command(name = "kubectl accord", version, about)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    Attest(AttestFlags),
    /// Check signed Attestations in a file against the owning Team's signing keys, as
    /// the operator will.
    Verify(VerifyFlags),
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
    /// The chain of environments around a model (dev → staging → prod): each one's
    /// active and candidate version, phase, soak progress, and who owes what there.
    Pipeline { model_deployment: String },
    /// Copy the active model and images of the upstream (spec.promotion.from) into this
    /// ModelDeployment's spec, as you: you become the candidate's introducer. With
    /// --dry-run it prints the change, with -o yaml the manifest to commit; neither writes.
    Promote {
        model_deployment: String,
        /// Print the change without writing it; `--dry-run=server` also has the API
        /// server and Accord's webhook check it.
        #[arg(
            long,
            value_enum,
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "client"
        )]
        dry_run: Option<DryRun>,
    },
    /// Request a rollback to the previous good version.
    Rollback { model_deployment: String },
    /// The responsibility matrix: for each model, the Team holding each role and what
    /// it owes, and the RACI per lifecycle stage that its HandoffPolicies declare.
    Matrix,
    /// Teams with members, models owned and items pending.
    Teams,
}

/// The flags of `attest`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct AttestFlags {
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
}

/// The flags of `verify`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct VerifyFlags {
    /// File of Attestations (YAML, several documents allowed; `-` for stdin).
    #[arg(short = 'f', long)]
    filename: PathBuf,
    /// Team manifests to check against (default: the cluster's Teams).
    #[arg(long)]
    team_file: Vec<PathBuf>,
    /// The ModelDeployment manifest (default: the cluster's, when reachable).
    #[arg(long)]
    model_deployment_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Print the Team manifest with a member's SSH public key added to
    /// spec.signingKeys, ready to commit (or to apply).
    AddKey(AddKeyFlags),
}

/// The flags of `team add-key`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct AddKeyFlags {
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
}

/// Runs the command; only commands that need the cluster connect to it.
pub async fn run(args: &Args) -> Result<String, Failure> {
    let global = &args.global;
    match &args.command {
        Command::Status {
            model_deployment,
            watch: false,
        } => status::run(&global.connect().await?, model_deployment).await,
        Command::Status {
            model_deployment,
            watch: true,
        } => status::watch(&global.connect().await?, model_deployment, print_now).await,
        Command::Completion { shell } => Ok(completion::script(
            *shell,
            &mut <Args as clap::CommandFactory>::command(),
        )),
        Command::Attest(flags) => attest(global, flags).await,
        Command::Verify(flags) => verify(global, flags).await,
        Command::Team {
            command: TeamCommand::AddKey(flags),
        } => add_key(global, flags).await,
        Command::Explain {
            model_deployment, ..
        } => explain::run(&global.connect().await?, model_deployment).await,
        Command::History { model_deployment } => {
            history::run(&global.connect().await?, model_deployment).await
        }
        Command::Pipeline { model_deployment } => {
            pipeline::run(&global.connect().await?, model_deployment).await
        }
        Command::Promote {
            model_deployment,
            dry_run,
        } => promote::run(&global.connect().await?, model_deployment, *dry_run).await,
        Command::Rollback { model_deployment } => {
            rollback::run(&global.connect().await?, model_deployment).await
        }
        Command::Matrix => matrix::run(&global.connect().await?).await,
        Command::Teams => teams::run(&global.connect().await?).await,
    }
}

/// Prints at once, for output that comes in pieces (`status --watch`).
fn print_now(text: &str) {
    use std::io::Write;
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// `attest`: creates the Attestation, or with `--sign`, `--print-statement` or
/// `--from-file` prints a signed one, connecting only for what the flags do not say.
async fn attest(global: &GlobalFlags, flags: &AttestFlags) -> Result<String, Failure> {
    if !(flags.sign || flags.print_statement || flags.from_file.is_some()) {
        let scope = global.connect().await?;
        return attest::run(
            &scope,
            &flags.model_deployment,
            &flags.item,
            flags.evidence.clone(),
            flags.comment.clone(),
        )
        .await;
    }
    let request = SignRequest {
        model_deployment: &flags.model_deployment,
        item: &flags.item,
        evidence: flags.evidence.clone(),
        comment: flags.comment.clone(),
        key: flags.key.clone(),
        signer: flags.signer.clone(),
        from_file: flags.from_file.clone(),
        namespace: global.namespace.clone(),
        print_statement: flags.print_statement,
    };
    let scope = global.connect_if(request.needs_cluster()).await?;
    attest::sign::run(scope.as_ref(), &request).await
}

/// `verify`: with Team files it works offline, from files only.
async fn verify(global: &GlobalFlags, flags: &VerifyFlags) -> Result<String, Failure> {
    let scope = global.connect_if(flags.team_file.is_empty()).await?;
    verify::run(
        scope.as_ref(),
        &flags.filename,
        &flags.team_file,
        flags.model_deployment_file.as_deref(),
    )
    .await
}

/// `team add-key`: from the cluster's Team unless a file is given.
async fn add_key(global: &GlobalFlags, flags: &AddKeyFlags) -> Result<String, Failure> {
    let scope = global.connect_if(flags.filename.is_none()).await?;
    let request = team::AddKey {
        team: &flags.team,
        user: &flags.user,
        key: &flags.key,
        valid_before: flags.valid_before,
        filename: flags.filename.as_deref(),
        in_place: flags.in_place,
    };
    team::run_add_key(scope.as_ref(), &request).await
}
