//! The plugin's command line (clap) and [`run`], which hands each subcommand to its
//! module, connecting to the cluster only for the commands that need it. The binary
//! parses [`Args`] and prints what [`run`] returns; completion plans against [`Args`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{
    api::{incident::ROOT_CAUSE_ANALYSIS, rollback_drill::DRILL_REVIEW},
    attest::{self, sign::SignRequest},
    audit, board, completion, drills, explain, history, incident, incidents, matrix, pipeline,
    promote::{self, DryRun},
    rollback,
    scope::{Failure, GlobalFlags},
    status, team, teams, verify,
};

/// Everyday Accord jobs: see what a model waits for, sign off, review history, promote
/// through environments, roll back, answer incidents.
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
    /// Incidents (of this namespace, or all with -A), open ones first: model, version,
    /// guard or who opened it, phase, owner and accountable Teams.
    Incidents,
    /// Show, acknowledge or open an Incident.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// RollbackDrills (of this namespace, or all with -A): schedule, target, the last
    /// run and its result, the last success, the next run, and the tabletop's reviews.
    Drills,
    /// Run a rollback drill now, or read a run's report.
    Drill {
        #[command(subcommand)]
        command: DrillCommand,
    },
    /// The responsibility matrix: for each model, the Team holding each role and what
    /// it owes, and the RACI per lifecycle stage that its HandoffPolicies declare, the
    /// stages Accord enforces marked.
    Matrix,
    /// Teams with members, models owned and items pending.
    Teams,
    /// Serve the sign-off board, a web page on loopback acting with your credentials:
    /// what your Teams owe (and a form to sign it off), the models and their risks, the
    /// matrix, the Teams (docs/board.md).
    Board(board::BoardArgs),
    /// Signed PromotionRecords: the operator's public keys, export, offline
    /// verification, and the serving versions today's policies would not promote.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print the public keys the operator signs PromotionRecords with, as PEM (the
    /// active one first), for `audit verify --key`.
    Key {
        /// The operator's namespace, where it publishes the keys (ConfigMap
        /// accord-record-keys).
        #[arg(long, default_value = audit::OPERATOR_NAMESPACE)]
        operator_namespace: String,
    },
    /// Write the PromotionRecords (of this namespace, or all with -A) as DSSE envelopes,
    /// one JSON line each, sorted by namespace, model and sequence.
    Export {
        /// Only records of the last DURATION (by spec.at): 90d, 12h, 30m, 1d12h.
        #[arg(long, value_name = "DURATION", value_parser = audit::parse_since)]
        since: Option<std::time::Duration>,
    },
    /// Verify an export offline against the published keys: signatures, Statements and
    /// each model's chain; exits non-zero when any record fails.
    Verify(AuditVerifyFlags),
    /// The serving versions that would not be promoted under today's policies (the
    /// operator's status.conformance): team, kind, item and why.
    Report,
}

/// The flags of `audit verify`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct AuditVerifyFlags {
    /// The export: one DSSE envelope (JSON) per line; `-` for stdin.
    file: PathBuf,
    /// A PEM file of public keys, as `audit key` prints them (repeatable; several
    /// keys per file allowed).
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
}

/// The flags of `attest`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct AttestFlags {
    model_deployment: String,
    /// The checklist item's id (`root-cause-analysis` with --incident, `drill-review`
    /// with --drill: their defaults).
    #[arg(long, required_unless_present_any = ["incident", "drill"])]
    item: Option<String>,
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
    /// Sign off the root cause of this Incident (item root-cause-analysis, the
    /// Incident's version; needs --evidence), as a member of its Accountable Team.
    #[arg(long)]
    incident: Option<String>,
    /// With --incident: a checklist item id the model's next candidate must carry
    /// (repeatable).
    #[arg(long = "follow-up", requires = "incident")]
    follow_ups: Vec<String>,
    /// Review this RollbackDrill run (`DRILL/RUN`, item drill-review, the run's target
    /// version), as a member of a role its tabletop lists.
    #[arg(long, value_name = "DRILL/RUN", conflicts_with_all = ["incident", "sign", "print_statement", "from_file"])]
    drill: Option<String>,
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
pub enum IncidentCommand {
    /// The Incident: what happened, who answers for it, its timeline, and what
    /// resolving it needs (the exact `kubectl accord attest` line).
    Show { incident: String },
    /// Acknowledge it: Accord records you (a member of its owner or accountable Team).
    Ack { incident: String },
    /// Open an Incident for the version a ModelDeployment serves, as you.
    Open(OpenFlags),
}

