//! The plugin's commands: read from the cluster, print a view, or write the one thing
//! the command is for. Errors are sentences a user can act on.

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, Client, Resource,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde::Serialize;
use serde_json::{Value, json};

use super::{gitops, views};
use crate::api::{Attestation, AttestationSpec, HandoffPolicy, ModelDeployment, Team, labels};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// Where to look.
pub struct Scope {
    pub client: Client,
    pub namespace: String,
    pub all_namespaces: bool,
    pub output: Output,
    /// The API server, for error messages.
    pub server: String,
}

/// A failure, printed as is; the process exits non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

impl Scope {
    fn explain(&self, err: kube::Error) -> Failure {
        match err {
            kube::Error::Api(status) => Failure(status.message.clone()),
            other => Failure(format!(
                "cannot reach the cluster at {}: {other}; check --kubeconfig and --context",
                self.server
            )),
        }
    }

    fn print<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce() -> String,
    ) -> Result<String, Failure> {
        Ok(match self.output {
            Output::Table => table(),
            Output::Json => serde_json::to_string_pretty(value).expect("views serialize") + "\n",
            Output::Yaml => serde_saphyr::to_string(value).map_err(|e| Failure(e.to_string()))?,
        })
    }

    async fn model_deployment(&self, name: &str) -> Result<ModelDeployment, Failure> {
        let api: Api<ModelDeployment> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.get_opt(name).await.map_err(|e| self.explain(e))? {
            Some(md) => Ok(md),
            None => Err(Failure(format!(
                "ModelDeployment {}/{name} not found; list them with: kubectl get md -n {}",
                self.namespace, self.namespace
            ))),
        }
    }

    /// Every HandoffPolicy (cluster-scoped; readable by the users' ClusterRole).
    async fn policies(&self) -> Result<Vec<HandoffPolicy>, Failure> {
        let api: Api<HandoffPolicy> = Api::all(self.client.clone());
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.explain(e))?
            .items)
    }

    async fn model_deployments(&self) -> Result<Vec<ModelDeployment>, Failure> {
        let api: Api<ModelDeployment> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            Api::namespaced(self.client.clone(), &self.namespace)
        };
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.explain(e))?
            .items)
    }
}

/// `status <md>`.
pub async fn status(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let api: Api<Attestation> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let attestations = api
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.explain(e))?
        .items;
    let view = views::status(&md, &attestations);
    scope.print(&view, || views::status_text(&view))
}

/// `status <md> --watch`: prints the status, then again each time it changes, until
/// interrupted (or the ModelDeployment is deleted).
pub async fn watch_status(
    scope: &Scope,
    name: &str,
    mut print: impl FnMut(&str),
) -> Result<String, Failure> {
    let mut last = String::new();
    loop {
        let text = status(scope, name).await?;
        if text != last {
            if !last.is_empty() && scope.output == Output::Table {
                print(&format!("--- {} ---\n", jiff::Timestamp::now()));
            }
            print(&text);
            last = text;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(String::new()),
        }
    }
}

/// `explain md <md>`.
pub async fn explain(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let policies = scope.policies().await?;
    let view = views::explain(&md, &policies);
    scope.print(&view, || views::explain_text(&view))
}

/// `history <md>`.
pub async fn history(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let rows = views::history(&md);
    scope.print(&rows, || {
        if rows.is_empty() {
            format!("{}/{name} has not been promoted yet.\n", scope.namespace)
        } else {
            views::history_text(&rows)
        }
    })
}

/// `attest <md> --item ID`: creates the Attestation for the current candidate.
pub async fn attest(
    scope: &Scope,
    name: &str,
    item: &str,
    evidence: Option<String>,
    comment: Option<String>,
) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    if md.item_team(item).is_none() {
        return Err(Failure(format!(
            "item {item:?} is not on the checklist of {}/{name}; its items are: {}",
            scope.namespace,
            md.item_ids()
        )));
    }
    let version = md.spec.model.version.clone();
    let attestation = Attestation {
        metadata: ObjectMeta {
            name: Some(views::attestation_name(name, &version, item)),
            namespace: Some(scope.namespace.clone()),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: name.to_string(),
            item: item.to_string(),
            version: version.clone(),
            digest: md.spec.model.digest.clone(),
            candidate: Some(md.spec.fingerprint()),
            evidence,
            comment,
            attested_by: None,
            team: None,
            signature: None,
        },
        status: None,
    };
    let api: Api<Attestation> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let created = api
        .create(&PostParams::default(), &attestation)
        .await
        .map_err(|e| scope.explain(e))?;
    scope.print(&created, || {
        format!(
            "attestation {}/{} created: {} attests {item} of {name} {version} for team {}\n",
            scope.namespace,
            created.metadata.name.as_deref().unwrap_or_default(),
            created.spec.attested_by.as_deref().unwrap_or("you"),
            created.spec.team.as_deref().unwrap_or("?")
        )
    })
}

