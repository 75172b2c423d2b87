//! Completion for `kubectl accord <TAB>`: kubectl (1.26+) runs the executable
//! `kubectl_complete-accord` with the words typed after `accord`, the last one being the
//! word to complete, and expects Cobra's `__complete` answer — one candidate per line
//! (`value<TAB>description`), then `:DIRECTIVE`. `kubectl-accord __complete WORDS…` and
//! `kubectl-accord` invoked under the name `kubectl_complete-accord` (a symlink) answer it.
//!
//! [`plan`] is pure: from the plugin's clap definition and the words it decides what to
//! offer — subcommands, flags, a flag's possible values, files — or which cluster objects
//! to list (ModelDeployments, Incidents, RollbackDrills and their runs, Teams,
//! Namespaces) in which scope; [`answer`] does the
//! listing and [`Plan::render`] prints the answer.

use std::path::{Path, PathBuf};

use clap::{Arg, Command, CommandFactory};

use crate::{cli::Args, scope::kube_config};

/// Cobra's directive: let the shell complete file names.
const DIRECTIVE_DEFAULT: u32 = 0;
/// Cobra's directive: offer only the candidates given, no file names.
const DIRECTIVE_NO_FILES: u32 = 4;

/// Cluster objects whose names complete the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    ModelDeployments,
    Incidents,
    /// RollbackDrill names.
    Drills,
    /// `DRILL/RUN` for each run the namespace's RollbackDrills keep (`attest --drill`).
    DrillRuns,
    /// The ids of the runs the drill named before keeps (`drill report NAME --run`).
    RunIds,
    Teams,
    Namespaces,
}

/// What to offer for the word being completed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The word typed so far.
    pub prefix: String,
    /// Fixed candidates (value, description).
    pub candidates: Vec<(String, String)>,
    /// Names to list from the cluster, if any.
    pub lookup: Option<Lookup>,
    /// The word is a file name.
    pub files: bool,
    /// The first positional word of the subcommand (the object it acts on), for
    /// lookups within it.
    pub object: Option<String>,
    /// Scope given on the command line, for the lookup.
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub kubeconfig: Option<String>,
}

impl Plan {
    /// Cobra's answer: the candidates (fixed ones and `names`) starting with the prefix,
    /// then the directive.
    pub fn render(&self, names: &[String]) -> String {
        let mut out = String::new();
        let listed = names.iter().map(|n| (n.clone(), String::new()));
        for (value, description) in self.candidates.iter().cloned().chain(listed) {
            if !value.starts_with(&self.prefix) {
                continue;
            }
            out.push_str(&value);
            if !description.is_empty() {
                out.push('\t');
                out.push_str(&description);
            }
            out.push('\n');
        }
        let directive = if self.files {
            DIRECTIVE_DEFAULT
        } else {
            DIRECTIVE_NO_FILES
        };
        out.push_str(&format!(":{directive}\n"));
        out
    }
}

/// The first sentence of a help text: shells show descriptions on one line.
fn about(text: Option<&clap::builder::StyledStr>) -> String {
    let text = text.map(|t| t.to_string()).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default();
    first.split(". ").next().unwrap_or_default().to_string()
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

fn long<'a>(command: &'a Command, name: &str) -> Option<&'a Arg> {
    command.get_arguments().find(|a| a.get_long() == Some(name))
}

fn short(command: &Command, c: char) -> Option<&Arg> {
    command.get_arguments().find(|a| a.get_short() == Some(c))
}

/// Offers for the value of `arg`.
fn value_of(arg: &Arg, plan: &mut Plan) {
    match arg.get_id().as_str() {
        "namespace" | "operator_namespace" => plan.lookup = Some(Lookup::Namespaces),
        "team" => plan.lookup = Some(Lookup::Teams),
        "incident" => plan.lookup = Some(Lookup::Incidents),
        "drill" => plan.lookup = Some(Lookup::DrillRuns),
        "run" => plan.lookup = Some(Lookup::RunIds),
        _ => {}
    }
    let values = arg.get_possible_values();
    if !values.is_empty() {
        plan.candidates = values
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| (v.get_name().to_string(), about(v.get_help())))
            .collect();
    } else if matches!(
        arg.get_value_hint(),
        clap::ValueHint::AnyPath | clap::ValueHint::FilePath | clap::ValueHint::DirPath
    ) {
        plan.files = true;
    }
}

