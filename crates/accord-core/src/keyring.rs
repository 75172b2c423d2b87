//! How Accord keeps keys in a Secret (the seal keys, the record keys): one entry per key
//! id holding the key's bytes, and `active`, the id new seals or signatures use.
//! Rotation adds an id and moves `active`; old ids stay so what they made still verifies.

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString, api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use crate::api::labels;

/// The entry naming the active key id.
pub const ACTIVE: &str = "active";

/// The active id and every key a Secret holds, when the active one is among them.
pub fn read(secret: &Secret) -> Option<(String, BTreeMap<String, Vec<u8>>)> {
    let data = secret.data.as_ref()?;
    let active = String::from_utf8(data.get(ACTIVE)?.0.clone()).ok()?;
    let keys: BTreeMap<String, Vec<u8>> = data
        .iter()
        .filter(|(k, _)| k.as_str() != ACTIVE)
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    keys.contains_key(&active).then_some((active, keys))
}

/// The Secret `name` in `namespace` holding `keys` with `active`.
pub fn secret<'a>(
    name: &str,
    namespace: &str,
    active: &str,
    keys: impl IntoIterator<Item = (&'a String, &'a [u8])>,
) -> Secret {
    let mut data: BTreeMap<String, ByteString> = keys
        .into_iter()
        .map(|(k, v)| (k.clone(), ByteString(v.to_vec())))
        .collect();
    data.insert(ACTIVE.into(), ByteString(active.as_bytes().to_vec()));
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([(
                labels::MANAGED_BY.into(),
                labels::MANAGED_BY_VALUE.into(),
            )])),
            ..Default::default()
        },
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}
