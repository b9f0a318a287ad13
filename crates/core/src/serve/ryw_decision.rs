//! The read-your-writes decision: where a `ryw_read` is served when it
//! arrives. A node that has applied the client's last write serves it at
//! once (a follower only when the client prefers followers); a follower
//! behind it waits, at most `ryw_wait_ms_max`, for apply to reach it, and
//! then sends the read to the leader (`follower_behind`); a client that
//! asked for the leader gets the leader (`leader_requested`). A leader
//! behind the token never waits here: its own read path waits for apply,
//! or refuses a token no write was given.

/// Where a `ryw_read` goes when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RywDecision {
    /// Answer from this node's applied state now.
    ServeHere,
    /// Wait here for apply to reach the token, then serve, or after the
    /// wait bound go to the leader.
    WaitForApply,
    /// Run by the leader (this node, if it leads); `leader_requested` when
    /// a follower sends it there because the client asked for the leader.
    ToLeader { leader_requested: bool },
}

/// Decides where a `ryw_read` with token `last_write_index` goes, at a
/// node that has applied up to `applied_index`.
pub(super) fn decide(
    applied_index: u64,
    last_write_index: u64,
    prefer_follower: bool,
    is_leader: bool,
) -> RywDecision {
    if applied_index >= last_write_index && (prefer_follower || is_leader) {
        RywDecision::ServeHere
    } else if prefer_follower && !is_leader {
        RywDecision::WaitForApply
    } else {
        RywDecision::ToLeader {
            leader_requested: !is_leader,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_that_applied_the_token_serves_when_followers_are_preferred() {
        assert_eq!(decide(5, 5, true, false), RywDecision::ServeHere);
        assert_eq!(decide(9, 5, true, false), RywDecision::ServeHere);
        assert_eq!(decide(0, 0, true, false), RywDecision::ServeHere);
    }

    #[test]
    fn a_follower_behind_the_token_waits_rather_than_serve_older_state() {
        assert_eq!(decide(4, 5, true, false), RywDecision::WaitForApply);
    }

    #[test]
    fn a_client_that_asked_for_the_leader_gets_it_even_from_an_up_to_date_follower() {
        let to_leader = RywDecision::ToLeader {
            leader_requested: true,
        };
        assert_eq!(decide(9, 5, false, false), to_leader);
        assert_eq!(decide(4, 5, false, false), to_leader);
    }

    #[test]
    fn a_leader_serves_what_it_applied_and_runs_its_read_path_otherwise() {
        assert_eq!(decide(5, 5, false, true), RywDecision::ServeHere);
        assert_eq!(decide(5, 5, true, true), RywDecision::ServeHere);
        let own_path = RywDecision::ToLeader {
            leader_requested: false,
        };
        assert_eq!(decide(4, 5, true, true), own_path);
        assert_eq!(decide(4, 5, false, true), own_path);
    }
}
