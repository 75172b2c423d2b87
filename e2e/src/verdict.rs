//! The verdicts every suite checks after an attempt: the request was denied by Accord's
//! admission webhook, or refused by Kubernetes RBAC, and afterwards the stored state is
//! unchanged (or nothing was stored at all). Every assertion names the case and shows
//! what kubectl answered or what the admin reads, so a failure says what the test saw.
//!
//! ```no_run
//! use accord_e2e::{Kubectl, Unchanged, assert_denied_by_accord};
//!
//! let (n, case) = ("e2e-example", "carol switches the rollback plan");
//! let model = Unchanged::read("md", Some(n), "fraud");
//! let plan = r#"{"spec":{"rollback":{"mode":"Manual"}}}"#;
//! let out = Kubectl::user("carol").run(&["patch", "md", "fraud", "-n", n, "-p", plan]);
//! assert_denied_by_accord(case, &out, &["carol may not change spec.rollback"]);
//! model.assert_same(case, &["/spec"]);
//! ```

use serde_json::Value;

use crate::{Kubectl, Output};

/// What the API server answers when one of Accord's admission webhooks (all named
/// `….accord.dev`) denies a request: `admission webhook "validate.teams.accord.dev"
/// denied the request: …`.
pub const DENIED_BY_ACCORD: &str = "accord.dev\" denied the request";

/// Asserts the request failed because Accord's admission webhook denied it, with every
/// fragment of `expect` in the answer.
#[track_caller]
pub fn assert_denied_by_accord(case: &str, out: &Output, expect: &[&str]) {
    assert!(
        !out.success,
        "{case}: was allowed, but Accord should deny it:\n{}{}",
        out.stdout, out.stderr
    );
    assert_denial_in(case, &out.stderr, expect);
}

/// Asserts `message` reports Accord's denial with every fragment of `expect`: kubectl's
/// stderr, or the message of a GitOps engine (Flux) that passes the API server's answer on.
#[track_caller]
pub fn assert_denial_in(case: &str, message: &str, expect: &[&str]) {
    assert!(
        message.contains(DENIED_BY_ACCORD),
        "{case}: not denied by Accord's webhook (no {DENIED_BY_ACCORD:?}):\n{message}"
    );
    let missing: Vec<&str> = expect
        .iter()
        .copied()
        .filter(|text| !message.contains(text))
        .collect();
    assert!(
        missing.is_empty(),
        "{case}: Accord's denial lacks {missing:?}:\n{message}"
    );
}

/// Asserts the request was refused by Kubernetes RBAC before any webhook saw it:
/// `Forbidden: … User "…" cannot <verb> resource "…"` (or `path "…"`), and no webhook
/// denial.
#[track_caller]
pub fn assert_refused_by_rbac(case: &str, out: &Output) {
    assert!(
        !out.success,
        "{case}: was allowed, but RBAC should refuse it:\n{}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains("Forbidden")
            && cannot_verb_resource(&out.stderr)
            && !out.stderr.contains("denied the request"),
        "{case}: not refused by RBAC (expected `Forbidden … cannot <verb> resource`):\n{}",
        out.stderr
    );
}

/// Whether `text` holds RBAC's `cannot <verb> resource` (`cannot impersonate resource
/// "users"`) or, for a URL that names no resource, `cannot <verb> path`.
fn cannot_verb_resource(text: &str) -> bool {
    text.split("cannot ").skip(1).any(|rest| {
        rest.split_once(' ').is_some_and(|(verb, after)| {
            !verb.is_empty()
                && verb.chars().all(|c| c.is_ascii_lowercase())
                && (after.starts_with("resource ") || after.starts_with("path "))
        })
    })
}

/// Asserts nothing of `kind` named `name` is stored (read as the admin) in `namespace`,
/// or cluster-wide when `None`: a refused create left nothing behind.
#[track_caller]
pub fn assert_not_stored(case: &str, kind: &str, namespace: Option<&str>, name: &str) {
    let place = describe(kind, namespace, name);
    if let Some(stored) = Kubectl::admin().get_json(&get_args(kind, namespace, name)) {
        panic!("{case}: {place} must not be stored, but it is:\n{stored:#}");
    }
}

/// An object as the admin read it before an attempt. Its assertions read the object
/// again as the admin and compare what matters, showing both versions when they differ.
#[derive(Debug, Clone)]
pub struct Unchanged {
    place: String,
    args: Vec<String>,
    before: Value,
}

impl Unchanged {
    /// Reads `kind` `name` in `namespace` (or cluster-wide when `None`); it must exist.
    #[track_caller]
    pub fn read(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        let place = describe(kind, namespace, name);
        let args = get_args(kind, namespace, name);
        let before = Kubectl::admin()
            .get_json(&args)
            .unwrap_or_else(|| panic!("{place} is not stored"));
        Self {
            place,
            args: args.iter().map(|a| a.to_string()).collect(),
            before,
        }
    }

