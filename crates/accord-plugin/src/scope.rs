//! Where a command looks and how it answers: the global flags, the cluster connection
//! they build ([`Scope`]), the output format, the [`Failure`] every command returns, and
//! reading manifests from files, for the commands that work from a GitOps repo.

use std::path::{Path, PathBuf};

use kube::{Api, Client, Resource, api::ListParams};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::api::{HandoffPolicy, Incident, ModelDeployment, PromotionRecord, Team};

/// Objects per list request when a command reads many (PromotionRecords).
pub const PAGE_SIZE: u32 = 500;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// The flags every subcommand takes: which cluster, as whom, where, and how to print.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct GlobalFlags {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// All namespaces (matrix, incidents, drills, audit export, audit report).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    pub output: Output,
    /// Act as this user (Kubernetes impersonation; needs the `impersonate` right), e.g.
    /// to see what a teammate is refused.
    #[arg(long = "as", global = true)]
    pub as_user: Option<String>,
    /// Groups to act as, with --as (repeatable).
    #[arg(long = "as-group", global = true, requires = "as_user")]
    pub as_group: Vec<String>,
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

/// The client configuration from --kubeconfig (else $KUBECONFIG, ~/.kube/config) and
/// --context.
pub async fn kube_config(
    kubeconfig: Option<&Path>,
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
        // In a Pod (the board behind a proxy) there is no kubeconfig: use the Pod's
        // ServiceAccount, as kubectl does.
        None => match kube::Config::from_kubeconfig(&options).await {
            Err(e) => kube::Config::incluster().map_err(|_| e),
            ok => ok,
        },
    }
    .map_err(|e| format!("no usable kubeconfig: {e}"))
}

impl GlobalFlags {
    /// Connects to the cluster the flags name, as the user they name.
    pub async fn connect(&self) -> Result<Scope, Failure> {
        let mut config = kube_config(self.kubeconfig.as_deref(), self.context.clone())
            .await
            .map_err(Failure)?;
        let server = config.cluster_url.to_string();
        if let Some(user) = &self.as_user {
            config.auth_info.impersonate = Some(user.clone());
            if !self.as_group.is_empty() {
                config.auth_info.impersonate_groups = Some(self.as_group.clone());
            }
        }
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config)
            .map_err(|e| Failure(format!("cannot create a client: {e}")))?;
        Ok(Scope {
            client,
            namespace,
            all_namespaces: self.all_namespaces,
            output: self.output,
            server,
        })
    }

    /// Connects only when `needed`: commands that can work from files alone stay
    /// offline when the files say enough.
    pub async fn connect_if(&self, needed: bool) -> Result<Option<Scope>, Failure> {
        Ok(if needed {
            Some(self.connect().await?)
        } else {
            None
        })
    }
}

impl Scope {
    /// A sentence for a failed API call: the API server's own message, or where the
    /// cluster was that could not be reached.
    pub fn failure(&self, err: kube::Error) -> Failure {
        match err {
            kube::Error::Api(status) => Failure(status.message.clone()),
            other => Failure(format!(
                "cannot reach the cluster at {}: {other}; check --kubeconfig and --context",
                self.server
            )),
        }
    }

    /// `value` in the output format asked for; `table` draws the text form.
    pub fn print<T: Serialize>(
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

    /// The same scope across every namespace.
    pub fn every_namespace(&self) -> Scope {
        Scope {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            all_namespaces: true,
            output: self.output,
            server: self.server.clone(),
        }
    }

    /// The ModelDeployment `name` in the scope's namespace.
    pub async fn model_deployment(&self, name: &str) -> Result<ModelDeployment, Failure> {
        let api: Api<ModelDeployment> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.get_opt(name).await.map_err(|e| self.failure(e))? {
            Some(md) => Ok(md),
            None => Err(Failure(format!(
                "ModelDeployment {}/{name} not found; list them with: kubectl get md -n {}",
                self.namespace, self.namespace
            ))),
        }
    }

    /// The Incident `name` in the scope's namespace.
    pub async fn incident(&self, name: &str) -> Result<Incident, Failure> {
        let api: Api<Incident> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.get_opt(name).await.map_err(|e| self.failure(e))? {
            Some(incident) => Ok(incident),
            None => Err(Failure(format!(
                "Incident {}/{name} not found; list them with: kubectl accord incidents -n {}",
                self.namespace, self.namespace
            ))),
        }
    }

    /// The Incidents in the scope's namespace, or in all with `-A`.
    pub async fn incidents(&self) -> Result<Vec<Incident>, Failure> {
        let api: Api<Incident> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            Api::namespaced(self.client.clone(), &self.namespace)
        };
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.failure(e))?
            .items)
    }

    /// Every HandoffPolicy (cluster-scoped; readable by the users' ClusterRole).
    pub async fn policies(&self) -> Result<Vec<HandoffPolicy>, Failure> {
        let api: Api<HandoffPolicy> = Api::all(self.client.clone());
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.failure(e))?
            .items)
    }

    /// The ModelDeployments in the scope's namespace, or in all with `-A`.
    pub async fn model_deployments(&self) -> Result<Vec<ModelDeployment>, Failure> {
        let api: Api<ModelDeployment> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            Api::namespaced(self.client.clone(), &self.namespace)
        };
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.failure(e))?
            .items)
    }

    /// The PromotionRecords in the scope's namespace, or in all with `-A`, read
    /// [`PAGE_SIZE`] at a time (a model keeps one per promotion, for years).
    pub async fn promotion_records(&self) -> Result<Vec<PromotionRecord>, Failure> {
        let api: Api<PromotionRecord> = if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            Api::namespaced(self.client.clone(), &self.namespace)
        };
        let mut records = Vec::new();
        let mut params = ListParams::default().limit(PAGE_SIZE);
        loop {
            let page = api.list(&params).await.map_err(|e| self.failure(e))?;
            records.extend(page.items);
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(records),
            }
        }
    }

    /// Every Team (cluster-scoped).
    pub async fn teams(&self) -> Result<Vec<Team>, Failure> {
        Ok(Api::<Team>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| self.failure(e))?
            .items)
    }
}

/// Reads every document in a YAML file (`-` for stdin).
pub fn read_documents(path: &Path) -> Result<Vec<Value>, Failure> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| Failure(format!("{} is not YAML: {e}", path.display())))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// The documents of `kind` among `documents`, typed.
pub fn of_kind<T: DeserializeOwned>(
    documents: &[Value],
    kind: &str,
    path: &Path,
) -> Result<Vec<T>, Failure> {
    documents
        .iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            serde_json::from_value(d.clone())
                .map_err(|e| Failure(format!("a {kind} in {} is malformed: {e}", path.display())))
        })
        .collect()
}

/// An object as a manifest: `apiVersion` and `kind` first.
pub fn with_type_meta<K: Resource<DynamicType = ()> + Serialize>(
    object: &K,
) -> Result<Value, Failure> {
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
