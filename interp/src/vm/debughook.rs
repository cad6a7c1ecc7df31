//! Debug hooks (`debug.sethook`): the hook function and its event mask, and how the VM
//! reports call, return, line and count events to it.
//!
//! The dispatch loop has a separate instance for hooked execution (see `exec::execute`), so
//! programs without hooks pay nothing per instruction.

use crate::value::Value;
use crate::vm::{LuaResult, State};

/// Event mask bits.
pub const HOOK_CALL: u8 = 1;
pub const HOOK_RET: u8 = 2;
pub const HOOK_LINE: u8 = 4;
pub const HOOK_COUNT: u8 = 8;

/// The installed hook.
pub struct DebugHook {
    pub func: Value,
    pub mask: u8,
    /// Instructions between count events (0: no count events).
    pub count: u32,
    counter: u32,
    /// `false` while a hook runs (hooks do not nest).
    pub allow: bool,
}

impl Default for DebugHook {
    fn default() -> Self {
        DebugHook {
            func: Value::Nil,
            mask: 0,
            count: 0,
            counter: 0,
            allow: true,
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
}

impl State {
    /// Installs a hook (`func` nil or an empty mask removes it).
    pub fn set_debug_hook(&mut self, func: Value, mask: u8, count: u32) {
        let mask = if count > 0 {
            mask | HOOK_COUNT
        } else {
            mask & !HOOK_COUNT
        };
        if func.is_nil() || mask == 0 {
            self.debug_hook = DebugHook::default();
            self.hook_mask = 0;
        } else {
            self.debug_hook = DebugHook {
                func,
                mask,
                count,
                counter: count,
                allow: self.debug_hook.allow,
            };
            self.hook_mask = mask;
        }
    }

    /// Calls the hook function for `event` (with the line for line events), unless a hook is
    /// already running.
    pub(crate) fn run_hook(&mut self, event: &str, line: Option<u32>) -> LuaResult<()> {
        if !self.debug_hook.allow || self.debug_hook.func.is_nil() {
            return Ok(());
        }
        let f = self.debug_hook.func;
        let ev = self.str_value(event);
        self.debug_hook.allow = false;
        let r = match line {
            Some(l) => self.call_value(f, &[ev, Value::Int(l as i64)], 0),
            None => self.call_value(f, &[ev], 0),
        };
        self.debug_hook.allow = true;
        r.map(|_| ())
    }
}
