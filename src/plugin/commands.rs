//! The plugin's commands: read from the cluster, print a view, or write the one thing
//! the command is for. Errors are sentences a user can act on.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde::Serialize;
use serde_json::json;

use super::views;
use crate::api::{Attestation, AttestationSpec, ModelDeployment, Team, labels};

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
    if md.spec.checklist_item(item).is_none() {
        return Err(Failure(format!(
            "item {item:?} is not on the checklist of {}/{name}; its items are: {}",
            scope.namespace,
            md.spec.checklist_ids()
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
    let rows = views::matrix(&scope.model_deployments().await?);
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