fn flags(command: &Command) -> Vec<(String, String)> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
        .filter_map(|a| Some((format!("--{}", a.get_long()?), about(a.get_help()))))
        .collect()
}

/// Decides what completes the last of `words` (the words after `accord`).
pub fn plan(root: &Command, words: &[String]) -> Plan {
    let mut root = root.clone();
    root.build(); // global flags propagate to the subcommands
    let (prefix, done) = match words.split_last() {
        Some((last, done)) => (last.clone(), done),
        None => (String::new(), &[][..]),
    };
    let mut plan = Plan {
        prefix,
        ..Plan::default()
    };
    let mut command = &root;
    let mut positionals = 0;
    let mut pending: Option<&Arg> = None;
    for word in done {
        if let Some(arg) = pending.take() {
            match arg.get_id().as_str() {
                "namespace" => plan.namespace = Some(word.clone()),
                "context" => plan.context = Some(word.clone()),
                "kubeconfig" => plan.kubeconfig = Some(word.clone()),
                _ => {}
            }
            continue;
        }
        if let Some(flag) = word.strip_prefix("--") {
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag, None),
            };
            match (long(command, name), inline) {
                (Some(arg), None) if takes_value(arg) => pending = Some(arg),
                (Some(arg), Some(value)) if arg.get_id() == "namespace" => {
                    plan.namespace = Some(value.to_string())
                }
                _ => {}
            }
        } else if let Some(flag) = word.strip_prefix('-').filter(|f| !f.is_empty()) {
            let mut chars = flag.chars();
            if let Some(arg) = chars.next().and_then(|c| short(command, c))
                && takes_value(arg)
            {
                let rest: String = chars.collect();
                if rest.is_empty() {
                    pending = Some(arg);
                } else if arg.get_id() == "namespace" {
                    plan.namespace = Some(rest.trim_start_matches('=').to_string());
                }
            }
        } else if let Some(sub) = command.find_subcommand(word) {
            command = sub;
            positionals = 0;
            plan.object = None;
        } else {
            positionals += 1;
            plan.object.get_or_insert_with(|| word.clone());
        }
    }
    if let Some(arg) = pending {
        value_of(arg, &mut plan);
    } else if plan.prefix.starts_with('-') {
        plan.candidates = flags(command);
    } else if command.has_subcommands() {
        plan.candidates = command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| (s.get_name().to_string(), about(s.get_about())))
            .collect();
    } else if let Some(arg) = command.get_positionals().nth(positionals) {
        match arg.get_id().as_str() {
            "model_deployment" => plan.lookup = Some(Lookup::ModelDeployments),
            "incident" => plan.lookup = Some(Lookup::Incidents),
            "drill" => plan.lookup = Some(Lookup::Drills),
            "team" => plan.lookup = Some(Lookup::Teams),
            _ => value_of(arg, &mut plan),
        }
    }
    plan
}

/// The words to complete when the process was started to answer completion: its name
/// is `kubectl_complete-accord`, or its first argument is `__complete`.
pub fn words_to_complete(argv: &[String]) -> Option<&[String]> {
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if name == Some("kubectl_complete-accord") {
        return Some(&argv[1..]);
    }
    if argv.get(1).map(String::as_str) == Some("__complete") {
        return Some(&argv[2..]);
    }
    None
}

