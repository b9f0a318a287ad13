//! Replies of the right kind: a `write` is answered by `write_ok` or an
//! error, a `ryw_read` by `ryw_read_ok` or an error, and so on.

use ryw_core::{ClientOp, OpResult};

use super::{Checker, Finish, Property, Reply, Verdict, Violation};

#[derive(Default)]
pub struct ReplyKinds {
    violations: Vec<Violation>,
}

impl Checker for ReplyKinds {
    fn on_reply(&mut self, reply: &Reply<'_>) {
        let Some(result) = reply.result else { return };
        let fits = matches!(
            (&reply.request.op, result),
            (_, OpResult::Error { .. })
                | (ClientOp::Write { .. }, OpResult::WriteOk { .. })
                | (ClientOp::Cas { .. }, OpResult::CasOk { .. })
                | (ClientOp::Read { .. }, OpResult::ReadOk { .. })
                | (ClientOp::RywRead { .. }, OpResult::RywReadOk { .. })
        );
        if !fits {
            self.violations.push(Violation::new(
                Property::Protocol,
                reply.now_ms,
                Some(reply.session.client.to_string()),
                format!(
                    "{} answered with {}",
                    reply.request.op.type_name(),
                    result.type_name()
                ),
            ));
        }
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        verdict.violations.append(&mut self.violations);
    }
}

#[cfg(test)]
mod tests {
    use ryw_core::{ErrorCode, Key, Value};

    use super::super::fixtures::{details, reply, request, session, verdict};
    use super::super::oracle::CommittedLog;
    use super::*;

    #[test]
    fn a_reply_of_another_kind_is_a_violation_and_an_error_never_is() {
        let (session, oracle) = (session(), CommittedLog::default());
        let write = request(ClientOp::Write {
            key: Key::Int(1),
            value: Value::from(1),
        });
        let mut checker = ReplyKinds::default();
        for result in [
            OpResult::WriteOk { commit_index: 3 },
            OpResult::error(ErrorCode::TIMEOUT, "timed out"),
            OpResult::ReadOk {
                value: Value::from(1),
            },
        ] {
            checker.on_reply(&reply(&session, &write, &result, &oracle));
        }
        let verdict = verdict(&mut checker, &oracle);
        let details = details(&verdict);
        assert_eq!(details, ["write answered with read_ok"]);
        assert_eq!(verdict.violations[0].checker, Property::Protocol);
    }
}
