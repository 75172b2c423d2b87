//! Escalation: a candidate waiting longer than `escalateAfter` raises `Escalated`, once,
//! naming the late Teams and their contacts.

use crate::events::EventType;

use crate::{
    api::{
        conditions::ESCALATED,
        reasons::{condition as reason, event},
    },
    timing::{elapsed, parse_duration},
};

use super::Planner;

impl Planner<'_> {
    /// Step 5: escalation of overdue sign-off, once per candidate.
    pub(super) fn escalate(&mut self, awaiting: bool) {
        let spec = self.spec();
        let configured = spec.handoff.escalate_after.as_deref().unwrap_or_default();
        let limit = spec
            .handoff
            .escalate_after
            .as_deref()
            .and_then(parse_duration);
        let Some(limit) = limit.filter(|_| awaiting) else {
            let (reason, message) = if awaiting {
                (reason::NO_DEADLINE, "spec.handoff.escalateAfter is not set")
            } else {
                (reason::NOT_WAITING, "no candidate is waiting for sign-off")
            };
            self.condition(ESCALATED, false, reason, message);
            return;
        };
        let tracking = self.status.candidate.clone().expect("tracked in step 1");
        let waited = elapsed(&tracking.first_seen, &self.input.now);
        if waited < limit {
            let message = format!("sign-off is due within {configured}");
            self.condition(ESCALATED, false, reason::WITHIN_DEADLINE, message);
            self.requeue_within(limit - waited);
            return;
        }
        let message = format!(
            "{} has waited {}s for sign-off, longer than escalateAfter {configured}; late: {}",
            self.version(),
            waited.as_secs(),
            self.late_teams()
        );
        self.condition(ESCALATED, true, reason::SIGN_OFF_OVERDUE, message.clone());
        if !tracking.escalated {
            self.status.candidate.as_mut().expect("tracked").escalated = true;
            self.event(EventType::Warning, event::ESCALATED, message);
            self.signals.escalated = true;
        }
    }

    /// "team (items, contact …); team (items)" for every team that still owes items.
    pub(super) fn late_teams(&self) -> String {
        let late: Vec<String> = self
            .input
            .gate
            .owed
            .iter()
            .map(|(team, items)| {
                let contacts = self.input.contacts.get(team).filter(|c| !c.is_empty());
                let reach = contacts
                    .map(|c| format!(", contact {}", c.join(" ")))
                    .unwrap_or_default();
                format!("{team} ({}{reach})", items.join(", "))
            })
            .collect();
        late.join("; ")
    }
}
