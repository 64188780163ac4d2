//! An account's audit chain, whatever the backend: what recording an id again means, the
//! entry a new one becomes on the chain, and the walk a verification takes over the stored
//! entries, with the reasons it gives where the chain breaks.

use std::ops::ControlFlow;

use pipelog_core::audit::{AuditEntry, AuditId, ChainHash, ChainLink, NewAuditEntry};
use pipelog_core::ids::AccountId;
use pipelog_core::time::UtcTime;

use crate::{BrokenLink, ChainAnchor, ChainVerification, RecordedAudit, StoreError};

/// What recording `new` (whose canonical details are `details`) answers when its account
/// already holds `existing` under the same id: that entry when `new` says the same (a
/// retry), a conflict when it does not.
pub(crate) fn repeated(
    existing: AuditEntry,
    new: &NewAuditEntry,
    details: &str,
) -> Result<RecordedAudit, StoreError> {
    let same = existing.entity_type == new.entity_type
        && existing.event_type == new.event_type
        && existing.version == new.version
        && existing.details.canonical() == details
        && new
            .time_generated
            .is_none_or(|at| at == existing.time_generated);
    if !same {
        return Err(StoreError::Conflict(format!(
            "an audit entry with id {} was recorded before with different content",
            existing.id
        )));
    }
    Ok(RecordedAudit {
        entry: existing,
        created: false,
    })
}

/// The entry `new` (whose canonical details are `details`) becomes at `seq` of its
/// account's chain, after the entry whose hash is `previous`.
pub(crate) fn chained(
    account: AccountId,
    seq: u64,
    previous: &ChainHash,
    new: &NewAuditEntry,
    details: &str,
    now: UtcTime,
) -> AuditEntry {
    let id = new.id.clone().unwrap_or_else(AuditId::generate);
    let time_generated = new.time_generated.unwrap_or(now);
    let hash = ChainLink {
        account_id: account,
        seq,
        id: id.as_str(),
        time_generated,
        recorded_at: now,
        entity_type: new.entity_type.as_str(),
        event_type: new.event_type.as_str(),
        version: new.version.as_str(),
        details,
    }
    .hash(previous);
    AuditEntry {
        id,
        account_id: account,
        seq,
        time_generated,
        recorded_at: now,
        entity_type: new.entity_type.clone(),
        event_type: new.event_type.clone(),
        version: new.version.clone(),
        details: new.details.clone(),
        hash,
    }
}

/// A verification under way: it recomputes the chain from its first entry, from each
/// entry's columns as they are stored, and compares every stored hash; with an anchor, it
/// also checks that the chain passes through it.
#[derive(Debug)]
pub(crate) struct ChainWalk {
    anchor: Option<ChainAnchor>,
    checked: u64,
    previous: ChainHash,
}

impl ChainWalk {
    /// A walk from the chain's start, or the verification's outcome already when the
    /// anchor cannot be right whatever is stored.
    pub(crate) fn start(anchor: Option<ChainAnchor>) -> Result<ChainWalk, ChainVerification> {
        if let Some(anchor) = anchor
            && anchor.entries == 0
            && anchor.head != ChainHash::GENESIS
        {
            return Err(broken_at(
                0,
                None,
                0,
                "the digest states an empty chain with a non-empty head".into(),
            ));
        }
        Ok(ChainWalk {
            anchor,
            checked: 0,
            previous: ChainHash::GENESIS,
        })
    }

    /// The next stored entry, in seq order, and the hash stored with it; `Break` with the
    /// verification's outcome where the chain breaks.
    pub(crate) fn step(
        &mut self,
        link: &ChainLink<'_>,
        stored_hash: &[u8],
    ) -> ControlFlow<ChainVerification> {
        let (seq, checked) = (link.seq, self.checked);
        let id = || AuditId::parse(link.id).ok();
        if seq != checked {
            return ControlFlow::Break(broken_at(
                checked,
                id(),
                seq,
                format!(
                    "it is entry {seq} where entry {checked} should be: entries are missing before it"
                ),
            ));
        }
        let expected = link.hash(&self.previous);
        if stored_hash != expected.as_bytes() {
            return ControlFlow::Break(broken_at(
                checked,
                id(),
                seq,
                "its content or its place does not match its hash".into(),
            ));
        }
        self.previous = expected;
        self.checked += 1;
        if let Some(anchor) = self.anchor
            && anchor.entries == self.checked
            && anchor.head != self.previous
        {
            // Every hash is consistent, yet not the chain the digest saw: history up to
            // here was rewritten, hashes and all.
            return ControlFlow::Break(broken_at(
                0,
                id(),
                seq,
                format!(
                    "the chain up to this entry no longer matches the digest of its first {} entries: \
                     entries up to here were rewritten along with their hashes",
                    anchor.entries
                ),
            ));
        }
        ControlFlow::Continue(())
    }

    /// The outcome after the last stored entry, given the chain's head as recorded: the
    /// seq the next entry would get, and the hash it would follow.
    pub(crate) fn finish(self, next_seq: u64, head: ChainHash) -> ChainVerification {
        let checked = self.checked;
        if let Some(anchor) = self.anchor
            && anchor.entries > checked
        {
            return broken_at(
                checked,
                None,
                checked,
                format!(
                    "the digest covers {} entries but the chain now holds {checked}",
                    anchor.entries
                ),
            );
        }
        if next_seq != checked || head != self.previous {
            return broken_at(
                checked,
                None,
                checked,
                format!(
                    "the chain holds {checked} entries but its head records {next_seq}: entries at its end are missing or its head was changed"
                ),
            );
        }
        ChainVerification {
            checked,
            broken: None,
        }
    }
}

/// A verification that stopped at a broken link.
fn broken_at(checked: u64, id: Option<AuditId>, seq: u64, reason: String) -> ChainVerification {
    ChainVerification {
        checked,
        broken: Some(BrokenLink { id, seq, reason }),
    }
}
