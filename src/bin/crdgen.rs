//! Prints Accord's CustomResourceDefinitions as YAML, generated from the Rust types.
//!
//! `crdgen` prints all of them as one multi-document stream; `crdgen --out-dir DIR`
//! writes one file per CRD (`DIR/<plural>.<group>.yaml`), which is how `crds/` is made.

use std::{fs, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let out_dir = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--out-dir"), Some(dir)) => Some(PathBuf::from(dir)),
        (Some("--reference"), None) => {
            print!("{}", accord::api::reference::markdown());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: crdgen [--out-dir DIR | --reference]");
            return ExitCode::from(2);
        }
    };
    for crd in accord::api::crds() {
        let yaml = match accord::api::crd_yaml(&crd) {
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
