//! `kubectl accord promote MD -n PROD`: copies the active model and images of the
//! upstream that `spec.promotion.from` names into this ModelDeployment's spec — its
//! `spec.model` and the image of every container — leaving its configuration (env,
//! replicas, resources, probes) alone. The caller writes it (a JSON merge patch, field
//! manager `kubectl-accord`), so the webhook records the caller as the candidate's
//! introducer; the gate then waits for the soak and the sign-offs. `--dry-run` prints
//! the change, `-o yaml` the changed manifest to commit to Git; neither writes.
//!
//! [`plan`] is pure: from the two ModelDeployments it computes the new spec, the
//! patch, and what changes, and checks the result is the very artifact that served
//! upstream.

use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{
    api::{
        HistoryEntry, ModelDeployment, ModelDeploymentSpec, ModelRef, Serving, TrainingData,
        fingerprint::running_images,
        labels::{ACCORD_PREFIX, CANDIDATE_AUTHOR, LAST_APPLIED},
        namespaced_name,
    },
    promotion::short_fingerprint,
    scope::{Failure, Output, Scope, with_type_meta},
};

/// The field manager of the plugin's writes.
pub const FIELD_MANAGER: &str = "kubectl-accord";

/// `--dry-run`: `client` computes and prints the change; `server` also sends it to the
/// API server (and Accord's webhook) to check, without persisting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    Client,
    Server,
}

/// One field the promotion changes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// e.g. `spec.model.version`, `spec.serving.image`, `container model image`.
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What `promote` does (or did) to the downstream ModelDeployment.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Promote {
    pub namespace: String,
    pub name: String,
    /// The upstream, `namespace/name`.
    pub from: String,
    /// `spec.model.version` before, and after.
    pub previous_version: String,
    pub version: String,
    /// The artifact fingerprint the spec names after the promotion.
    pub artifact_fingerprint: String,
    /// The spec already named that artifact: nothing to change.
    pub already: bool,
    pub changes: Vec<Change>,
    /// What the gate will still say about it (e.g. the upstream does not share itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// `client` or `server` when nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<String>,
    /// The spec was patched.
    pub written: bool,
    /// Who the webhook recorded as the candidate's introducer, after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced_by: Option<String>,
    /// The spec after the promotion.
    #[serde(skip)]
    pub spec: ModelDeploymentSpec,
    /// The JSON merge patch of `spec` (only the fields that change).
    #[serde(skip)]
    pub patch: Value,
}

/// `promote <md>`: reads it and its upstream, then writes, prints the manifest
/// (`-o yaml`) or only the change (`--dry-run`).
pub async fn run(scope: &Scope, name: &str, dry_run: Option<DryRun>) -> Result<String, Failure> {
    let down = scope.model_deployment(name).await?;
    let from = down
        .spec
        .upstream()
        .cloned()
        .ok_or_else(|| no_upstream(&down))?;
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), &from.namespace);
    let up = api
        .get_opt(&from.name)
        .await
        .map_err(|e| Failure(format!("cannot read the upstream {from}: {}", scope.failure(e))))?
        .ok_or_else(|| {
            Failure(format!(
                "the upstream {from} (spec.promotion.from of {}) does not exist; create it, or correct spec.promotion.from",
                namespaced_name(&down.metadata)
            ))
        })?;
    let mut promote = plan(&down, &up)?;
    if scope.output == Output::Yaml {
        return yaml(&down, &promote);
    }
    if !promote.already {
        match dry_run {
            Some(DryRun::Client) => promote.dry_run = Some("client".into()),
            server => write(scope, &down, &mut promote, server.is_some()).await?,
        }
    }
    scope.print(&promote, || text(&promote))
}

/// Patches the spec as the caller, on the version read (a conflict if it changed
/// since), and records who the webhook says introduced the candidate.
async fn write(
    scope: &Scope,
    down: &ModelDeployment,
    promote: &mut Promote,
    server_dry_run: bool,
) -> Result<(), Failure> {
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), &promote.namespace);
    let patch = json!({
        "metadata": {"resourceVersion": down.metadata.resource_version},
        "spec": promote.patch,
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        dry_run: server_dry_run,
        ..Default::default()
    };
    let written = api
        .patch(&promote.name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.failure(e))?;
    if server_dry_run {
        promote.dry_run = Some("server".into());
    } else {
        promote.written = true;
    }
    promote.introduced_by = written
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CANDIDATE_AUTHOR))
        .cloned();
    Ok(())
}

