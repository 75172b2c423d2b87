//! Writes PromotionRecords. As soon as the status naming records is written — before
//! the Deployment, so a later failed write in the same reconcile loses none — the
//! reconcile queues what they are built from; one task signs and creates them in the
//! order they were decided, so neither the promotion nor the reconciles waiting for a
//! slot ever wait on a record. Pure parts are [`accord_core::audit`].
//!
//! The chain: each record names the previous one of its model with that record's
//! payload digest. The digest of the newest record of each model is kept in memory;
//! after a restart or a change of leader it is read back from the API once.
//!
//! A record that cannot be created is kept and retried (before the next create, and
//! every five minutes); `accord_record_write_failures_total` counts those given up on.
//! At shutdown the queue is drained; a crash loses what was queued (the chain shows it).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use accord_core::audit::{self, RecordPlan};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, PostParams},
};

use crate::{
    api::{Attestation, ModelDeployment, PreviousRecord, PromotionRecord},
    metrics::ControllerMetrics,
    record_keys::SharedRecordKeys,
};

/// How records are written.
#[derive(Clone, Debug, Default)]
pub struct RecordConfig {
    /// The cluster's name, written into every record (`--cluster-name`).
    pub cluster: String,
    /// Delete records older than this (`--record-retention`); `None` keeps all.
    pub retention: Option<Duration>,
    /// Also attach each record to its images in their OCI registries
    /// (`--record-registry`).
    pub registry: Option<crate::registry::RegistryTarget>,
    /// Write no records at all (`--write-records=false`): only for measuring what
    /// records cost (`make bench-scale RECORDS=1`). The history still names them.
    pub disabled: bool,
}

/// The newest record of a model: its sequence, name and payload digest.
#[derive(Clone, Debug)]
struct Head {
    sequence: i64,
    name: String,
    digest: String,
}

/// Writes PromotionRecords and keeps each chain's head.
pub struct Records {
    client: Client,
    keys: Arc<SharedRecordKeys>,
    config: RecordConfig,
    metrics: ControllerMetrics,
    heads: Mutex<HashMap<String, Head>>,
    /// Records whose create failed, retried on the next write.
    pending: Mutex<Vec<(PromotionRecord, u32)>>,
    /// Records decided and waiting to be signed and created, in the order they were
    /// decided; one task ([`Records::run`]) takes them, so no reconcile waits on one.
    queue: tokio::sync::mpsc::UnboundedSender<Decided>,
    queued: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Decided>>,
}

/// The records one decision planned, with what they are built from: the
/// ModelDeployment as the written status leaves it, and its namespace's Attestations.
struct Decided {
    md: ModelDeployment,
    plans: Vec<RecordPlan>,
    attestations: Vec<Arc<Attestation>>,
}

/// How many times a record's create is retried before it is given up on.
const MAX_ATTEMPTS: u32 = 5;

impl Records {
    pub fn new(
        client: Client,
        keys: Arc<SharedRecordKeys>,
        config: RecordConfig,
        metrics: ControllerMetrics,
    ) -> Self {
        let (queue, queued) = tokio::sync::mpsc::unbounded_channel();
        Self {
            client,
            keys,
            config,
            metrics,
            heads: Mutex::default(),
            pending: Mutex::default(),
            queue,
            queued: tokio::sync::Mutex::new(queued),
        }
    }

    /// Queues the records `plans` asks for, once the status naming them is written:
    /// [`Records::run`] signs and creates them in order. `md` carries that status;
    /// `attestations` are its namespace's, to name each approver. Never waits.
    pub fn queue(
        &self,
        md: ModelDeployment,
        plans: Vec<RecordPlan>,
        attestations: Vec<Arc<Attestation>>,
    ) {
        if self.config.disabled {
            tracing::debug!(
                records = plans.len(),
                "--write-records=false: not writing records"
            );
            return;
        }
        let names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
        let decided = Decided {
            md,
            plans,
            attestations,
        };
        if self.queue.send(decided).is_err() {
            tracing::error!(records = ?names, "the record queue is closed; the records are not written");
        }
    }

    /// Signs and creates one decision's records, in order.
    async fn write(&self, decided: Decided) {
        let Some(keys) = self.keys.get() else {
            tracing::warn!("no record key loaded; records are not written");
            return;
        };
        let Decided {
            md,
            plans,
            attestations,
        } = decided;
        for plan in &plans {
            let previous = self.previous(&md, plan).await;
            let ctx = audit::Context {
                cluster: &self.config.cluster,
                md: &md,
                attestations: &attestations,
                previous,
            };
            let statement = audit::statement(plan, &ctx);
            let (envelope, digest) = audit::envelope(&statement, &keys);
            let images = audit::pinned_images(&plan.entry);
            let record = audit::record(plan, &statement, envelope, digest.clone());
            self.lock_heads().insert(
                md.uid().unwrap_or_default(),
                Head {
                    sequence: plan.sequence,
                    name: plan.name.clone(),
                    digest,
                },
            );
            self.retry_pending().await;
            if self.create(record.clone(), 0).await {
                self.attach(&record, images);
            }
        }
    }

