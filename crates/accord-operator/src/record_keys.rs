//! Where the record signing keys live: the Secret `accord-record-keys` in the operator's
//! namespace (created with a fresh ed25519 key on first start, re-read periodically so
//! a rotation reaches every replica), and the ConfigMap of the same name that
//! publishes every public key ever used. What the keys do is pure and lives in
//! [`accord_core::audit::keys`].

use std::sync::{Arc, RwLock};

use accord_core::audit::keys::{KEYS_SECRET, PUBLIC_KEYS_CONFIGMAP, RecordKeys};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

/// The record keys every replica signs with, swapped on rotation.
#[derive(Default)]
pub struct SharedRecordKeys(RwLock<Option<Arc<RecordKeys>>>);

impl SharedRecordKeys {
    pub fn set(&self, keys: RecordKeys) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(keys));
    }

    pub fn get(&self) -> Option<Arc<RecordKeys>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Reads the record keys from their Secret, creating it with a fresh key when missing,
/// and publishes their public keys.
pub async fn load_or_create(client: &Client, namespace: &str) -> Result<RecordKeys, kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let keys = match api.get_opt(KEYS_SECRET).await? {
        Some(secret) => match RecordKeys::from_secret(&secret) {
            Some(keys) => keys,
            None => {
                return Err(kube::Error::Api(
                    kube::core::Status::failure(
                        &format!(
                            "Secret {namespace}/{KEYS_SECRET} has no usable active record key"
                        ),
                        "Invalid",
                    )
                    .boxed(),
                ));
            }
        },
        None => {
            let keys = RecordKeys::generate("r1");
            match api
                .create(&PostParams::default(), &keys.to_secret(namespace))
                .await
            {
                Ok(_) => {
                    tracing::info!(secret = KEYS_SECRET, %namespace, "created the record signing key");
                    keys
                }
                // Another replica created it first: use theirs.
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let secret = api.get(KEYS_SECRET).await?;
                    RecordKeys::from_secret(&secret).unwrap_or(keys)
                }
                Err(err) => return Err(err),
            }
        }
    };
    publish(client, namespace, &keys).await?;
    Ok(keys)
}

/// Adds the keys' public halves to the ConfigMap (never removing one listed before).
pub async fn publish(
    client: &Client,
    namespace: &str,
    keys: &RecordKeys,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let existing = api.get_opt(PUBLIC_KEYS_CONFIGMAP).await?;
    let Some(data) = keys.published(existing.as_ref()) else {
        return Ok(());
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(PUBLIC_KEYS_CONFIGMAP.into()),
            namespace: Some(namespace.into()),
            labels: Some(
                [(
                    "app.kubernetes.io/part-of".to_string(),
                    "accord".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    };
    api.patch(
        PUBLIC_KEYS_CONFIGMAP,
        &PatchParams::apply(crate::api::FIELD_MANAGER).force(),
        &Patch::Apply(&cm),
    )
    .await?;
    tracing::info!(configmap = PUBLIC_KEYS_CONFIGMAP, active = %keys.active_public().keyid, "published the record public keys");
    Ok(())
}

/// Reloads the keys every `period` and publishes a rotation, until the process ends.
pub async fn refresh(
    client: Client,
    namespace: String,
    shared: Arc<SharedRecordKeys>,
    period: std::time::Duration,
) {
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    loop {
        tokio::time::sleep(period).await;
        let Ok(Some(secret)) = api.get_opt(KEYS_SECRET).await else {
            tracing::warn!(
                secret = KEYS_SECRET,
                "cannot read the record keys; keeping the keys in memory"
            );
            continue;
        };
        let Some(keys) = RecordKeys::from_secret(&secret) else {
            continue;
        };
        if shared.get().as_deref() != Some(&keys) {
            if let Err(err) = publish(&client, &namespace, &keys).await {
                tracing::warn!(%err, "cannot publish the rotated record key; not signing with it yet");
                continue;
            }
            tracing::info!(active = %keys.active, "record keys changed; reloaded");
            shared.set(keys);
        }
    }
}