/// The flags of `incident open`.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct OpenFlags {
    model_deployment: String,
    /// What happened, one line.
    #[arg(long)]
    summary: String,
    /// Also roll the version back by the plan (needs rollback rights).
    #[arg(long)]
    roll_back: bool,
    /// The Incident's name (default: `<model-deployment>-<unix seconds>`).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DrillCommand {
    /// Run it now (as a member of the model's platform Team) and follow it step by
    /// step. Exits 0 when the run passed, 3 when it failed, 4 when it had not finished
    /// by --timeout, 1 when it could not be requested.
    Run {
        drill: String,
        /// Only request the run; do not wait for it (exits 0 once requested).
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for the run to finish (30s, 15m, 1h).
        #[arg(long, default_value = "15m", value_parser = audit::parse_since, conflicts_with = "no_wait")]
        timeout: std::time::Duration,
    },
    /// A run's report (the newest by default): target, steps, time to Ready, and the
    /// tabletop's reviews with the command that gives one.
    Report {
        drill: String,
        /// The run's id (kubectl accord drills shows the last one).
        #[arg(long)]
        run: Option<String>,
    },
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
        Command::Incidents => incidents::run(&global.connect().await?).await,
        Command::Drills => drills::list(&global.connect().await?).await,
        Command::Drill { command } => run_drill(global, command).await,
        Command::Incident { command } => run_incident(global, command).await,
        Command::Matrix => matrix::run(&global.connect().await?).await,
        Command::Teams => teams::run(&global.connect().await?).await,
        Command::Board(args) => board::run(global, args).await,
        Command::Audit { command } => run_audit(global, command).await,
    }
}

/// `audit key|export|verify|report`; `verify` works offline, from files only.
async fn run_audit(global: &GlobalFlags, command: &AuditCommand) -> Result<String, Failure> {
    match command {
        AuditCommand::Key { operator_namespace } => {
            audit::key(&global.connect().await?, operator_namespace).await
        }
        AuditCommand::Export { since } => {
            let scope = global.connect().await?;
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            audit::export(&scope, *since, &mut out).await
        }
        AuditCommand::Verify(flags) => audit::verify(&flags.file, &flags.keys, print_now),
        AuditCommand::Report => audit::report(&global.connect().await?).await,
    }
}

