//! The board in the cluster's place, behind an identity-aware proxy
//! (`kubectl accord board --proxy-auth`), on the local control plane: it runs as a
//! ServiceAccount holding exactly the rights docs/board.md lists (read the Accord kinds,
//! impersonate users and groups), the test plays the proxy on loopback with the identity
//! headers, and every answer is checked against what the cluster stored. alice signs
//! off through it and the webhook records alice, not the ServiceAccount; mallory (in no
//! Team) is refused by the webhook; a token is one person's; a `system:` identity, a
//! request without a user and headers from outside `--trust-proxy` are refused.

mod support;

use std::{
    process::{Child, Stdio},
    time::Duration,
};

use accord_e2e::{Kubectl, TestNamespace, http1, plugin_command, token_kubeconfig};
use serde_json::Value;
use support::{create, model_deployment, wait_phase};

const WAIT: Duration = Duration::from_secs(60);
const HOST: &str = "board.test:443";
const ORIGIN: &str = "https://board.test:443";

/// A board with `--proxy-auth`, killed when dropped.
struct ProxiedBoard {
    child: Child,
    addr: String,
}

impl ProxiedBoard {
    fn start(kubeconfig: &std::path::Path, trusted: &str) -> ProxiedBoard {
        let mut child = plugin_command()
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["board", "--proxy-auth", "--trust-proxy", trusted])
            .args(["--allow-host", HOST, "--address", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl-accord board starts");
        let first = accord_e2e::first_stdout_line(&mut child, WAIT)
            .expect("the proxied board prints its address");
        assert!(
            first.contains("behind an identity-aware proxy") && first.contains(trusted),
            "{first}"
        );
        let addr = first
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(|port| format!("127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("no loopback address in {first:?}"));
        ProxiedBoard { child, addr }
    }

    /// A request as the proxy makes it: the external `Host` and Origin, and `user`'s
    /// identity headers when given.
    fn send(
        &self,
        method: &str,
        path: &str,
        who: Option<(&str, &str)>,
        form: &str,
    ) -> http1::Response {
        let mut headers = vec![
            ("Host", HOST),
            ("Origin", ORIGIN),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        if let Some((user, groups)) = who {
            headers.push(("X-Forwarded-User", user));
            headers.push(("X-Forwarded-Groups", groups));
        }
        http1::request(&self.addr, method, path, &headers, form.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

impl Drop for ProxiedBoard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ServiceAccount `accord-board` in `namespace` with the rights docs/board.md
/// lists, by a ClusterRole named after the namespace (deleted by [`Rights`]'s drop).
struct Rights(String);

impl Rights {
    fn grant(namespace: &str) -> Rights {
        let name = format!("accord-board-{namespace}");
        let manifest = format!(
            r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: accord-board, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}}}
rules:
  - apiGroups: [accord.dev]
    resources: [teams, modeldeployments, attestations, handoffpolicies, incidents]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [users, groups]
    verbs: [impersonate]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {name}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {name}}}
subjects: [{{kind: ServiceAccount, name: accord-board, namespace: {namespace}}}]
"#
        );
        let out = Kubectl::admin().run_with_stdin(&["apply", "-f", "-"], Some(&manifest));
        assert!(out.success, "{}", out.stderr);
        Rights(name)
    }
}

impl Drop for Rights {
    fn drop(&mut self) {
        for kind in ["clusterrolebinding", "clusterrole"] {
            let _ = Kubectl::admin().run_with_stdin(&["delete", kind, &self.0], None);
        }
    }
}

/// The value of `name="NAME" value="…"` (or `content="…"`) after `from` in `html`.
fn attribute_after(html: &str, from: &str, name: &str, attr: &str) -> String {
    let start = html
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in:\n{html}"));
    let rest = &html[start..];
    let at = rest
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} after {from}"));
    let rest = &rest[at..];
    let value = &rest[rest.find(&format!("{attr}=\"")).expect(attr) + attr.len() + 2..];
    value[..value.find('"').expect("a closing quote")].to_string()
}

/// The Attestations of `namespace` for `item`, as the admin reads them.
fn stored(namespace: &str, item: &str) -> Vec<Value> {
    let list = Kubectl::admin()
        .get_json(&["attestations", "-n", namespace])
        .expect("the Attestations list");
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["spec"]["item"] == item)
        .cloned()
        .collect()
}

