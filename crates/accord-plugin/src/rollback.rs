//! `kubectl accord rollback MD`: requests a rollback to the previous good version by
//! annotating the ModelDeployment; the operator does the rest.

use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{
    api::{ModelDeployment, labels},
    scope::{Failure, Scope},
};

/// `rollback <md>`: requests a rollback by annotation.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    scope.model_deployment(name).await?;
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| Failure(e.to_string()))?
        .to_string();
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let patch = json!({"metadata": {"annotations": {labels::ROLLBACK_REQUESTED_AT: at}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.failure(e))?;
    let result = json!({"namespace": scope.namespace, "name": name, "rollbackRequestedAt": at});
    scope.print(&result, || {
        format!(
            "rollback of {}/{name} requested at {at}; follow it with: kubectl accord status {name} -n {}\n",
            scope.namespace, scope.namespace
        )
    })
}
