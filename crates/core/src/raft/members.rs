//! The cluster's membership as this node sees it: every member's id and
//! its own position, fixed after `init`. A leaf, so that the leader's
//! progress table and the node both use it.

use crate::id::Id;

/// Membership with this node's own position, fixed after `init`.
pub(super) struct Members {
    pub(super) me: usize,
    pub(super) ids: Vec<Id>,
}

impl Members {
    pub(super) fn majority(&self) -> usize {
        self.ids.len() / 2 + 1
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ids.len()).filter(move |&i| i != self.me)
    }

    /// `n1, n2, n3`: the members for a person to read.
    pub(super) fn list(&self) -> String {
        let ids: Vec<String> = self.ids.iter().map(Id::to_string).collect();
        ids.join(", ")
    }
}