/// A sign-off form for `item` of `churn` 1.0.0 with `fingerprint` and `csrf`.
fn sign_off_form(namespace: &str, fingerprint: &str, csrf: &str, item: &str) -> String {
    http1::form_urlencoded(&[
        ("csrf", csrf),
        ("namespace", namespace),
        ("model", "churn"),
        ("item", item),
        ("version", "1.0.0"),
        ("fingerprint", fingerprint),
        ("evidence", "https://ci.example/proxy/1"),
        ("confirm", "yes"),
    ])
}

#[test]
fn the_proxied_board_acts_as_each_person_and_believes_only_the_proxy() {
    accord_e2e::shared_operator("board-proxy");
    let ns = TestNamespace::create("board-proxy");
    let n = ns.name.as_str();
    create(&model_deployment(n, "churn", "1.0.0"));
    wait_phase(n, "churn", "AwaitingAttestations", WAIT);
    let _rights = Rights::grant(n);
    let kubeconfig = token_kubeconfig("accord-board", n);
    let board = ProxiedBoard::start(&kubeconfig, "127.0.0.1/32");
    let alice = Some(("alice", "data-platform-eng"));
    let mallory = Some(("mallory", ""));

    // alice, through the proxy: her item is listed, and her sign-off is recorded as hers.
    let row = format!("data-item=\"{n}/churn/drift\"");
    let page = accord_e2e::poll("alice's drift row", WAIT, || {
        let page = board.send("GET", "/", alice, "");
        (page.status == 200 && page.text().contains(&row))
            .then(|| page.text())
            .ok_or(format!("{} {}", page.status, page.text()))
    });
    assert!(
        page.contains("Signed in as <strong>alice</strong>"),
        "{page}"
    );
    let alice_token = attribute_after(&page, "<head>", "csrf-token", "content");
    let fingerprint = attribute_after(&page, &row, "fingerprint", "value");
    let form = |csrf: &str, item: &str| sign_off_form(n, &fingerprint, csrf, item);
    let answer = board.send("POST", "/signoff", alice, &form(&alice_token, "drift"));
    assert_eq!(answer.status, 303, "{}", answer.text());
    let drift = stored(n, "drift");
    assert_eq!(drift.len(), 1, "{drift:#?}");
    assert_eq!(
        drift[0]["spec"]["attestedBy"], "alice",
        "the webhook saw the impersonated person, not the board's ServiceAccount"
    );

    // mallory: owes nothing; the webhook refuses her sign-off of an item she does not
    // own; alice's token is not hers.
    let page = board.send("GET", "/", mallory, "").text();
    assert!(page.contains("id=\"owed-none\""), "{page}");
    let mallory_token = attribute_after(&page, "<head>", "csrf-token", "content");
    assert_ne!(
        mallory_token, alice_token,
        "each person has their own token"
    );
    let answer = board.send("POST", "/signoff", mallory, &form(&mallory_token, "kpis"));
    assert!(
        (400..500).contains(&answer.status) && answer.text().contains("mallory is not a member"),
        "{} {}",
        answer.status,
        answer.text()
    );
    let answer = board.send("POST", "/signoff", mallory, &form(&alice_token, "kpis"));
    assert_eq!(
        answer.status,
        403,
        "alice's token under mallory's name: {}",
        answer.text()
    );
    assert!(stored(n, "kpis").is_empty(), "nothing stored for mallory");

    // The cluster's own identities, a request without a user, and headers from
    // outside the trusted range are refused before anything is read or written.
    let answer = board.send(
        "GET",
        "/",
        Some(("system:kube-controller-manager", "system:masters")),
        "",
    );
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert_eq!(board.send("GET", "/", None, "").status, 401);
    drop(board);
    let elsewhere = ProxiedBoard::start(&kubeconfig, "10.9.9.0/24");
    let answer = elsewhere.send("POST", "/signoff", alice, &form(&alice_token, "kpis"));
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(
        answer.text().contains("is not the identity-aware proxy"),
        "{}",
        answer.text()
    );
    assert!(stored(n, "kpis").is_empty());
}
