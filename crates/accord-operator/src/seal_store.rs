//! Where the seal keys live: a Secret in the operator's namespace, created with a fresh
//! key on first start and re-read periodically so a rotation reaches every replica.
//! What the keys do is pure and lives in [`accord_core::seal`].

use std::sync::Arc;

use accord_core::seal::{KEYS_SECRET, SealKeys, SharedKeys};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, api::PostParams};

/// Why the seal keys cannot be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SealKeysError {
    #[error("cannot read or create Secret {namespace}/{KEYS_SECRET}: {source}")]
    Api {
        namespace: String,
        source: kube::Error,
    },
    #[error("Secret {namespace}/{KEYS_SECRET} has no usable active key")]
    Unusable { namespace: String },
}

/// Reads the seal keys from their Secret, creating it with a fresh key when missing.
pub async fn load_or_create(client: &Client, namespace: &str) -> Result<SealKeys, SealKeysError> {
    let api_error = |source| SealKeysError::Api {
        namespace: namespace.to_string(),
        source,
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if let Some(secret) = api.get_opt(KEYS_SECRET).await.map_err(api_error)? {
        if let Some(keys) = SealKeys::from_secret(&secret) {
            return Ok(keys);
        }
        tracing::warn!(
            secret = KEYS_SECRET,
            "seal key Secret has no usable active key; not overwriting it"
        );
    }
    let keys = SealKeys::generate("k1");
    match api
        .create(&PostParams::default(), &keys.to_secret(namespace))
        .await
    {
        Ok(_) => {
            tracing::info!(secret = KEYS_SECRET, %namespace, "created the attestation seal key");
            Ok(keys)
        }
        // Another replica created it first: use theirs.
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let secret = api.get(KEYS_SECRET).await.map_err(api_error)?;
            SealKeys::from_secret(&secret).ok_or_else(|| SealKeysError::Unusable {
                namespace: namespace.to_string(),
            })
        }
        Err(err) => Err(api_error(err)),
    }
}

/// Reloads the keys from the Secret every `period`, so a rotation reaches every replica.
pub async fn refresh(
    client: Client,
    namespace: String,
    shared: Arc<SharedKeys>,
    period: std::time::Duration,
) {
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    loop {
        tokio::time::sleep(period).await;
        match api.get_opt(KEYS_SECRET).await {
            Ok(Some(secret)) => {
                if let Some(keys) = SealKeys::from_secret(&secret)
                    && shared.get().as_deref() != Some(&keys)
                {
                    tracing::info!(active = %keys.active, "seal keys changed; reloaded");
                    shared.set(keys);
                }
            }
            Ok(None) => tracing::warn!(
                secret = KEYS_SECRET,
                "seal key Secret disappeared; keeping the keys in memory"
            ),
            Err(err) => tracing::warn!(%err, "cannot refresh seal keys"),
        }
    }
}
