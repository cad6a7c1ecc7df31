//! Debug hooks (`debug.sethook`): the hook function and event mask each thread carries, and
//! how the VM reports call, return, line and count events to it.
//!
//! Hooks belong to threads, as in PUC Lua: `debug.sethook(co, f, mask)` hooks only `co`, and a
//! new coroutine starts with its creator's mask and count but no hook function (PUC keys the
//! Lua hook function by thread, so the inherited C hook finds none and does nothing).
//!
//! The dispatch loop has a separate instance for hooked execution (see `exec::execute`), so
//! programs without hooks pay nothing per instruction. [`State::hook_mask`] caches the mask
//! the loop obeys: the running thread's hook events plus [`HOOK_LIMIT`] when a sandboxing
//! limit is set (see [`crate::vm::limits`]); it is recomputed whenever the running thread or
//! a hook changes, and the loop re-enters the right instance after every such change.

use crate::opcode::{Instr, OpCode};
use crate::thread::Thread;
use crate::value::Value;
use crate::vm::{LuaResult, State};
use rua_gc::Gc;

/// Event mask bits.
pub const HOOK_CALL: u8 = 1;
pub const HOOK_RET: u8 = 2;
pub const HOOK_LINE: u8 = 4;
pub const HOOK_COUNT: u8 = 8;
/// Not a debug event: an instruction or memory limit is in force, so the hooked loop must
/// count instructions (see [`crate::vm::limits`]).
pub const HOOK_LIMIT: u8 = 16;

/// A thread's hook.
#[derive(Clone, Copy)]
pub struct DebugHook {
    /// The hook function (nil: none, even if `mask` is inherited from the creator).
    pub func: Value,
    pub mask: u8,
    /// Instructions between count events (0: no count events).
    pub count: u32,
    counter: u32,
    /// `false` while a hook runs on this thread (hooks do not nest).
    pub allow: bool,
    /// While a hook runs: the index of its function's frame in the thread's frames, which
    /// `getinfo` names `hook` (0: no hook running).
    pub frame: usize,
    /// During call and return hooks: the values transferred (`getinfo`'s `ftransfer`, the
    /// local index of the first, and `ntransfer`); (0, 0) otherwise.
    pub transfer: (u32, u32),
}

impl Default for DebugHook {
    fn default() -> Self {
        DebugHook {
            func: Value::Nil,
            mask: 0,
            count: 0,
            counter: 0,
            allow: true,
            frame: 0,
            transfer: (0, 0),
        }
    }
}

impl DebugHook {
    /// Counts one instruction; `true` when a count event is due.
    #[inline]
    pub fn tick(&mut self) -> bool {
        if self.counter > 1 {
            self.counter -= 1;
            false
        } else {
            self.counter = self.count;
            true
        }
    }

    /// The hook a thread created while this one runs starts with: same mask and count, no
    /// function.
    pub fn inherited(&self) -> DebugHook {
        DebugHook {
            func: Value::Nil,
            mask: self.mask,
            count: self.count,
            counter: self.count,
            allow: true,
            frame: 0,
            transfer: (0, 0),
        }
    }

    /// The events the VM must report (none without a function).
    #[inline]
    pub fn active_mask(&self) -> u8 {
        if self.func.is_nil() {
            0
        } else {
            self.mask
        }
    }
}

impl State {
    /// Installs a hook on thread `th` (`func` nil or an empty mask removes it).
    pub fn set_debug_hook(&mut self, th: Gc<Thread>, func: Value, mask: u8, count: u32) {
        let mask = if count > 0 {
            mask | HOOK_COUNT
        } else {
            mask & !HOOK_COUNT
        };
        let d = th.data();
        if func.is_nil() || mask == 0 {
            d.hook = DebugHook {
                allow: d.hook.allow,
                frame: d.hook.frame,
                transfer: d.hook.transfer,
                ..DebugHook::default()
            };
        } else {
            d.hook = DebugHook {
                func,
                mask,
                count,
                counter: count,
                allow: d.hook.allow,
                frame: d.hook.frame,
                transfer: d.hook.transfer,
            };
        }
        self.refresh_hook_mask();
    }

    /// Makes `th` the running thread (the loop's `check_mode` then picks the instance its
    /// hook needs).
    #[inline]
    pub(crate) fn set_current(&mut self, th: Gc<Thread>) {
        self.current = th;
        self.refresh_hook_mask();
    }

    /// Recomputes [`State::hook_mask`] from the running thread's hook and the limits.
    #[inline]
    pub(crate) fn refresh_hook_mask(&mut self) {
        let limit = if self.limits_active() { HOOK_LIMIT } else { 0 };
        self.hook_mask = self.current.data().hook.active_mask() | limit;
    }

    /// Runs a call or return hook for the top frame with `n` values transferred starting at its
    /// local index `first` (what `getinfo`'s `r` option reports).
    pub(crate) fn run_hook_transfer(
        &mut self,
        event: &str,
        first: usize,
        n: usize,
    ) -> LuaResult<()> {
        let th = self.current;
        let saved = th.data().hook.transfer;
        th.data().hook.transfer = (first as u32, n as u32);
        let r = self.run_hook(event, None);
        th.data().hook.transfer = saved;
        r
    }

    /// Calls the running thread's hook function for `event` (with the line for line events),
    /// unless a hook is already running on that thread.
    pub(crate) fn run_hook(&mut self, event: &str, line: Option<u32>) -> LuaResult<()> {
        let th = self.current;
        let h = th.data().hook;
        if !h.allow || h.func.is_nil() {
            return Ok(());
        }
        let ev = self.str_value(event);
        th.data().hook.allow = false;
        th.data().hook.frame = th.data().frames.len();
        let r = match line {
            Some(l) => self.call_value(h.func, &[ev, Value::Int(l as i64)], 0),
            None => self.call_value(h.func, &[ev], 0),
        };
        th.data().hook.allow = true;
        th.data().hook.frame = 0;
        r.map(|_| ())
    }
}

/// Whether the instruction at `pc` runs without line and count events, as PUC runs it without
/// a hook check: a vararg function's `VARARGPREP` (hooks start after it), a `TFORCALL` entered
/// from its `TFORPREP`, and `TFORLOOP` (always entered from its `TFORCALL`). `last_pc` is the
/// previously traced instruction. Returns the previously traced instruction to use from now
/// on: after `VARARGPREP` the next instruction always starts a new line; after a `TFORCALL`
/// the iterator call has returned to it (PUC's return hook sets the caller's old pc).
pub(crate) fn untraced(code: &[Instr], pc: usize, last_pc: usize) -> Option<usize> {
    let op = |i: usize| code.get(i).map(|ins| ins.op_raw());
    match op(pc) {
        Some(o) if o == OpCode::VarargPrep as u8 => Some(pc + 1),
        Some(o) if o == OpCode::TForLoop as u8 => Some(last_pc),
        Some(o) if o == OpCode::TForCall as u8 && op(last_pc) == Some(OpCode::TForPrep as u8) => {
            Some(pc)
        }
        _ => None,
    }
}
