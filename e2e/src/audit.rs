//! The API server's audit log: who wrote what, as the API server saw it.

use serde_json::Value;

use crate::cluster_dir;

/// The API server's audit log (`.cluster/audit.log`, JSON lines, level Metadata).
pub struct AuditLog;

impl AuditLog {
    /// The current end of the log, to read what happens after it.
    pub fn mark() -> u64 {
        std::fs::metadata(cluster_dir().join("audit.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Write requests (create, update, patch, delete) by `user` since `mark`, as
    /// "verb resource namespace/name" lines.
    pub fn writes_since(mark: u64, user: &str) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(cluster_dir().join("audit.log")).expect("audit log");
        file.seek(SeekFrom::Start(mark)).expect("seek");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("read audit log");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
            .filter(|e| {
                matches!(
                    e["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                )
            })
            .map(|e| {
                let o = &e["objectRef"];
                format!(
                    "{} {}{} {}/{} ({})",
                    e["verb"].as_str().unwrap_or_default(),
                    o["resource"].as_str().unwrap_or_default(),
                    o["subresource"]
                        .as_str()
                        .map(|s| format!("/{s}"))
                        .unwrap_or_default(),
                    o["namespace"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default(),
                    e["responseStatus"]["code"]
                )
            })
            .collect()
    }
}
