//! The seam between the interpreter and a trace compiler: hot-loop counting and the
//! [`TraceHook`] trait the JIT implements.
//!
//! When a hook is installed, every loop back-edge (`FORLOOP`, `TFORLOOP`, backward `JMP`)
//! decrements a counter chosen by hashing the prototype and the back-edge's pc (as LuaJIT's
//! hot-count table does); when it reaches zero the hook is told that the loop is hot and the
//! counter is reset. Without a hook the interpreter pays one predictable branch per back-edge.

use crate::func::FnProto;
use rua_gc::Gc;

/// Number of hot counters (collisions only make a loop hot early).
const HOT_SLOTS: usize = 64;

/// Receives interpreter events that a tracing JIT reacts to.
pub trait TraceHook {
    /// Iterations of a loop before it counts as hot.
    fn hot_threshold(&self) -> u16 {
        56
    }

    /// The loop whose header (first instruction of the body, 0-based `pc`) in `proto` became
    /// hot.
    fn hot_loop(&mut self, proto: &FnProto, pc: usize);
}

/// Hot counters plus the installed hook.
#[derive(Default)]
pub struct HotCounters {
    pub hook: Option<Box<dyn TraceHook>>,
    counters: Vec<u16>,
}

impl HotCounters {
    /// Installs (or removes) the hook; counters restart from the hook's threshold.
    pub fn set_hook(&mut self, hook: Option<Box<dyn TraceHook>>) {
        let start = hook.as_ref().map(|h| h.hot_threshold()).unwrap_or(0);
        self.counters = vec![start; HOT_SLOTS];
        self.hook = hook;
    }

    /// Counts one iteration of the loop with header `pc` in `proto`.
    #[inline]
    pub fn tick(&mut self, proto: Gc<FnProto>, pc: usize) {
        let Some(hook) = self.hook.as_mut() else {
            return;
        };
        let slot = ((proto.as_ptr() as usize >> 4) ^ pc) % HOT_SLOTS;
        let c = &mut self.counters[slot];
        if *c > 1 {
            *c -= 1;
        } else {
            *c = hook.hot_threshold();
            hook.hot_loop(&proto, pc);
        }
    }
}