    /// The object as it was read.
    pub fn before(&self) -> &Value {
        &self.before
    }

    /// Asserts no write reached the object: its resourceVersion is the same. Not for
    /// objects whose status the operator may write meanwhile (use [`Self::assert_same`]).
    #[track_caller]
    pub fn assert_untouched(&self, case: &str) {
        self.assert_same(case, &["/metadata/resourceVersion"]);
    }

    /// Asserts the object is still stored: the same object (uid), not being deleted.
    #[track_caller]
    pub fn assert_kept(&self, case: &str) {
        self.assert_same(case, &["/metadata/uid", "/metadata/deletionTimestamp"]);
    }

    /// Asserts each of `paths` (JSON pointers such as `/spec` or
    /// `/metadata/annotations/accord.dev~1seal`) holds what it held before.
    #[track_caller]
    pub fn assert_same(&self, case: &str, paths: &[&str]) {
        let now = self.now(case);
        for path in paths {
            let (was, is) = (at(&self.before, path), at(&now, path));
            assert!(
                was == is,
                "{case}: {} changed at {path}\nbefore: {was}\nnow:    {is}",
                self.place
            );
        }
    }

    /// Asserts `path` (a JSON pointer; absent reads as null) holds `expected`.
    #[track_caller]
    pub fn assert_still(&self, case: &str, path: &str, expected: impl Into<Value>) {
        let (expected, now) = (expected.into(), self.now(case));
        let is = at(&now, path);
        assert!(
            is == expected,
            "{case}: {} has {path} = {is}, expected {expected}\nbefore: {}",
            self.place,
            at(&self.before, path)
        );
    }

    /// The object now, as the admin reads it; panics when it is gone.
    #[track_caller]
    fn now(&self, case: &str) -> Value {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Kubectl::admin().get_json(&args).unwrap_or_else(|| {
            panic!(
                "{case}: {} is no longer stored; before:\n{:#}",
                self.place, self.before
            )
        })
    }
}

/// The value at JSON pointer `path`, null when absent.
fn at(value: &Value, path: &str) -> Value {
    value.pointer(path).cloned().unwrap_or(Value::Null)
}

fn get_args<'a>(kind: &'a str, namespace: Option<&'a str>, name: &'a str) -> Vec<&'a str> {
    let mut args = vec![kind, name];
    if let Some(namespace) = namespace {
        args.extend(["-n", namespace]);
    }
    args
}

fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(stderr: &str) -> Output {
        Output {
            success: false,
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }

    const RBAC: &str = "Error from server (Forbidden): users \"alice\" is forbidden: User \
        \"mallory\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope";
    const ACCORD: &str = "Error from server (Forbidden): admission webhook \
        \"validate.attestations.accord.dev\" denied the request: the annotation accord.dev/seal \
        is written by Accord and cannot be changed";

    #[test]
    fn a_webhook_denial_is_accords_and_not_rbacs() {
        assert_denied_by_accord("seal", &refused(ACCORD), &["accord.dev/seal", "cannot be"]);
        assert!(!cannot_verb_resource(ACCORD));
        let out = refused(ACCORD);
        let rbac = std::panic::catch_unwind(|| assert_refused_by_rbac("seal", &out));
        assert!(rbac.is_err(), "a webhook denial passed for RBAC's");
    }

    #[test]
    fn an_rbac_refusal_is_rbacs_and_not_accords() {
        assert_refused_by_rbac("impersonation", &refused(RBAC));
        assert!(cannot_verb_resource(
            "secrets \"k\" is forbidden: User \"alice\" cannot get resource \"secrets\""
        ));
        let out = refused(RBAC);
        let accord = std::panic::catch_unwind(|| assert_denied_by_accord("x", &out, &[]));
        assert!(
            accord.is_err(),
            "an RBAC refusal passed for Accord's denial"
        );
    }

    #[test]
    #[should_panic(expected = "lacks [\"separation of duties\"]")]
    fn a_missing_fragment_is_named() {
        assert_denied_by_accord("own", &refused(ACCORD), &["separation of duties"]);
    }

    #[test]
    #[should_panic(expected = "was allowed")]
    fn an_allowed_request_is_no_denial() {
        let out = Output {
            success: true,
            ..refused(ACCORD)
        };
        assert_denied_by_accord("allowed", &out, &[]);
    }

    #[test]
    fn an_absent_field_reads_as_null() {
        let object = serde_json::json!({"metadata": {"annotations": {"accord.dev/seal": "v2"}}});
        assert_eq!(at(&object, "/metadata/annotations/accord.dev~1seal"), "v2");
        assert_eq!(
            at(&object, "/metadata/annotations/accord.dev~1other"),
            Value::Null
        );
    }
}