/// Prints at once, for output that comes in pieces (`status --watch`).
fn print_now(text: &str) {
    use std::io::Write;
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// Runs the command, and says the process's exit code: 0, or 1 for a failure, except
/// `drill run`, whose codes say how the run ended ([`drills::exit_code`]).
pub async fn run_to_exit(args: &Args) -> (Result<String, Failure>, u8) {
    match &args.command {
        Command::Drill {
            command:
                DrillCommand::Run {
                    drill,
                    no_wait,
                    timeout,
                },
        } => match args.global.connect().await {
            Ok(scope) => {
                let wait = (!no_wait).then_some(*timeout);
                drills::run_now(&scope, drill, wait, print_now).await
            }
            Err(failure) => (Err(failure), 1),
        },
        _ => {
            let result = run(args).await;
            let code = u8::from(result.is_err());
            (result, code)
        }
    }
}

/// `drill run|report`.
async fn run_drill(global: &GlobalFlags, command: &DrillCommand) -> Result<String, Failure> {
    let scope = global.connect().await?;
    match command {
        DrillCommand::Run {
            drill,
            no_wait,
            timeout,
        } => {
            let wait = (!no_wait).then_some(*timeout);
            drills::run_now(&scope, drill, wait, print_now).await.0
        }
        DrillCommand::Report { drill, run } => drills::show(&scope, drill, run.as_deref()).await,
    }
}

/// `incident show|ack|open`.
async fn run_incident(global: &GlobalFlags, command: &IncidentCommand) -> Result<String, Failure> {
    let scope = global.connect().await?;
    match command {
        IncidentCommand::Show { incident } => incident::show(&scope, incident).await,
        IncidentCommand::Ack { incident } => incident::ack(&scope, incident).await,
        IncidentCommand::Open(flags) => {
            let request = incident::Open {
                model_deployment: &flags.model_deployment,
                summary: &flags.summary,
                roll_back: flags.roll_back,
                name: flags.name.as_deref(),
            };
            incident::open(&scope, &request).await
        }
    }
}

/// The item `attest` signs off: `--item`, or with `--incident` the root-cause analysis
/// (which is the only item an Attestation naming an Incident may have), with `--drill`
/// the drill review (likewise).
fn attest_item(flags: &AttestFlags) -> Result<&str, Failure> {
    if flags.drill.is_some() {
        return match flags.item.as_deref() {
            None | Some(DRILL_REVIEW) => Ok(DRILL_REVIEW),
            Some(item) => Err(Failure(format!(
                "--drill reviews a drill run (item {DRILL_REVIEW}), not {item}: leave --item out"
            ))),
        };
    }
    if flags.item.as_deref() == Some(DRILL_REVIEW) {
        return Err(Failure(format!(
            "a {DRILL_REVIEW} reviews a drill run: add --drill DRILL/RUN (kubectl accord drill report DRILL shows it)"
        )));
    }
    match (flags.item.as_deref(), &flags.incident) {
        (Some(item), Some(_)) if item != ROOT_CAUSE_ANALYSIS => Err(Failure(format!(
            "--incident signs off item {ROOT_CAUSE_ANALYSIS}, not {item}: leave --item out"
        ))),
        (Some(ROOT_CAUSE_ANALYSIS), None) => Err(Failure(format!(
            "a {ROOT_CAUSE_ANALYSIS} resolves an Incident: add --incident NAME (kubectl accord incidents lists them)"
        ))),
        (Some(item), _) => Ok(item),
        (None, _) => Ok(ROOT_CAUSE_ANALYSIS),
    }
}

/// `attest`: creates the Attestation, or with `--sign`, `--print-statement` or
/// `--from-file` prints a signed one, connecting only for what the flags do not say.
async fn attest(global: &GlobalFlags, flags: &AttestFlags) -> Result<String, Failure> {
    let item = attest_item(flags)?;
    if !(flags.sign || flags.print_statement || flags.from_file.is_some()) {
        let scope = global.connect().await?;
        if let Some(reference) = &flags.drill {
            return drills::attest(
                &scope,
                &flags.model_deployment,
                reference,
                flags.evidence.clone(),
                flags.comment.clone(),
            )
            .await;
        }
        if let Some(incident) = &flags.incident {
            let rc = attest::rca::RootCause {
                model_deployment: &flags.model_deployment,
                evidence: flags.evidence.clone(),
                comment: flags.comment.clone(),
                follow_ups: flags.follow_ups.clone(),
            };
            return attest::rca::run(&scope, incident, &rc).await;
        }
        return attest::run(
            &scope,
            &flags.model_deployment,
            item,
            flags.evidence.clone(),
            flags.comment.clone(),
        )
        .await;
    }
    let request = SignRequest {
        model_deployment: &flags.model_deployment,
        item,
        evidence: flags.evidence.clone(),
        comment: flags.comment.clone(),
        key: flags.key.clone(),
        signer: flags.signer.clone(),
        from_file: flags.from_file.clone(),
        namespace: global.namespace.clone(),
        print_statement: flags.print_statement,
        incident: flags.incident.as_deref(),
        follow_ups: flags.follow_ups.clone(),
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn attest_flags(args: &[&str]) -> Result<AttestFlags, clap::Error> {
        let argv = ["kubectl-accord", "attest"].iter().chain(args);
        match Args::try_parse_from(argv)?.command {
            Command::Attest(flags) => Ok(flags),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attest_signs_off_a_root_cause_with_incident() {
        let rca = attest_flags(&["md", "--incident", "inc-1", "--evidence", "https://w/1"]);
        let rca = rca.unwrap();
        assert_eq!(attest_item(&rca).unwrap(), ROOT_CAUSE_ANALYSIS);
        let follow_ups = attest_flags(&[
            "md",
            "--item",
            "root-cause-analysis",
            "--incident",
            "inc-1",
            "--follow-up",
            "load-test",
            "--follow-up",
            "runbook",
        ])
        .unwrap();
        assert_eq!(follow_ups.follow_ups, ["load-test", "runbook"]);
        assert_eq!(attest_item(&follow_ups).unwrap(), ROOT_CAUSE_ANALYSIS);
        let other_item = attest_flags(&["md", "--item", "drift", "--incident", "inc-1"]).unwrap();
        assert!(
            attest_item(&other_item)
                .unwrap_err()
                .0
                .contains("leave --item out")
        );
        let no_incident = attest_flags(&["md", "--item", "root-cause-analysis"]).unwrap();
        assert!(
            attest_item(&no_incident)
                .unwrap_err()
                .0
                .contains("add --incident NAME")
        );
        assert_eq!(
            attest_item(&attest_flags(&["md", "--item", "drift"]).unwrap()).unwrap(),
            "drift"
        );
        assert!(attest_flags(&["md"]).is_err(), "an item or an incident");
        assert!(attest_flags(&["md", "--item", "drift", "--follow-up", "x"]).is_err());
    }

    #[test]
    fn attest_reviews_a_drill_run_with_drill() {
        let review = attest_flags(&["md", "--drill", "weekly/20261208-090000"]).unwrap();
        assert_eq!(review.drill.as_deref(), Some("weekly/20261208-090000"));
        assert_eq!(attest_item(&review).unwrap(), DRILL_REVIEW);
        let named = attest_flags(&["md", "--item", "drill-review", "--drill", "w/r"]).unwrap();
        assert_eq!(attest_item(&named).unwrap(), DRILL_REVIEW);
        let other = attest_flags(&["md", "--item", "drift", "--drill", "w/r"]).unwrap();
        assert!(
            attest_item(&other)
                .unwrap_err()
                .0
                .contains("leave --item out")
        );
        let no_drill = attest_flags(&["md", "--item", "drill-review"]).unwrap();
        assert!(
            attest_item(&no_drill)
                .unwrap_err()
                .0
                .contains("add --drill DRILL/RUN")
        );
        for conflict in [
            &["md", "--drill", "w/r", "--sign"][..],
            &["md", "--drill", "w/r", "--incident", "i"],
            &["md", "--drill", "w/r", "--print-statement"],
        ] {
            assert!(attest_flags(conflict).is_err(), "{conflict:?}");
        }
    }

    #[test]
    fn drill_subcommands_parse() {
        let parse = |args: &[&str]| {
            let argv = ["kubectl-accord"].iter().chain(args);
            Args::try_parse_from(argv).map(|a| a.command)
        };
        let Ok(Command::Drill {
            command:
                DrillCommand::Run {
                    drill,
                    no_wait: false,
                    timeout,
                },
        }) = parse(&["drill", "run", "weekly", "-n", "payments"])
        else {
            panic!()
        };
        assert_eq!((drill.as_str(), timeout.as_secs()), ("weekly", 15 * 60));
        assert!(matches!(
            parse(&["drill", "run", "weekly", "--timeout", "30s"]),
            Ok(Command::Drill { command: DrillCommand::Run { timeout, .. } }) if timeout.as_secs() == 30
        ));
        assert!(matches!(
            parse(&["drill", "run", "weekly", "--no-wait"]),
            Ok(Command::Drill {
                command: DrillCommand::Run { no_wait: true, .. }
            })
        ));
        assert!(parse(&["drill", "run", "weekly", "--no-wait", "--timeout", "1m"]).is_err());
        assert!(parse(&["drill", "run"]).is_err(), "a drill is named");
        assert!(matches!(
            parse(&["drill", "report", "weekly", "--run", "20261208-090000"]),
            Ok(Command::Drill { command: DrillCommand::Report { run: Some(run), .. } }) if run == "20261208-090000"
        ));
        assert!(parse(&["drills", "-A", "-o", "json"]).is_ok());
    }

    #[test]
    fn incident_subcommands_parse() {
        let args = Args::try_parse_from([
            "kubectl-accord",
            "incident",
            "open",
            "fraud-scorer",
            "--summary",
            "scores drift",
            "--roll-back",
        ])
        .unwrap();
        let Command::Incident {
            command: IncidentCommand::Open(flags),
        } = args.command
        else {
            panic!("{args:?}")
        };
        assert!(flags.roll_back && flags.name.is_none());
        assert!(Args::try_parse_from(["kubectl-accord", "incident", "open", "md"]).is_err());
        assert!(Args::try_parse_from(["kubectl-accord", "incidents", "-A"]).is_ok());
        assert!(Args::try_parse_from(["kubectl-accord", "incident", "ack", "i"]).is_ok());
    }

    #[test]
    fn audit_subcommands_parse() {
        let parse = |args: &[&str]| {
            let argv = ["kubectl-accord", "audit"].iter().chain(args);
            Args::try_parse_from(argv).map(|a| a.command)
        };
        let Ok(Command::Audit {
            command: AuditCommand::Key { operator_namespace },
        }) = parse(&["key"])
        else {
            panic!()
        };
        assert_eq!(operator_namespace, "accord-system");
        assert!(matches!(
            parse(&["key", "--operator-namespace", "accord"]),
            Ok(Command::Audit { command: AuditCommand::Key { operator_namespace } }) if operator_namespace == "accord"
        ));
        assert!(matches!(
            parse(&["export", "--since", "90d", "-A"]),
            Ok(Command::Audit { command: AuditCommand::Export { since: Some(d) } }) if d.as_secs() == 90 * 86_400
        ));
        assert!(parse(&["export", "--since", "3 weeks"]).is_err());
        let Ok(Command::Audit {
            command: AuditCommand::Verify(flags),
        }) = parse(&["verify", "-", "--key", "a.pem", "--key", "b.pem"])
        else {
            panic!()
        };
        assert_eq!(flags.file, PathBuf::from("-"));
        assert_eq!(flags.keys, [PathBuf::from("a.pem"), PathBuf::from("b.pem")]);
        assert!(
            parse(&["verify", "records.jsonl"]).is_err(),
            "--key is required"
        );
        assert!(parse(&["report", "-A", "-o", "json"]).is_ok());
    }
}
