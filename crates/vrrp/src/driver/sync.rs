//! Sync groups (keepalived `vrrp_sync.c`): members go to MASTER together, leave it
//! together, and share faults.

use std::time::Instant;

use rk_vrrp_proto::{FaultSource, Input, Reason, StateKind, SyncCommand};

use super::Driver;

impl Driver {
    fn group_of(&self, i: usize) -> Option<Vec<usize>> {
        self.sync_groups
            .iter()
            .find(|g| g.members.contains(&i))
            .map(|g| g.members.clone())
    }

    /// A member's down timer ran out (`vrrp_sync_can_goto_master`): once every member is
    /// MASTER or wants to be, the BACKUP members go together.
    pub(super) fn on_want_master(&mut self, i: usize) {
        let Some(members) = self.group_of(i) else {
            return;
        };
        self.want_master.insert(i);
        let all = members.iter().all(|m| {
            self.want_master.contains(m) || self.insts[*m].vi.state() == StateKind::Master
        });
        if !all {
            return;
        }
        let now = Instant::now();
        for m in &members {
            self.want_master.remove(m);
            if self.insts[*m].vi.state() == StateKind::Backup {
                self.insts[*m]
                    .vi
                    .handle(now, Input::Sync(SyncCommand::GoMaster));
            }
        }
    }

    /// After a member's transition: one leaving MASTER (not on the group's order) takes the
    /// others to BACKUP; any member in FAULT for its own reasons holds the others in FAULT.
    pub(super) fn sync_after_change(
        &mut self,
        i: usize,
        from: StateKind,
        to: StateKind,
        reason: Reason,
        now: Instant,
    ) {
        let Some(members) = self.group_of(i) else {
            return;
        };
        self.want_master.remove(&i);
        if from == StateKind::Master && to == StateKind::Backup && reason != Reason::SyncGroup {
            for m in members.iter().filter(|m| **m != i) {
                if self.insts[*m].vi.state() == StateKind::Master {
                    self.insts[*m]
                        .vi
                        .handle(now, Input::Sync(SyncCommand::GoBackup));
                }
            }
        }
        let own_fault =
            |d: &Driver, m: usize| d.insts[m].vi.faults().any(|f| f != FaultSource::SyncGroup);
        for m in &members {
            let others_faulty = members.iter().any(|o| o != m && own_fault(self, *o));
            self.insts[*m].vi.handle(
                now,
                Input::Fault {
                    source: FaultSource::SyncGroup,
                    active: others_faulty,
                },
            );
        }
    }
}
