//! Closing to-be-closed variables on a normal exit (`CLOSE`, `RETURN`) as part of the dispatch
//! loop: each `__close` handler runs as a call made by the current instruction, which is
//! executed again when the handler returns (see `finish_op`) to close the next variable. A
//! handler can therefore yield, as in PUC Lua.

use crate::value::Value;
use crate::vm::exec::Flow;
use crate::vm::frame::RetMode;
use crate::vm::{LuaResult, State, Tm};

impl State {
    /// Closes the upvalues at stack index `>= level` and starts the `__close` handler of the
    /// innermost pending to-be-closed variable at `>= level`, if any, with `nil` as its error
    /// argument. The handler's call is placed at or above `keep` (the stack below it is still
    /// in use) and completes the current instruction of the running Lua frame by re-executing
    /// it. Returns `None` when nothing is left to close at that level.
    pub(crate) fn close_next(&mut self, level: usize, keep: usize) -> LuaResult<Option<Flow>> {
        let th = self.current;
        th.data().close_upvals(level);
        let slot = match th.data().tbc.last() {
            Some(&slot) if slot >= level => slot,
            _ => return Ok(None),
        };
        th.data().tbc.pop();
        // (A binary chunk's call may have truncated the stack below the slot.)
        let v = th.data().stack.get(slot).copied().unwrap_or(Value::Nil);
        let tm = self.get_tm(v, Tm::Close);
        if !self.is_callable(tm) {
            let t = self.type_name_for_msg(tm);
            return Err(self.rt_error(&format!(
                "attempt to call a {} value (metamethod 'close')",
                t
            )));
        }
        let d = th.data();
        let func = d.stack.len().max(keep);
        d.ensure_len(func);
        d.stack.extend_from_slice(&[tm, v, Value::Nil]);
        self.precall(func, 0, RetMode::FinishOp, false).map(Some)
    }
}
