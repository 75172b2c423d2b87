//! A namespace per test, so tests never see each other's objects.

use crate::Kubectl;

/// A namespace unique to one test, deleted (without waiting) when dropped.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<random suffix>`.
    pub fn create(prefix: &str) -> Self {
        let suffix = format!("{:x}", std::process::id() as u64 * 7919 + unique_counter());
        let name = format!("e2e-{prefix}-{suffix}");
        Kubectl::admin().ok(&["create", "namespace", &name]);
        Self { name }
    }

    /// Waits for the controller-manager to create the namespace's `default`
    /// ServiceAccount. A bare Pod created before it exists is refused by the
    /// ServiceAccount admission plugin ("serviceaccount \"default\" not found"),
    /// which is a race of the test, not an answer of the cluster.
    pub fn wait_for_default_service_account(&self) -> &Self {
        crate::poll::poll(
            "the namespace's default ServiceAccount",
            std::time::Duration::from_secs(30),
            || {
                let out =
                    Kubectl::admin().run(&["get", "serviceaccount", "default", "-n", &self.name]);
                out.success.then_some(()).ok_or(out.stderr)
            },
        );
        self
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = Kubectl::admin().run(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

fn unique_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    NEXT.fetch_add(1, Ordering::Relaxed) * 1_000_003 + u64::from(nanos)
}