/// `-o yaml`: the changed ModelDeployment, to commit; or a comment when nothing changes.
fn yaml(down: &ModelDeployment, promote: &Promote) -> Result<String, Failure> {
    if promote.already {
        return Ok(format!("# {}", headline(promote)));
    }
    serde_saphyr::to_string(&manifest(down, &promote.spec)?).map_err(|e| Failure(e.to_string()))
}

fn no_upstream(down: &ModelDeployment) -> Failure {
    Failure(format!(
        "{} has no spec.promotion.from: it names no upstream environment to promote from (its platform team {} sets one; see docs/environments.md)",
        namespaced_name(&down.metadata),
        down.spec.owners.platform
    ))
}

/// The upstream's active version: the last entry of its history.
fn active_entry(up: &ModelDeployment) -> Result<&HistoryEntry, Failure> {
    up.status
        .as_ref()
        .and_then(|s| s.history.last())
        .ok_or_else(|| {
            Failure(format!(
                "the upstream {} has nothing active: no version has been promoted there yet; promote it there first",
                namespaced_name(&up.metadata)
            ))
        })
}

/// The serving shape that ran upstream for `entry`: its snapshot, else the upstream's
/// spec running the entry's image.
fn ran(entry: &HistoryEntry, up: &ModelDeployment) -> Serving {
    entry
        .serving
        .clone()
        .unwrap_or_else(|| up.spec.serving.with_image(&entry.image))
}

/// The image of the container `name` (an init container when `init`) in `serving`.
fn container_image(serving: &Serving, name: &str, init: bool) -> Option<String> {
    match serving.template.as_ref().and_then(|t| t.spec.as_ref()) {
        Some(pod) => {
            let list = if init {
                pod.init_containers.as_deref().unwrap_or_default()
            } else {
                &pod.containers
            };
            list.iter().find(|c| c.name == name)?.image.clone()
        }
        None => (!init && name == serving.container_name())
            .then(|| serving.serving_image())
            .filter(|i| !i.is_empty()),
    }
}

/// `down` running the images of `ran`: the simple form takes the serving image; in the
/// template form every container takes the image of the same-named container that
/// ran (the serving container, failing that, the serving image). Everything else —
/// env, args, resources, probes, replicas — stays as `down` has it.
pub fn with_images(down: &Serving, ran: &Serving) -> Serving {
    let mut out = down.clone();
    let serving_name = down.container_name().to_string();
    let Some(pod) = out.template.as_mut().and_then(|t| t.spec.as_mut()) else {
        let image = ran.serving_image();
        if !image.is_empty() {
            out.image = Some(image);
        }
        return out;
    };
    for container in &mut pod.containers {
        let image = container_image(ran, &container.name, false).or_else(|| {
            (container.name == serving_name)
                .then(|| ran.serving_image())
                .filter(|i| !i.is_empty())
        });
        if let Some(image) = image {
            container.image = Some(image);
        }
    }
    for container in pod.init_containers.iter_mut().flatten() {
        if let Some(image) = container_image(ran, &container.name, true) {
            container.image = Some(image);
        }
    }
    out
}

/// The `spec.model`s that could be the one that ran for `entry`, most likely first:
/// the entry's version, digest and artifact with the upstream's model name, and its
/// training data digest (with the location the upstream or downstream gives it).
fn models(entry: &HistoryEntry, up: &ModelRef, down: &ModelRef) -> Vec<ModelRef> {
    let base = ModelRef {
        name: up.name.clone(),
        version: entry.version.clone(),
        artifact: entry.artifact.clone(),
        digest: entry.digest.clone(),
        training_data: None,
    };
    let mut names = vec![up.name.clone()];
    if down.name != up.name {
        names.push(down.name.clone());
    }
    let data: Vec<Option<TrainingData>> = match &entry.training_data_digest {
        None => vec![None],
        Some(digest) => [&up.training_data, &down.training_data]
            .into_iter()
            .flatten()
            .filter(|t| &t.digest == digest)
            .cloned()
            .chain([TrainingData {
                digest: digest.clone(),
                uri: None,
            }])
            .map(Some)
            .collect(),
    };
    names
        .iter()
        .flat_map(|name| {
            data.iter().map(|training_data| ModelRef {
                name: name.clone(),
                training_data: training_data.clone(),
                ..base.clone()
            })
        })
        .collect()
}

