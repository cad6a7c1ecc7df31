//! The seam between the interpreter and a trace compiler: hot-loop counting and the
//! [`TraceHook`] trait the JIT implements.
//!
//! When a hook is installed, every loop back-edge (`FORLOOP`, `TFORLOOP`, backward `JMP`)
//! decrements a counter chosen by hashing the prototype and the back-edge's pc (as LuaJIT's
//! hot-count table does); when it reaches zero the hook is told that the loop is hot and the
//! counter is reset. Without a hook the interpreter pays one predictable branch per back-edge.
//!
//! The same back-edge check notices an *interrupt* requested asynchronously (the `rua`
//! command's SIGINT handler, as `lua` stops a running script on Ctrl-C): the loop then raises
//! the error "interrupted!". Both events share one process-wide word, [`EDGE_EVENTS`], so a
//! back-edge costs a single load and branch when neither is pending.

use crate::func::FnProto;
use rua_gc::Gc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Events checked at loop back-edges, process-wide: [`INTERRUPT_BIT`] when an interrupt is
/// pending; the other bits count the states with a trace hook installed.
static EDGE_EVENTS: AtomicU32 = AtomicU32::new(0);
const INTERRUPT_BIT: u32 = 1 << 31;

/// Asks the running Lua code to stop with the error "interrupted!" at its next loop
/// back-edge. Async-signal-safe (one lock-free atomic operation).
pub fn request_interrupt() {
    EDGE_EVENTS.fetch_or(INTERRUPT_BIT, Ordering::Relaxed);
}

/// Drops a pending interrupt request.
pub fn clear_interrupt() {
    EDGE_EVENTS.fetch_and(!INTERRUPT_BIT, Ordering::Relaxed);
}

/// Takes a pending interrupt request.
pub(crate) fn take_interrupt() -> bool {
    EDGE_EVENTS.fetch_and(!INTERRUPT_BIT, Ordering::Relaxed) & INTERRUPT_BIT != 0
}

/// Whether a loop back-edge has anything to do: a pending interrupt or some trace hook.
#[inline(always)]
pub(crate) fn edge_events() -> bool {
    EDGE_EVENTS.load(Ordering::Relaxed) != 0
}

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
        match (self.hook.is_some(), hook.is_some()) {
            (false, true) => {
                EDGE_EVENTS.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                EDGE_EVENTS.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
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

impl Drop for HotCounters {
    fn drop(&mut self) {
        if self.hook.is_some() {
            EDGE_EVENTS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl crate::vm::State {
    /// A loop back-edge of the running Lua frame, about to continue at `pc`, saw
    /// [`edge_events`]: counts the iteration for the trace hook, if this state has one, and
    /// tells whether an interrupt is pending (then the loop calls
    /// [`State::raise_interrupt`](crate::vm::State::raise_interrupt)). Kept infallible so
    /// that the loops' back-edges carry no error path.
    #[cold]
    #[inline(never)]
    pub(crate) fn loop_edge_event(&mut self, proto: Gc<FnProto>, pc: usize) -> bool {
        if take_interrupt() {
            return true;
        }
        self.hot.tick(proto, pc);
        false
    }

    /// Raises "interrupted!" from the running Lua frame, whose next instruction is `pc`.
    #[cold]
    #[inline(never)]
    pub(crate) fn raise_interrupt<T>(&mut self, pc: usize) -> crate::vm::LuaResult<T> {
        if let Some(f) = self.current.data().frames.last_mut() {
            if f.is_lua() {
                f.pc = pc as u32;
            }
        }
        Err(self.rt_error("interrupted!"))
    }
}