/// `rollback <md>`: requests a rollback by annotation.
pub async fn rollback(scope: &Scope, name: &str) -> Result<String, Failure> {
    scope.model_deployment(name).await?;
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| Failure(e.to_string()))?
        .to_string();
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let patch = json!({"metadata": {"annotations": {labels::ROLLBACK_REQUESTED_AT: at}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.explain(e))?;
    let result = json!({"namespace": scope.namespace, "name": name, "rollbackRequestedAt": at});
    scope.print(&result, || {
        format!(
            "rollback of {}/{name} requested at {at}; follow it with: kubectl accord status {name} -n {}\n",
            scope.namespace, scope.namespace
        )
    })
}

/// `matrix`: the responsibility matrix.
pub async fn matrix(scope: &Scope) -> Result<String, Failure> {
    let policies = scope.policies().await?;
    let rows = views::matrix(&scope.model_deployments().await?, &policies);
    scope.print(&rows, || views::matrix_text(&rows))
}

/// `teams`: Teams with members, models owned and items pending.
pub async fn teams(scope: &Scope) -> Result<String, Failure> {
    let teams = Api::<Team>::all(scope.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.explain(e))?
        .items;
    let all = Scope {
        client: scope.client.clone(),
        namespace: scope.namespace.clone(),
        all_namespaces: true,
        output: scope.output,
        server: scope.server.clone(),
    };
    let rows = views::teams(&teams, &all.model_deployments().await?);
    scope.print(&rows, || views::teams_text(&rows))
}

/// `attest <md> --item ID --sign | --print-statement`: what to sign off and how.
pub struct SignRequest<'a> {
    pub model_deployment: &'a str,
    pub item: &'a str,
    pub evidence: Option<String>,
    pub comment: Option<String>,
    /// The key ssh-keygen signs with (default: the usual ~/.ssh keys).
    pub key: Option<PathBuf>,
    /// The signer's user name (default: whoami on the cluster).
    pub signer: Option<String>,
    /// A ModelDeployment manifest to read instead of the cluster.
    pub from_file: Option<PathBuf>,
    /// `-n`, when given.
    pub namespace: Option<String>,
    pub print_statement: bool,
}

/// `attest … --sign`: prints a signed Attestation for the current candidate, ready to
/// commit; `--print-statement` prints the bytes it signs. Nothing is written to the
/// cluster. `scope` is needed unless both the ModelDeployment and the signer are given.
pub async fn attest_signed(
    scope: Option<&Scope>,
    request: &SignRequest<'_>,
) -> Result<String, Failure> {
    let md = match (&request.from_file, scope) {
        (Some(path), _) => model_deployment_from_file(path, request.model_deployment)?,
        (None, Some(scope)) => scope.model_deployment(request.model_deployment).await?,
        (None, None) => {
            return Err(Failure(
                "no ModelDeployment: give --from-file or a cluster".into(),
            ));
        }
    };
    let namespace = request
        .namespace
        .clone()
        .or_else(|| md.metadata.namespace.clone())
        .or_else(|| scope.map(|s| s.namespace.clone()))
        .unwrap_or_else(|| "default".into());
    let signer = match (&request.signer, scope) {
        (Some(signer), _) => signer.clone(),
        (None, Some(scope)) => crate::identity::whoami(&scope.client)
            .await
            .map_err(|e| scope.explain(e))?
            .ok_or_else(|| Failure("the cluster did not say who you are: pass --signer".into()))?,
        (None, None) => {
            return Err(Failure(
                "--signer is required without a cluster: your Kubernetes user name, as your Team lists it".into(),
            ));
        }
    };
    let sign_off = gitops::SignOff {
        namespace,
        item: request.item.to_string(),
        evidence: request.evidence.clone(),
        comment: request.comment.clone(),
        signer,
        signed_at: gitops::now_utc(),
    };
    let mut attestation = gitops::unsigned(&md, &sign_off)?;
    let statement = gitops::statement(&attestation)?;
    if request.print_statement {
        return Ok(statement);
    }
    let key = match &request.key {
        Some(key) => key.clone(),
        None => gitops::default_key()?,
    };
    let sshsig = gitops::ssh_keygen_sign(&key, &statement)?;
    if let Some(signature) = attestation.spec.signature.as_mut() {
        signature.sshsig = sshsig;
    }
    let document = with_type_meta(&attestation)?;
    match scope.map(|s| s.output) {
        Some(Output::Json) => {
            Ok(serde_json::to_string_pretty(&document).expect("serializes") + "\n")
        }
        _ => serde_saphyr::to_string(&document).map_err(|e| Failure(e.to_string())),
    }
}

/// An object as a manifest: `apiVersion` and `kind` first.
fn with_type_meta<K: Resource<DynamicType = ()> + Serialize>(object: &K) -> Result<Value, Failure> {
    let mut document = serde_json::to_value(object).map_err(|e| Failure(e.to_string()))?;
    if let Value::Object(fields) = &mut document {
        fields.remove("status");
        let mut ordered = serde_json::Map::new();
        ordered.insert("apiVersion".into(), K::api_version(&()).into());
        ordered.insert("kind".into(), K::kind(&()).into());
        ordered.extend(
            std::mem::take(fields)
                .into_iter()
                .filter(|(k, _)| k != "apiVersion" && k != "kind"),
        );
        *fields = ordered;
    }
    Ok(document)
}