/// The downstream's spec with the upstream's active model and images, checked to be
/// the artifact that served there (when the entry records it).
fn promoted_spec(
    down: &ModelDeployment,
    up: &ModelDeployment,
    entry: &HistoryEntry,
) -> Result<ModelDeploymentSpec, Failure> {
    let serving = with_images(&down.spec.serving, &ran(entry, up));
    let specs: Vec<ModelDeploymentSpec> = models(entry, &up.spec.model, &down.spec.model)
        .into_iter()
        .map(|model| ModelDeploymentSpec {
            model,
            serving: serving.clone(),
            ..down.spec.clone()
        })
        .collect();
    let Some(expected) = &entry.artifact_fingerprint else {
        return Ok(specs.into_iter().next().expect("at least one model"));
    };
    if let Some(spec) = specs.iter().find(|s| &s.artifact_fingerprint() == expected) {
        return Ok(spec.clone());
    }
    let mut upstream_spec = up.spec.clone();
    upstream_spec.serving = ran(entry, up);
    Err(Failure(format!(
        "{} cannot run the artifact that serves in {} ({} {}): the upstream ran images [{}], this one would run [{}]; give its containers the names they have upstream (or the same sidecars), then promote again",
        namespaced_name(&down.metadata),
        namespaced_name(&up.metadata),
        entry.version,
        short_fingerprint(expected),
        running_images(&upstream_spec).join(", "),
        running_images(&specs[0]).join(", "),
    )))
}

/// The promotion of `down` to `up`'s active version: the new spec, the patch and what
/// changes; `already` when `down` names that artifact. Fails when `down` names no
/// upstream, `up` has nothing active, or the result would not be the upstream's
/// artifact.
pub fn plan(down: &ModelDeployment, up: &ModelDeployment) -> Result<Promote, Failure> {
    let from = down.spec.upstream().ok_or_else(|| no_upstream(down))?;
    let entry = active_entry(up)?;
    let spec = promoted_spec(down, up, entry)?;
    let artifact = spec.artifact_fingerprint();
    let already = down.spec.artifact_fingerprint() == artifact;
    let old = serde_json::to_value(&down.spec).expect("specs serialize");
    let new = serde_json::to_value(&spec).expect("specs serialize");
    let namespace = down.metadata.namespace.clone().unwrap_or_default();
    Ok(Promote {
        name: down.metadata.name.clone().unwrap_or_default(),
        from: from.to_string(),
        previous_version: down.spec.model.version.clone(),
        version: spec.model.version.clone(),
        artifact_fingerprint: artifact,
        already,
        changes: changes(&down.spec, &spec),
        notes: notes(&namespace, up, entry),
        dry_run: None,
        written: false,
        introduced_by: None,
        patch: merge_patch(&old, &new),
        namespace,
        spec,
    })
}

/// What the gate will say once the spec is written, that the caller can act on now.
fn notes(namespace: &str, up: &ModelDeployment, entry: &HistoryEntry) -> Vec<String> {
    let upstream = namespaced_name(&up.metadata);
    let mut notes = Vec::new();
    if !up.spec.downstream().iter().any(|n| n == namespace) {
        notes.push(format!(
            "{upstream} does not list {namespace} in spec.promotion.downstream: the gate says UpstreamNotShared until its platform team {} adds it",
            up.spec.owners.platform
        ));
    }
    if entry.available_since.is_none() {
        notes.push(format!(
            "{} is not available in {upstream} yet: the soak starts once it is",
            entry.version
        ));
    }
    notes
}