    /// Creates the queued records in order, and every `period` retries failed creates
    /// and deletes records past the retention, until the task is dropped.
    pub async fn run(self: Arc<Self>, period: Duration) {
        let mut queued = self.queued.lock().await;
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                next = queued.recv() => match next {
                    Some(decided) => self.write(decided).await,
                    None => return,
                },
                _ = tick.tick() => {
                    self.retry_pending().await;
                    if let Some(retention) = self.config.retention {
                        self.enforce_retention(retention).await;
                    }
                }
            }
        }
    }

    /// Signs and creates every record queued so far (at shutdown, once
    /// [`Records::run`] is stopped, and in tests).
    pub async fn flush(&self) {
        let mut queued = self.queued.lock().await;
        while let Ok(decided) = queued.try_recv() {
            self.write(decided).await;
        }
    }

    /// Attaches `record` to `images` in their registries, off the reconcile path.
    fn attach(&self, record: &PromotionRecord, images: Vec<String>) {
        let Some(target) = self.config.registry.clone() else {
            return;
        };
        if images.is_empty() {
            return;
        }
        let client = self.client.clone();
        let envelope = serde_json::to_vec(&record.spec.envelope).expect("envelopes serialize");
        let name = record.name_any();
        tokio::spawn(async move {
            let config = match crate::registry::credentials(&client, &target).await {
                Ok(config) => config,
                Err(err) => {
                    tracing::warn!(%err, record = %name, "cannot read the registry credentials; the record is not attached");
                    return;
                }
            };
            let registry = crate::registry::RegistryClient::new(config);
            for image in images {
                match crate::registry::attach(
                    &registry,
                    &image,
                    &envelope,
                    crate::api::PREDICATE_TYPE,
                )
                .await
                {
                    Ok(done) => {
                        tracing::info!(record = %name, %image, ?done, "record attached to the image")
                    }
                    Err(err) => {
                        tracing::warn!(%err, record = %name, %image, "cannot attach the record to the image")
                    }
                }
            }
        });
    }

    fn lock_heads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Head>> {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record before `plan` in its chain: from memory, else read back once.
    async fn previous(&self, md: &ModelDeployment, plan: &RecordPlan) -> Option<PreviousRecord> {
        if plan.sequence <= 1 {
            return None;
        }
        let uid = md.uid().unwrap_or_default();
        let name = audit::record_name(md, plan.sequence - 1);
        let remembered = self
            .lock_heads()
            .get(&uid)
            .filter(|h| h.sequence == plan.sequence - 1)
            .cloned();
        if let Some(head) = remembered {
            return Some(PreviousRecord {
                name: head.name,
                digest: Some(head.digest),
            });
        }
        let api: Api<PromotionRecord> =
            Api::namespaced(self.client.clone(), &md.namespace().unwrap_or_default());
        let digest = match api.get_opt(&name).await {
            Ok(Some(record)) => audit::verify::decode_digest(&record.spec.envelope),
            Ok(None) => {
                tracing::warn!(record = %name, "the previous record does not exist; the chain will show the gap");
                None
            }
            Err(err) => {
                tracing::warn!(%err, record = %name, "cannot read the previous record; its link is left unproven");
                None
            }
        };
        Some(PreviousRecord { name, digest })
    }

    /// Creates `record` (true when it was); on failure keeps it for a later attempt.
    async fn create(&self, record: PromotionRecord, attempts: u32) -> bool {
        let namespace = record.namespace().unwrap_or_default();
        let api: Api<PromotionRecord> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &record).await {
            Ok(_) => {
                self.metrics.records_written.inc();
                tracing::info!(record = %record.name_any(), %namespace, action = ?record.spec.action, version = %record.spec.version, "PromotionRecord written");
                return true;
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::warn!(record = %record.name_any(), %namespace, "a PromotionRecord of that name already exists; kept as it is");
            }
            Err(err) if attempts + 1 < MAX_ATTEMPTS => {
                tracing::warn!(%err, record = %record.name_any(), %namespace, "cannot write the PromotionRecord yet; will retry");
                self.pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((record, attempts + 1));
            }
            Err(err) => {
                self.metrics.record_failures.inc();
                tracing::error!(%err, record = %record.name_any(), %namespace, "gave up writing the PromotionRecord; its chain will show the gap");
            }
        }
        false
    }

    /// Tries the records kept after a failed create again.
    pub async fn retry_pending(&self) {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (record, attempts) in pending {
            self.create(record, attempts).await;
        }
    }

    async fn enforce_retention(&self, retention: Duration) {
        let Ok(span) = jiff::SignedDuration::try_from(retention) else {
            return;
        };
        let cutoff = Time(jiff::Timestamp::now() - span);
        let api: Api<PromotionRecord> = Api::all(self.client.clone());
        let mut params = ListParams::default().limit(500);
        let mut deleted = 0usize;
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(%err, "cannot list PromotionRecords for retention");
                    return;
                }
            };
            for record in page
                .items
                .iter()
                .filter(|r| audit::recorded_at(r).0 < cutoff.0)
            {
                let ns: Api<PromotionRecord> =
                    Api::namespaced(self.client.clone(), &record.namespace().unwrap_or_default());
                match ns
                    .delete(&record.name_any(), &DeleteParams::default())
                    .await
                {
                    Ok(_) => deleted += 1,
                    Err(err) => {
                        tracing::warn!(%err, record = %record.name_any(), "cannot delete an expired PromotionRecord")
                    }
                }
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, retention = ?retention, "deleted PromotionRecords past their retention");
        }
    }
}
