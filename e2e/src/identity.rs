//! Kubeconfigs for ServiceAccounts: the operator never runs as admin in the tests.

use std::path::PathBuf;

use crate::{Kubectl, cluster_dir, setup::apply_file};

/// Sets up the operator's ServiceAccount `name` in `accord-system`, bound to the
/// operator ClusterRole and leader-election Role of `deploy/operator-rbac.yaml`, and
/// writes a kubeconfig holding one of its tokens. The operator runs as this identity,
/// never as admin, so RBAC applies and the audit log tells its requests apart.
pub fn operator_kubeconfig(name: &str) -> PathBuf {
    let admin = Kubectl::admin();
    apply_file("deploy/operator-rbac.yaml");
    if name != "accord-operator" {
        let extra = format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[
            {{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"{name}","namespace":"accord-system"}}}},
            {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{{"name":"{name}"}},
              "roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"accord-operator"}},
              "subjects":[{{"kind":"ServiceAccount","name":"{name}","namespace":"accord-system"}}]}},
            {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{{"name":"{name}","namespace":"accord-system"}},
              "roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"accord-operator-leader-election"}},
              "subjects":[{{"kind":"ServiceAccount","name":"{name}","namespace":"accord-system"}}]}}]}}"#
        );
        let out = admin.apply(&extra);
        assert!(out.success, "{}", out.stderr);
    }
    token_kubeconfig(name, "accord-system")
}

/// Writes a kubeconfig holding a fresh token of ServiceAccount `namespace/name`.
pub fn token_kubeconfig(name: &str, namespace: &str) -> PathBuf {
    let token = Kubectl::admin()
        .ok(&["create", "token", name, "-n", namespace, "--duration=3h"])
        .stdout;
    let admin_config =
        std::fs::read_to_string(cluster_dir().join("kubeconfig")).expect("admin kubeconfig");
    let server = admin_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server");
    let ca = admin_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("ca");
    let path = cluster_dir().join(format!("{name}.kubeconfig"));
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         users:\n- name: {name}\n  user:\n    token: {}\ncontexts:\n- name: {name}\n  context: {{cluster: local, user: {name}}}\ncurrent-context: {name}\n",
        token.trim()
    );
    std::fs::write(&path, kubeconfig).expect("write operator kubeconfig");
    path
}

/// The audit-log user name of a ServiceAccount in `accord-system`.
pub fn service_account_user(name: &str) -> String {
    format!("system:serviceaccount:accord-system:{name}")
}