/// A JSON merge patch (RFC 7386) turning `old` into `new`: changed fields only, `null`
/// for removed ones; arrays are replaced whole.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, value) in new {
                match old.get(key) {
                    Some(before) if before == value => {}
                    Some(before @ Value::Object(_)) if value.is_object() => {
                        patch.insert(key.clone(), merge_patch(before, value));
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// The images by container, `(field, image)`, of `serving`.
fn images(serving: &Serving) -> Vec<(String, Option<String>)> {
    match serving.template.as_ref().and_then(|t| t.spec.as_ref()) {
        None => vec![("spec.serving.image".into(), serving.image.clone())],
        Some(pod) => pod
            .containers
            .iter()
            .map(|c| (format!("container {} image", c.name), c.image.clone()))
            .chain(
                pod.init_containers
                    .iter()
                    .flatten()
                    .map(|c| (format!("init container {} image", c.name), c.image.clone())),
            )
            .collect(),
    }
}

/// The fields that differ between the two specs' models and images.
fn changes(old: &ModelDeploymentSpec, new: &ModelDeploymentSpec) -> Vec<Change> {
    let model = |m: &ModelRef| {
        vec![
            ("spec.model.name".to_string(), Some(m.name.clone())),
            ("spec.model.version".to_string(), Some(m.version.clone())),
            ("spec.model.digest".to_string(), m.digest.clone()),
            ("spec.model.artifact".to_string(), m.artifact.clone()),
            (
                "spec.model.trainingData.digest".to_string(),
                m.training_data.as_ref().map(|t| t.digest.clone()),
            ),
            (
                "spec.model.trainingData.uri".to_string(),
                m.training_data.as_ref().and_then(|t| t.uri.clone()),
            ),
        ]
    };
    let before: Vec<_> = model(&old.model)
        .into_iter()
        .chain(images(&old.serving))
        .collect();
    model(&new.model)
        .into_iter()
        .chain(images(&new.serving))
        .filter_map(|(field, to)| {
            let from = before
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, v)| v.clone());
            (from != to).then_some(Change { field, from, to })
        })
        .collect()
}

/// The ModelDeployment with `spec`, as a manifest to commit: name, namespace, labels
/// and the annotations that are not Accord's or kubectl's own.
pub fn manifest(down: &ModelDeployment, spec: &ModelDeploymentSpec) -> Result<Value, Failure> {
    let mut md = ModelDeployment::new(
        down.metadata.name.as_deref().unwrap_or_default(),
        spec.clone(),
    );
    md.metadata.namespace = down.metadata.namespace.clone();
    md.metadata.labels = down.metadata.labels.clone().filter(|l| !l.is_empty());
    md.metadata.annotations = down
        .metadata
        .annotations
        .clone()
        .map(|mut a| {
            a.retain(|k, _| !k.starts_with(ACCORD_PREFIX) && k != LAST_APPLIED);
            a
        })
        .filter(|a| !a.is_empty());
    with_type_meta(&md)
}

/// `fraud-scorer in payments-prod: 2.3.1 → 2.4.0 (artifact sha256:…), from …`.
fn headline(p: &Promote) -> String {
    if p.already {
        return format!(
            "{} in {} already names {} (artifact {}), the active version of {}: nothing to promote\n",
            p.name,
            p.namespace,
            p.version,
            short_fingerprint(&p.artifact_fingerprint),
            p.from
        );
    }
    format!(
        "{} in {}: {} → {} (artifact {}), from {}\n",
        p.name,
        p.namespace,
        p.previous_version,
        p.version,
        short_fingerprint(&p.artifact_fingerprint),
        p.from
    )
}

/// `promote` as text: the headline, each change, the notes, and what happened.
pub fn text(p: &Promote) -> String {
    let mut out = headline(p);
    if p.already {
        return out;
    }
    for c in &p.changes {
        let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        out.push_str(&format!(
            "  {}: {} → {}\n",
            c.field,
            value(&c.from),
            value(&c.to)
        ));
    }
    for note in &p.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    let follow = format!("kubectl accord pipeline {} -n {}", p.name, p.namespace);
    out.push_str(&match (p.dry_run.as_deref(), p.written) {
        (Some("server"), _) => {
            "server dry run: the API server and Accord's webhook accept it; nothing written\n"
                .to_string()
        }
        (Some(_), _) => "dry run: nothing written (-o yaml prints the manifest to commit)\n".into(),
        (None, true) => format!(
            "written; introduced by {} (who may not attest it). The gate now waits for the soak and the sign-offs: {follow}\n",
            p.introduced_by.as_deref().unwrap_or("you")
        ),
        (None, false) => String::new(),
    });
    out
}

#[cfg(test)]
mod tests;
