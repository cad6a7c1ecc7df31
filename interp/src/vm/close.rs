//! Closing to-be-closed variables on a normal exit (`CLOSE`, `RETURN`) as part of the dispatch
//! loop: each `__close` handler runs as a call made by the current instruction, which is
//! executed again when the handler returns (see `finish_op`) to close the next variable. A
//! handler can therefore yield, as in PUC Lua. Likewise, when a `pcall` catches an error, the
//! variables above it are closed by calls of the loop before its continuation runs.

use crate::thread::Thread;
use crate::value::Value;
use crate::vm::exec::Flow;
use crate::vm::frame::{FrameKind, RetMode};
use crate::vm::native::{CallStatus, Catch, Ctx};
use crate::vm::{LuaError, LuaResult, State, Tm};
use rua_gc::Gc;

impl State {
    /// Closes the upvalues at stack index `>= level` and starts the `__close` handler of the
    /// innermost pending to-be-closed variable at `>= level`, if any, with `nil` as its error
    /// argument. The handler's call is placed at or above `keep` (the stack below it is still
    /// in use) and completes the current instruction of the running Lua frame by re-executing
    /// it. Returns `None` when nothing is left to close at that level.
    pub(crate) fn close_next(&mut self, level: usize, keep: usize) -> LuaResult<Option<Flow>> {
        let th = self.current;
        th.data().close_upvals(level);
        let Some((tm, v)) = self.pop_tbc(level)? else {
            return Ok(None);
        };
        let d = th.data();
        let func = d.stack.len().max(keep);
        d.ensure_len(func);
        d.stack.extend_from_slice(&[tm, v, Value::Nil]);
        self.precall(func, 0, RetMode::FinishOp, false).map(Some)
    }

    /// Takes the innermost pending to-be-closed variable of the current thread at stack index
    /// `>= level` off its list and returns its `__close` handler and value (`None` when there
    /// is none at that level); a handler that cannot be called is an error.
    pub(crate) fn pop_tbc(&mut self, level: usize) -> LuaResult<Option<(Value, Value)>> {
        let d = self.current.data();
        let slot = match d.tbc.last() {
            Some(&slot) if slot >= level => slot,
            _ => return Ok(None),
        };
        d.tbc.pop();
        // (A binary chunk's call may have truncated the stack below the slot.)
        let v = d.stack.get(slot).copied().unwrap_or(Value::Nil);
        let tm = self.get_tm(v, Tm::Close);
        if !self.is_callable(tm) {
            let t = self.type_name_for_msg(tm);
            return Err(self.rt_error(&format!(
                "attempt to call a {} value (metamethod 'close')",
                t
            )));
        }
        Ok(Some((tm, v)))
    }
}

impl State {
    /// The index of the frame of `th` that catches `e` (a native frame waiting in a catching
    /// continuation), if unwinding reaches it before a base frame or `limit`.
    pub(crate) fn catching_frame(
        &self,
        th: Gc<Thread>,
        limit: usize,
        e: &LuaError,
    ) -> Option<usize> {
        if e.is_uncatchable() {
            return None;
        }
        let d = th.data();
        for idx in (limit..d.frames.len()).rev() {
            let f = &d.frames[idx];
            if let Some(c) = d.cont_of(idx) {
                if c.catch != Catch::No {
                    return Some(idx);
                }
            }
            if matches!(
                f.ret,
                RetMode::Base | RetMode::ProtectedBase | RetMode::CoBase
            ) {
                return None;
            }
        }
        None
    }

    /// Error recovery in the catching native frame on top of the current thread (everything
    /// above it is unwound): closes its upvalues and runs the `__close` handlers of the pending
    /// to-be-closed variables above its level one at a time, each as a call of the loop
    /// (`RetMode::CloseErr`, so it can yield) receiving the current error; a handler's error
    /// replaces it. When none is left, the frame's continuation receives the error.
    pub(crate) fn close_err_step(&mut self, mut e: LuaError) -> LuaResult<Flow> {
        let th = self.current;
        let fr = *th.data().frames.last().expect("a catching frame");
        let level = fr.aux;
        loop {
            th.data().close_upvals(level);
            let slot = match th.data().tbc.last() {
                Some(&slot) if slot >= level => slot,
                _ => break,
            };
            th.data().tbc.pop();
            let v = th.data().stack.get(slot).copied().unwrap_or(Value::Nil);
            let tm = self.get_tm(v, Tm::Close);
            if !self.is_callable(tm) {
                let t = self.type_name_for_msg(tm);
                e = self.error_str(&format!("attempt to call a {} value", t));
                continue;
            }
            let d = th.data();
            let func = d.stack.len();
            d.stack.extend_from_slice(&[tm, v, e.value()]);
            d.close_errors.push(e);
            return self.precall(func, 0, RetMode::CloseErr, false);
        }
        let d = th.data();
        let top = d.frames.len() - 1;
        let c = match d.conts.pop() {
            Some((at, c)) if at == top && !fr.is_lua() => c,
            _ => unreachable!("error recovery in a frame without continuation"),
        };
        d.stack.truncate(level);
        if let FrameKind::Native { resume, .. } = &mut d.frames[top].kind {
            *resume = None;
        }
        let nargs = level - fr.base;
        let action = {
            let mut ctx = Ctx {
                st: self,
                base: fr.base,
                nargs,
            };
            (c.f)(&mut ctx, CallStatus::Err(e), c.data)?
        };
        self.handle_action(action)
    }
}
