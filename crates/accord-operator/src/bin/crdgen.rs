//! Prints Accord's CustomResourceDefinitions as YAML, generated from the Rust types.
//!
//! `crdgen` prints all of them as one multi-document stream; `crdgen --out-dir DIR`
//! writes one file per CRD (`DIR/<plural>.<group>.yaml`), which is how `crds/` is made.
//! `crdgen --predicate-schema` prints the JSON Schema (draft 2020-12) of the predicate of
//! Accord's signed PromotionRecords (`https://accord.dev/promotion/v1`), which is
//! `docs/promotion-predicate.schema.json`.

// Long functions are split into named steps.
#![warn(clippy::too_many_lines)]

use std::{collections::BTreeMap, fs, path::PathBuf, process::ExitCode};

use serde_json::Value;

/// Each webhook's rules and path, by name, from configuration objects.
fn hooks_of(objects: &[Value]) -> BTreeMap<String, (Value, Value)> {
    objects
        .iter()
        .filter(|o| {
            let kind = o["kind"].as_str().unwrap_or_default();
            kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration"
        })
        .flat_map(|o| o["webhooks"].as_array().cloned().unwrap_or_default())
        .map(|hook| {
            let name = hook["name"].as_str().unwrap_or_default().to_string();
            let path = hook["clientConfig"]["service"]["path"].clone();
            (name, (hook["rules"].clone(), path))
        })
        .collect()
}

/// Compares the chart's webhook configurations (rendered by `helm template`) with the
/// ones the operator writes: same webhooks, rules and paths.
fn check_webhooks(rendered: &str) -> ExitCode {
    use accord_operator::webhook::configuration::{Endpoint, mutating, validating};
    let text = match fs::read_to_string(rendered) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("crdgen: cannot read {rendered}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let chart: Vec<Value> = match serde_saphyr::from_multiple(&text) {
        Ok(docs) => docs,
        Err(err) => {
            eprintln!("crdgen: {rendered} is not YAML: {err}");
            return ExitCode::FAILURE;
        }
    };
    let endpoint = Endpoint::Service {
        namespace: "accord-system".into(),
        name: "accord".into(),
        port: 443,
    };
    let mut code = vec![
        serde_json::to_value(mutating(&endpoint, None, &[])).expect("serializes"),
        serde_json::to_value(validating(&endpoint, None, &[])).expect("serializes"),
    ];
    code[0]["kind"] = "MutatingWebhookConfiguration".into();
    code[1]["kind"] = "ValidatingWebhookConfiguration".into();
    let (chart, code) = (hooks_of(&chart), hooks_of(&code));
    if chart == code {
        println!(
            "the chart's webhook rules match the operator's ({} webhooks)",
            code.len()
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "the chart's webhook configurations differ from crates/accord-operator/src/webhook/configuration.rs:"
    );
    eprintln!(
        "  chart:    {}",
        serde_json::to_string(&chart).unwrap_or_default()
    );
    eprintln!(
        "  operator: {}",
        serde_json::to_string(&code).unwrap_or_default()
    );
    ExitCode::FAILURE
}

/// The JSON Schema (draft 2020-12) of [`accord_api::Predicate`], as pretty JSON with a
/// final newline. Its `$id` is the predicate type, so a validator can tell what it checks.
fn predicate_schema() -> String {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<accord_api::Predicate>();
    schema.insert("$id".into(), accord_api::PREDICATE_TYPE.into());
    schema.insert(
        "title".into(),
        format!(
            "Accord promotion record predicate ({})",
            accord_api::PREDICATE_TYPE
        )
        .into(),
    );
    schema.insert(
        "description".into(),
        "The predicate of the in-toto Statement v1 that an Accord PromotionRecord signs \
         (DSSE, ed25519). Generated from the Rust type by `make crds`; see docs/audit.md."
            .into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let out_dir = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--out-dir"), Some(dir)) => Some(PathBuf::from(dir)),
        (Some("--reference"), None) => {
            print!("{}", accord_api::reference::markdown());
            return ExitCode::SUCCESS;
        }
        (Some("--predicate-schema"), None) => {
            print!("{}", predicate_schema());
            return ExitCode::SUCCESS;
        }
        (Some("--check-webhooks"), Some(rendered)) => return check_webhooks(&rendered),
        _ => {
            eprintln!(
                "usage: crdgen [--out-dir DIR | --reference | --predicate-schema | --check-webhooks RENDERED_CHART.yaml]"
            );
            return ExitCode::from(2);
        }
    };
    for crd in accord_api::crds() {
        let yaml = match accord_api::crd_yaml(&crd) {
            Ok(yaml) => yaml,
            Err(err) => {
                eprintln!(
                    "crdgen: cannot render {}: {err}",
                    crd.metadata.name.unwrap_or_default()
                );
                return ExitCode::FAILURE;
            }
        };
        match &out_dir {
            None => print!("---\n{yaml}"),
            Some(dir) => {
                let path = dir.join(format!(
                    "{}.yaml",
                    crd.metadata.name.as_deref().unwrap_or("crd")
                ));
                if let Err(err) = fs::create_dir_all(dir).and_then(|()| fs::write(&path, &yaml)) {
                    eprintln!("crdgen: cannot write {}: {err}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
