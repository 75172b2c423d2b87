//! The API server's audit log: who wrote what, as the API server saw it.

use serde_json::Value;

use crate::cluster_dir;

/// A place in the audit log: the file (the API server rotates it) and the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditMark {
    inode: u64,
    offset: u64,
}

/// The API server's audit log (`.cluster/audit.log`, JSON lines, level Metadata).
pub struct AuditLog;

impl AuditLog {
    /// The current end of the log, to read what happens after it.
    pub fn mark() -> AuditMark {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(cluster_dir().join("audit.log"));
        AuditMark {
            inode: meta.as_ref().map(|m| m.ino()).unwrap_or(0),
            offset: meta.map(|m| m.len()).unwrap_or(0),
        }
    }

    /// Every completed request since `mark`, parsed. The API server rotates the log at
    /// 200 MB: when it did since `mark`, the rotated file is read from `mark` on and
    /// the new one whole.
    pub fn events_since(mark: AuditMark) -> Vec<Value> {
        use std::io::{Read, Seek, SeekFrom};
        let dir = cluster_dir();
        let read_from = |path: &std::path::Path, offset: u64| -> String {
            let mut text = String::new();
            if let Ok(mut file) = std::fs::File::open(path) {
                let _ = file.seek(SeekFrom::Start(offset));
                let _ = file.read_to_string(&mut text);
            }
            text
        };
        let current = dir.join("audit.log");
        let mut text = String::new();
        if Self::mark().inode != mark.inode {
            let mut rotated: Vec<_> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with("audit-") && name.ends_with(".log")
                })
                .collect();
            rotated.sort();
            if let Some(newest) = rotated.last() {
                text.push_str(&read_from(newest, mark.offset));
            }
            text.push_str(&read_from(&current, 0));
        } else {
            text.push_str(&read_from(&current, mark.offset));
        }
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| e["stage"] == "ResponseComplete")
            .collect()
    }

    /// Write requests (create, update, patch, delete) by `user` since `mark`, as
    /// "verb resource namespace/name" lines.
    pub fn writes_since(mark: AuditMark, user: &str) -> Vec<String> {
        Self::events_since(mark)
            .into_iter()
            .filter(|e| e["user"]["username"] == user)
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