fn model_deployment_from_file(path: &Path, name: &str) -> Result<ModelDeployment, Failure> {
    let documents = gitops::read_documents(path)?;
    let mds: Vec<ModelDeployment> = gitops::of_kind(&documents, "ModelDeployment", path)?;
    mds.into_iter()
        .find(|m| m.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| {
            Failure(format!(
                "{} holds no ModelDeployment named {name}",
                path.display()
            ))
        })
}

/// `verify -f FILE`: checks every Attestation in the file; fails when any does not verify.
pub async fn verify(
    scope: Option<&Scope>,
    filename: &Path,
    team_files: &[PathBuf],
    md_file: Option<&Path>,
) -> Result<String, Failure> {
    let documents = gitops::read_documents(filename)?;
    let attestations: Vec<Attestation> = gitops::of_kind(&documents, "Attestation", filename)?;
    if attestations.is_empty() {
        return Err(Failure(format!(
            "{} holds no Attestation",
            filename.display()
        )));
    }
    let mut teams = Vec::new();
    for path in team_files {
        teams.extend(gitops::of_kind::<Team>(
            &gitops::read_documents(path)?,
            "Team",
            path,
        )?);
    }
    if let Some(scope) = scope {
        teams = Api::<Team>::all(scope.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| scope.explain(e))?
            .items;
    }
    let file_mds: Vec<ModelDeployment> = match md_file {
        Some(path) => gitops::of_kind(&gitops::read_documents(path)?, "ModelDeployment", path)?,
        None => vec![],
    };
    let now = jiff::Timestamp::now();
    let mut report = String::new();
    let mut failures = Vec::new();
    for mut attestation in attestations {
        let namespace = attestation
            .metadata
            .namespace
            .clone()
            .or_else(|| scope.map(|s| s.namespace.clone()))
            .unwrap_or_else(|| "default".into());
        attestation.metadata.namespace = Some(namespace.clone());
        let name = &attestation.spec.model_deployment;
        let md = match (md_file, scope) {
            (Some(_), _) => file_mds
                .iter()
                .find(|m| m.metadata.name.as_ref() == Some(name))
                .cloned(),
            (None, Some(scope)) => {
                Api::<ModelDeployment>::namespaced(scope.client.clone(), &namespace)
                    .get_opt(name)
                    .await
                    .map_err(|e| scope.explain(e))?
            }
            (None, None) => None,
        };
        match gitops::verify_report(&attestation, md.as_ref(), &teams, now) {
            Ok(line) => report.push_str(&line),
            Err(Failure(why)) => failures.push(why),
        }
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(Failure(format!("{report}{}", failures.join("\n"))))
    }
}

/// `team add-key TEAM --user U --key FILE`.
pub struct AddKey<'a> {
    pub team: &'a str,
    pub user: &'a str,
    pub key: &'a Path,
    pub valid_before: Option<jiff::Timestamp>,
    /// A Team manifest to read (and, with `in_place`, write) instead of the cluster.
    pub filename: Option<&'a Path>,
    pub in_place: bool,
}

/// Prints (or writes back) the Team manifest with the key added. Never writes to the
/// cluster: a Team change is a decision for review (Git, or `kubectl apply`).
pub async fn team_add_key(scope: Option<&Scope>, request: &AddKey<'_>) -> Result<String, Failure> {
    let key = std::fs::read_to_string(request.key)
        .map_err(|e| Failure(format!("cannot read {}: {e}", request.key.display())))?;
    let team = match (request.filename, scope) {
        (Some(path), _) => gitops::of_kind::<Team>(&gitops::read_documents(path)?, "Team", path)?
            .into_iter()
            .find(|t| t.metadata.name.as_deref() == Some(request.team))
            .ok_or_else(|| {
                Failure(format!(
                    "{} holds no Team named {}",
                    path.display(),
                    request.team
                ))
            })?,
        (None, Some(scope)) => Api::<Team>::all(scope.client.clone())
            .get_opt(request.team)
            .await
            .map_err(|e| scope.explain(e))?
            .ok_or_else(|| {
                Failure(format!(
                    "Team {} not found; list them with: kubectl get teams",
                    request.team
                ))
            })?,
        (None, None) => return Err(Failure("no Team: give -f or a cluster".into())),
    };
    let updated = gitops::add_key(team, request.user, key.trim(), request.valid_before)?;
    let text = serde_saphyr::to_string(&with_type_meta(&gitops::manifest(&updated))?)
        .map_err(|e| Failure(e.to_string()))?;
    match (request.in_place, request.filename) {
        (true, Some(path)) => {
            let documents = gitops::read_documents(path)?;
            if documents.len() != 1 {
                return Err(Failure(format!(
                    "{} holds {} documents; --in-place rewrites a file holding only the Team: print it instead",
                    path.display(),
                    documents.len()
                )));
            }
            std::fs::write(path, &text)
                .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
            Ok(format!(
                "added the key of {} to team {} in {}\n",
                request.user,
                request.team,
                path.display()
            ))
        }
        _ => Ok(text),
    }
}
