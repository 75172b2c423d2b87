//! Items a rollback drill satisfies. Which ones is decided above the gate, from the
//! model's RollbackDrills and the policies' `drills.satisfies` (`crate::drills`); the
//! gate's outcome only records it.

use std::collections::BTreeMap;

use super::GateOutcome;

impl GateOutcome {
    /// Marks each item of `satisfied` (item id → `RollbackDrill/<name> run <id>`)
    /// attested by that drill where no person's sign-off (or `autoApprove` rule) did,
    /// and no longer owed. Items attested already keep what attested them.
    pub fn satisfy_by_drill(&mut self, satisfied: &BTreeMap<String, String>) {
        for status in self.items.iter_mut().filter(|s| !s.attested) {
            let Some(by) = satisfied.get(&status.id) else {
                continue;
            };
            status.attested = true;
            status.satisfied_by_drill = Some(by.clone());
            status.reason = None;
            let several = format!("{} (", status.id);
            for owed in [&mut self.owed, &mut self.owed_after_canary] {
                if let Some(items) = owed.get_mut(&status.team) {
                    items.retain(|i| *i != status.id && !i.starts_with(&several));
                    if items.is_empty() {
                        owed.remove(&status.team);
                    }
                }
            }
        }
    }
}
