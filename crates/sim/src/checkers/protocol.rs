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
