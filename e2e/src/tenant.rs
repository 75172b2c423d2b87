//! GitOps tenants: the chart's aggregated roles for people, and a ServiceAccount bound
//! only to the built-in `admin` role in one namespace — how Flux multi-tenancy
//! (`spec.serviceAccountName`) and Argo CD projects apply Git.

use std::time::Duration;

use serde_json::json;

use crate::{Kubectl, poll, repo_root, run_tool, token_kubeconfig};

/// The tenant ServiceAccount's name in its namespace.
pub const TENANT: &str = "tenant";

/// The user name a tenant ServiceAccount of `namespace` acts as.
pub fn tenant_user(namespace: &str) -> String {
    format!("system:serviceaccount:{namespace}:{TENANT}")
}

/// The chart's roles for people (`templates/user-roles.yaml`), rendered by Helm and
/// applied as admin, until the built-in `admin` role has aggregated their Attestation
/// rules; removed when dropped, so a later `helm install` finds no stray objects.
pub struct ChartRoles(String);

impl ChartRoles {
    pub fn install() -> Self {
        let chart = repo_root().join("charts/accord");
        let (ok, rendered) = run_tool(
            "helm",
            &[
                "template",
                "accord",
                chart.to_str().unwrap(),
                "--show-only",
                "templates/user-roles.yaml",
            ],
            None,
            &[],
        );
        assert!(ok, "helm template failed: {rendered}");
        let out = Kubectl::admin().apply(&rendered);
        // Removed again however the wait below ends.
        let roles = Self(rendered);
        assert!(out.success, "{}", out.stderr);
        poll(
            "the chart's roles to aggregate into admin",
            Duration::from_secs(60),
            || {
                (admin_role_grants("patch") && admin_role_grants("update"))
                    .then_some(())
                    .ok_or_else(|| {
                        "admin grants no patch and update on attestations yet".to_string()
                    })
            },
        );
        roles
    }
}

impl Drop for ChartRoles {
    fn drop(&mut self) {
        let _ = Kubectl::admin()
            .run_with_stdin(&["delete", "--ignore-not-found", "-f", "-"], Some(&self.0));
    }
}

/// Whether the built-in `admin` ClusterRole, as aggregated by the controller-manager,
/// grants `verb` on Attestations.
pub fn admin_role_grants(verb: &str) -> bool {
    let role = Kubectl::admin()
        .get_json(&["clusterrole", "admin"])
        .expect("the built-in admin role");
    role["rules"].as_array().into_iter().flatten().any(|rule| {
        let has = |key: &str, want: &str| {
            rule[key]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == want || x == "*"))
        };
        has("apiGroups", "accord.dev") && has("resources", "attestations") && has("verbs", verb)
    })
}

/// Creates the tenant ServiceAccount of `namespace` with only `admin` there; returns
/// kubectl acting as it.
pub fn tenant(namespace: &str) -> Kubectl {
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": TENANT, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "tenant-admin", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
         "subjects": [{"kind": "ServiceAccount", "name": TENANT, "namespace": namespace}]}
    ]});
    let out = Kubectl::admin().apply(&objects.to_string());
    assert!(out.success, "{}", out.stderr);
    Kubectl::with_kubeconfig(&tenant_user(namespace), token_kubeconfig(TENANT, namespace))
}
