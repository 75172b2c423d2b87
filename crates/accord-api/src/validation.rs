//! Patterns and limits the API server enforces through the CRD schemas. Kept here so
//! the types, their unit tests and the docs all name the same rule.

/// A DNS-1123 label: lower-case alphanumerics and `-`, starting and ending alphanumeric.
pub const DNS1123_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain: dot-separated DNS-1123 labels (object names).
pub const DNS1123_SUBDOMAIN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A non-empty Kubernetes label value (at most 63 characters, enforced separately).
pub const LABEL_VALUE: &str = "^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";
/// An OCI content digest in the only algorithm Accord accepts.
pub const SHA256_DIGEST: &str = "^sha256:[a-f0-9]{64}$";
/// An http or https URL (a Prometheus server).
pub const HTTP_URL: &str = "^https?://[^\\s]+$";
/// A Go-style duration made of whole units, such as `30s`, `15m`, `24h` or `1h30m`.
pub const DURATION: &str = "^([0-9]+(ms|s|m|h))+$";

/// A single line (no line break): each signed field is one line of the statement.
pub const ONE_LINE: &str = "^[^\\r\\n]*$";
/// A non-empty single line without leading or trailing white space.
pub const ONE_WORD: &str = "^[^\\s]([^\\r\\n]*[^\\s])?$";
/// An RFC 3339 UTC time to the second, the only form a signed `signedAt` takes.
pub const UTC_SECONDS: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$";

/// Longest label value Kubernetes accepts; versions and owner names become label values.
pub const MAX_LABEL_VALUE: u32 = 63;
/// A rollback drill's run, `DRILL/RUN` (an Attestation's `spec.drill`).
pub const RUN_REF: &str = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[0-9]{8}-[0-9]{6}(-[0-9]+)?$";
/// Upper bound on checklist length, which also bounds the cost of the CEL uniqueness rule.
pub const MAX_CHECKLIST_ITEMS: u32 = 64;