/// Answers kubectl's plugin completion for `words` (Cobra's protocol), with object names
/// from the cluster in the scope typed so far (nothing, quietly, when it cannot be
/// reached in 5 s).
pub async fn answer(words: &[String]) -> String {
    let plan = plan(&Args::command(), words);
    let names = match plan.lookup {
        Some(lookup) => {
            tokio::time::timeout(std::time::Duration::from_secs(5), list_names(&plan, lookup))
                .await
                .ok()
                .flatten()
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    plan.render(&names)
}

/// The names of the objects `lookup` asks for, in the plan's scope; `None` when the
/// cluster cannot be reached.
async fn list_names(plan: &Plan, lookup: Lookup) -> Option<Vec<String>> {
    let kubeconfig = plan.kubeconfig.as_ref().map(PathBuf::from);
    let config = kube_config(kubeconfig.as_deref(), plan.context.clone())
        .await
        .ok()?;
    let namespace = plan
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).ok()?;
    match lookup {
        Lookup::ModelDeployments => {
            names(kube::Api::<crate::api::ModelDeployment>::namespaced(
                client, &namespace,
            ))
            .await
        }
        Lookup::Incidents => {
            names(kube::Api::<crate::api::Incident>::namespaced(
                client, &namespace,
            ))
            .await
        }
        Lookup::Drills => {
            names(kube::Api::<crate::api::RollbackDrill>::namespaced(
                client, &namespace,
            ))
            .await
        }
        Lookup::DrillRuns => {
            let api = kube::Api::<crate::api::RollbackDrill>::namespaced(client, &namespace);
            let drills = api.list(&kube::api::ListParams::default()).await.ok()?;
            Some(drill_runs(&drills.items))
        }
        Lookup::RunIds => {
            let api = kube::Api::<crate::api::RollbackDrill>::namespaced(client, &namespace);
            let drill = api.get_opt(plan.object.as_deref()?).await.ok()??;
            let runs = drill.status.map(|s| s.runs).unwrap_or_default();
            Some(runs.into_iter().map(|r| r.id).collect())
        }
        Lookup::Teams => names(kube::Api::<crate::api::Team>::all(client)).await,
        Lookup::Namespaces => {
            names(kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(
                client,
            ))
            .await
        }
    }
}

/// `DRILL/RUN` for every run each drill keeps, newest first.
pub fn drill_runs(drills: &[crate::api::RollbackDrill]) -> Vec<String> {
    drills
        .iter()
        .flat_map(|drill| {
            let name = drill.metadata.name.clone().unwrap_or_default();
            let runs = drill.status.iter().flat_map(|s| &s.runs);
            runs.map(move |run| crate::api::run_ref(&name, &run.id))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plugin's real command line, plus a hidden subcommand (which must never be
    /// offered).
    fn cli() -> Command {
        Args::command().subcommand(Command::new("secret").hide(true))
    }

    fn words(text: &str) -> Vec<String> {
        let mut words: Vec<String> = text.split_whitespace().map(String::from).collect();
        if text.ends_with(' ') || text.is_empty() {
            words.push(String::new());
        }
        words
    }

    fn complete(text: &str) -> Plan {
        plan(&cli(), &words(text))
    }

    fn values(plan: &Plan) -> Vec<String> {
        plan.render(&[])
            .lines()
            .filter(|l| !l.starts_with(':'))
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn subcommands_with_their_descriptions_and_never_hidden_ones() {
        let plan = complete("");
        assert_eq!(
            values(&plan),
            [
                "status",
                "completion",
                "attest",
                "verify",
                "team",
                "explain",
                "history",
                "pipeline",
                "promote",
                "rollback",
                "incidents",
                "incident",
                "drills",
                "drill",
                "matrix",
                "teams",
                "board",
                "audit"
            ]
        );
        assert!(plan.render(&[]).contains(
            "status\tCandidate and active version, phase, conditions, and who attested what\n"
        ));
        assert_eq!(values(&complete("st")), ["status"]);
        assert_eq!(values(&complete("team ")), ["add-key"]);
        assert_eq!(values(&complete("incident ")), ["show", "ack", "open"]);
        assert_eq!(
            values(&complete("audit ")),
            ["key", "export", "verify", "report"]
        );
        assert!(plan.render(&[]).ends_with(":4\n"), "no file names");
    }

    #[test]
    fn object_names_in_the_scope_typed_so_far() {
        let plan = complete("status -n payments fr");
        assert_eq!(plan.lookup, Some(Lookup::ModelDeployments));
        assert_eq!(plan.namespace.as_deref(), Some("payments"));
        assert_eq!(
            plan.render(&["fraud-scorer".into(), "churn".into()]),
            "fraud-scorer\n:4\n"
        );
        let plan = complete("--namespace=ops --context prod attest ");
        assert_eq!(plan.lookup, Some(Lookup::ModelDeployments));
        assert_eq!(plan.namespace.as_deref(), Some("ops"));
        assert_eq!(plan.context.as_deref(), Some("prod"));
        assert_eq!(complete("team add-key ").lookup, Some(Lookup::Teams));
        assert_eq!(
            complete("incident show -n payments ").lookup,
            Some(Lookup::Incidents)
        );
        assert_eq!(complete("incident ack f").lookup, Some(Lookup::Incidents));
        assert_eq!(
            complete("incident open ").lookup,
            Some(Lookup::ModelDeployments)
        );
        assert_eq!(
            complete("attest fraud-scorer --incident ").lookup,
            Some(Lookup::Incidents)
        );
        assert_eq!(complete("status -n ").lookup, Some(Lookup::Namespaces));
        assert_eq!(complete("-nops status x").namespace.as_deref(), Some("ops"));
    }

    #[test]
    fn drills_and_their_runs_complete() {
        assert_eq!(
            values(&complete("drill ")),
            ["run", "report"],
            "the drill subcommands"
        );
        assert_eq!(
            complete("drill run -n payments w").lookup,
            Some(Lookup::Drills)
        );
        assert_eq!(complete("drill report ").lookup, Some(Lookup::Drills));
        let plan = complete("drill report weekly --run ");
        assert_eq!(plan.lookup, Some(Lookup::RunIds));
        assert_eq!(plan.object.as_deref(), Some("weekly"));
        assert_eq!(
            complete("attest fraud-scorer --drill ").lookup,
            Some(Lookup::DrillRuns)
        );
        assert_eq!(values(&complete("drill run weekly --t")), ["--timeout"]);
        assert_eq!(values(&complete("drill run weekly --no")), ["--no-wait"]);
        let drill: crate::api::RollbackDrill = serde_json::from_value(serde_json::json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
            "metadata": {"name": "weekly", "namespace": "payments"},
            "spec": {"modelDeployment": "fraud-scorer"},
            "status": {"runs": [
                {"id": "20261215-090000", "trigger": "Schedule", "startedAt": "2026-12-15T09:00:00Z", "steps": [], "result": "Running"},
                {"id": "20261208-090000", "trigger": "Schedule", "startedAt": "2026-12-08T09:00:00Z", "steps": [], "result": "Passed"}
            ]}
        }))
        .unwrap();
        assert_eq!(
            drill_runs(&[drill]),
            ["weekly/20261215-090000", "weekly/20261208-090000"]
        );
    }

    #[test]
    fn flags_values_and_files() {
        let plan = complete("attest fraud-scorer --it");
        assert_eq!(values(&plan), ["--item"]);
        assert!(values(&complete("attest fraud-scorer --")).contains(&"--namespace".into()));
        assert_eq!(values(&complete("status x -o ")), ["table", "json", "yaml"]);
        assert_eq!(
            values(&complete("explain ")),
            ["md", "modeldeployment", "modeldeployments"]
        );
        assert_eq!(
            complete("explain md ").lookup,
            Some(Lookup::ModelDeployments)
        );
        let plan = complete("attest x --item drift -f ");
        assert!(plan.files && plan.render(&[]).ends_with(":0\n"));
        assert_eq!(
            complete("attest x --item ").render(&[]),
            ":4\n",
            "an item id is not a file"
        );
        assert!(complete("audit verify ").files, "the export");
        assert!(complete("audit verify records.jsonl --key ").files);
        assert_eq!(
            values(&complete("audit verify records.jsonl --k")),
            ["--key", "--kubeconfig"]
        );
        assert!(!complete("audit export --since ").files, "a duration");
        assert_eq!(
            complete("audit key --operator-namespace ").lookup,
            Some(Lookup::Namespaces)
        );
    }

    #[test]
    fn completion_is_asked_by_the_program_name_or_the_first_argument() {
        let argv =
            |words: &[&str]| -> Vec<String> { words.iter().map(|w| w.to_string()).collect() };
        let linked = argv(&["/usr/local/bin/kubectl_complete-accord", "status", ""]);
        assert_eq!(words_to_complete(&linked), Some(&linked[1..]));
        let asked = argv(&["kubectl-accord", "__complete", "st"]);
        assert_eq!(words_to_complete(&asked), Some(&asked[2..]));
        assert_eq!(
            words_to_complete(&argv(&["kubectl-accord", "status", "x"])),
            None
        );
        assert_eq!(words_to_complete(&argv(&["kubectl-accord"])), None);
    }
}
