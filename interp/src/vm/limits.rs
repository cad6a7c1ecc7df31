//! Sandboxing limits for hosts running untrusted code: an instruction budget and a memory
//! limit.
//!
//! * **Instructions** ([`State::set_instruction_limit`]): every VM instruction of every thread
//!   costs one unit of a budget shared by the state; long-running library functions charge an
//!   equivalent cost (the pattern matcher one unit per step, `string.rep` and `table.concat`
//!   in proportion to the bytes and elements they produce, `table.sort` per comparison).
//!   When the budget runs out the running code fails with "instruction limit exceeded", an
//!   error of kind [`ErrorKind::InstructionLimit`] that no protected call inside Lua catches
//!   (`pcall`, `xpcall`, `coroutine.resume`, `coroutine.wrap`): it unwinds to the host,
//!   running pending `__close` handlers on the way (which themselves have no budget left).
//!   The budget stays exhausted until the host sets a limit again.
//! * **Memory** ([`State::set_memory_limit`]): a bound on the heap bytes as the collector
//!   counts them (`collectgarbage("count")`). Crossing it triggers a full collection; if the
//!   heap is still over the limit the allocating code raises "not enough memory", a catchable
//!   error of kind [`ErrorKind::Memory`] (as PUC's `LUA_ERRMEM`; message handlers do not run
//!   for it). Library functions that build big strings check the limit *before* allocating
//!   ([`State::reserve_memory`]); other allocations are checked right after, at the next
//!   safepoint.
//!
//! * **Fuel slices** ([`State::begin_slice`]): the async driver runs a task for a bounded
//!   amount of work, then suspends it so that other tasks on the executor get a turn. Without
//!   an instruction or memory limit (and without debug hooks) a slice is an *edge slice*: the
//!   fast loop's fuel instance counts loop back-edges, Lua calls and the instructions it
//!   hands to the complete interpreter against `edge_fuel` (a decrement and a test; the
//!   instance that runs without a slice has no such code), and suspends the task when it
//!   reaches zero at the task's own level. Any endless computation passes back-edges or calls, so the count
//!   bounds a slice at a few instructions per unit. Otherwise the slice reuses the
//!   instruction budget: `instr_left` becomes the slice's fuel and the rest
//!   of the budget is held back in `reserve`. When the fuel runs out at the task's own level of
//!   the loop (not inside a nested run, which cannot suspend) the loop exits with
//!   [`Flow::Preempt`](crate::vm::exec::Flow::Preempt); inside a nested run it refills from the
//!   reserve and checks again later. The real limit is reached only when the reserve is empty.
//!
//! Enforcement costs (almost) nothing when no limit is set: with a limit (or a slice) the state runs the
//! hooked instance of the dispatch loop (the [`crate::vm::debughook::HOOK_LIMIT`] bit of
//! `hook_mask`), which calls [`State::limit_tick`] before each instruction.

use crate::stdlib::pattern::MatchLimits;
use crate::vm::error::ErrorKind;
use crate::vm::{LuaError, LuaResult, State};

/// Message of the instruction-limit error.
pub const INSTRUCTION_LIMIT_MSG: &str = "instruction limit exceeded";
/// Message of the memory error (exactly PUC's).
pub const MEMORY_ERROR_MSG: &str = "not enough memory";

/// Limit state kept by [`State`].
pub struct Limits {
    /// The instruction limit as set by the host.
    pub(crate) instructions: Option<u64>,
    /// Instructions still allowed (`u64::MAX` without a limit).
    pub(crate) instr_left: u64,
    /// Heap bytes allowed (`usize::MAX` without a limit).
    pub(crate) memory: usize,
    /// Instruction budget held back while a fuel slice runs (`instr_left` is the slice's fuel).
    pub(crate) reserve: u64,
    /// While a fuel slice runs: the `c_depth` of the task's own loop (where it may suspend).
    pub(crate) slice: Option<u32>,
    /// Units (back-edges, calls, slow-path instructions of the fast loop) left in the edge
    /// slice; `u64::MAX` when none runs.
    pub edge_fuel: u64,
    /// While an edge slice runs: the `c_depth` of the task's own loop.
    pub(crate) edge_slice: Option<u32>,
}

/// Fuel of a slice refilled inside nested runs, which cannot suspend.
const NESTED_REFILL: u64 = 1000;

/// Limit state saved by [`State::begin_slice`], restored by [`State::end_slice`].
pub struct SliceSaved {
    reserve: u64,
    slice: Option<u32>,
    edge_fuel: u64,
    edge_slice: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            instructions: None,
            instr_left: u64::MAX,
            memory: usize::MAX,
            reserve: 0,
            slice: None,
            edge_fuel: u64::MAX,
            edge_slice: None,
        }
    }
}

impl State {
    /// Sets (or with `None` removes) the instruction budget, counted from now across all
    /// threads of the state. Setting it again restarts the count, which also makes a state
    /// whose budget ran out usable again.
    pub fn set_instruction_limit(&mut self, limit: Option<u64>) {
        let l = &mut self.sandbox;
        l.instructions = limit;
        if l.slice.is_some() {
            // The whole new budget is held back; the slice continues from it (see
            // `limit_slow`).
            l.reserve = limit.unwrap_or(u64::MAX);
            l.instr_left = 0;
        } else {
            l.instr_left = limit.unwrap_or(u64::MAX);
        }
        self.refresh_hook_mask();
    }

    /// Starts a fuel slice: the loop at the current nesting level suspends with
    /// `Flow::Preempt` after about `fuel` units of work: back-edges, calls and slow-path
    /// instructions of the fast loop (an edge slice), or instructions when a limit or a debug
    /// hook makes the hooked loop run. Pair with [`State::end_slice`].
    pub fn begin_slice(&mut self, fuel: u64) -> SliceSaved {
        let hooked = self.limits_active() || self.hook_mask != 0;
        let l = &mut self.sandbox;
        let saved = SliceSaved {
            reserve: l.reserve,
            slice: l.slice,
            edge_fuel: l.edge_fuel,
            edge_slice: l.edge_slice,
        };
        if !hooked {
            l.edge_fuel = fuel;
            l.edge_slice = Some(self.c_depth);
            return saved;
        }
        let take = l.instr_left.min(fuel);
        l.reserve = l.reserve.saturating_add(l.instr_left - take);
        l.instr_left = take;
        l.slice = Some(self.c_depth);
        self.refresh_hook_mask();
        saved
    }

    /// Ends the slice begun by the [`State::begin_slice`] that returned `saved`: unused fuel
    /// goes back to the budget.
    pub fn end_slice(&mut self, saved: SliceSaved) {
        let l = &mut self.sandbox;
        let held = l.reserve.saturating_sub(saved.reserve);
        l.instr_left = l.instr_left.saturating_add(held);
        l.reserve = saved.reserve.min(l.reserve);
        l.slice = saved.slice;
        l.edge_fuel = saved.edge_fuel;
        l.edge_slice = saved.edge_slice;
        self.refresh_hook_mask();
    }

    /// Called by the fast loop when `edge_fuel` is zero: `true` when the edge slice ran out
    /// where the loop may suspend; otherwise refills the counter (inside a nested run, which
    /// cannot suspend, by a little, so the slice ends soon after the run returns).
    #[cold]
    #[inline(never)]
    pub(crate) fn edge_fuel_out(&mut self) -> bool {
        let l = &mut self.sandbox;
        match l.edge_slice {
            Some(depth) if depth == self.c_depth => true,
            Some(_) => {
                l.edge_fuel = NESTED_REFILL;
                false
            }
            None => {
                l.edge_fuel = u64::MAX;
                false
            }
        }
    }

    /// The instruction limit in force.
    pub fn instruction_limit(&self) -> Option<u64> {
        self.sandbox.instructions
    }

    /// Instructions left before the limit is reached (`None` without a limit).
    pub fn instructions_remaining(&self) -> Option<u64> {
        let l = &self.sandbox;
        l.instructions
            .map(|_| l.instr_left.saturating_add(l.reserve))
    }

    /// Sets (or with `None` removes) the bound on heap bytes.
    pub fn set_memory_limit(&mut self, limit: Option<usize>) {
        self.sandbox.memory = limit.unwrap_or(usize::MAX);
        self.gc.limit = self.sandbox.memory;
        self.refresh_hook_mask();
    }

    /// The memory limit in force.
    pub fn memory_limit(&self) -> Option<usize> {
        (self.sandbox.memory != usize::MAX).then_some(self.sandbox.memory)
    }

    /// `true` when some limit needs the hooked loop.
    #[inline]
    pub(crate) fn limits_active(&self) -> bool {
        self.sandbox.instructions.is_some()
            || self.sandbox.memory != usize::MAX
            || self.sandbox.slice.is_some()
    }

    /// The error raised when the instruction budget is exhausted.
    pub fn instruction_limit_error(&mut self) -> LuaError {
        let v = self.error_str(INSTRUCTION_LIMIT_MSG).value();
        LuaError::with_kind(v, ErrorKind::InstructionLimit)
    }

    /// The "not enough memory" error.
    pub fn memory_error(&mut self) -> LuaError {
        let v = self.error_str(MEMORY_ERROR_MSG).value();
        LuaError::with_kind(v, ErrorKind::Memory)
    }

    /// Called by the hooked loop before each instruction when `HOOK_LIMIT` is set: counts
    /// the instruction; `true` when [`State::limit_slow`] must run (budget exhausted or heap
    /// over the memory limit).
    #[inline(always)]
    pub(crate) fn limit_tick(&mut self) -> bool {
        let l = &mut self.sandbox;
        if l.instr_left == 0 {
            return true;
        }
        l.instr_left -= 1;
        l.memory != usize::MAX && self.heap.bytes() > l.memory
    }

    /// The slow path of [`State::limit_tick`]: returns `true` when a fuel slice ran out where
    /// the loop may suspend; raises the instruction-limit error, or collects and raises "not
    /// enough memory" if that did not bring the heap under the limit. The caller must be at a
    /// safepoint with every live value rooted.
    #[cold]
    #[inline(never)]
    pub(crate) fn limit_slow(&mut self) -> LuaResult<bool> {
        let l = &mut self.sandbox;
        if l.instr_left == 0 {
            if let Some(depth) = l.slice {
                if l.reserve > 0 {
                    if depth == self.c_depth {
                        return Ok(true);
                    }
                    let take = l.reserve.min(NESTED_REFILL);
                    l.reserve -= take;
                    l.instr_left = take;
                    return self.enforce_memory_limit(0).map(|_| false);
                }
            }
            if self.sandbox.instructions.is_some() {
                return Err(self.instruction_limit_error());
            }
            // No limit: the "unlimited" budget was merely used up by 2^64 instructions.
            self.sandbox.instr_left = u64::MAX;
        }
        self.enforce_memory_limit(0).map(|_| false)
    }

    /// Charges `n` instruction-equivalents of library work; fails when the budget runs out.
    #[inline]
    pub fn charge_instructions(&mut self, n: u64) -> LuaResult<()> {
        let l = &mut self.sandbox;
        if l.instr_left >= n {
            l.instr_left -= n;
            Ok(())
        } else if l.slice.is_some() && l.instr_left.saturating_add(l.reserve) >= n {
            // Library work overdraws the slice from the held-back budget; the loop suspends
            // at its next instruction.
            l.reserve -= n - l.instr_left;
            l.instr_left = 0;
            Ok(())
        } else if l.instructions.is_none() {
            l.instr_left = u64::MAX;
            Ok(())
        } else {
            l.instr_left = 0;
            Err(self.instruction_limit_error())
        }
    }

    /// Checks that `bytes` more can be allocated under the memory limit, collecting first if
    /// they cannot; raises "not enough memory" otherwise. Call it before big allocations, at
    /// a point where every `Gc` the caller holds is rooted (a native that has only read its
    /// arguments, for example): the collection may free anything unrooted.
    pub fn reserve_memory(&mut self, bytes: usize) -> LuaResult<()> {
        if self.sandbox.memory == usize::MAX {
            return Ok(());
        }
        self.enforce_memory_limit(bytes)
    }

    /// Raises "not enough memory" unless the heap plus `extra` bytes fits the limit, after an
    /// emergency collection if needed.
    pub(crate) fn enforce_memory_limit(&mut self, extra: usize) -> LuaResult<()> {
        let limit = self.sandbox.memory;
        if limit == usize::MAX || self.heap.bytes().saturating_add(extra) <= limit {
            return Ok(());
        }
        self.emergency_gc();
        if self.heap.bytes().saturating_add(extra) <= limit {
            Ok(())
        } else {
            Err(self.memory_error())
        }
    }

    /// A vector with room for `n` elements of a size chosen by Lua code: checks the memory
    /// limit first (see [`State::reserve_memory`] for when this may be called) and reports a
    /// failed allocation as "not enough memory" instead of aborting.
    pub fn try_vec<T>(&mut self, n: usize) -> LuaResult<Vec<T>> {
        self.reserve_memory(n.saturating_mul(std::mem::size_of::<T>()))?;
        let mut v = Vec::new();
        match v.try_reserve_exact(n) {
            Ok(()) => Ok(v),
            Err(_) => Err(self.memory_error()),
        }
    }

    /// Accounts a library function's output buffer that just grew by `added` bytes to `len`:
    /// charges instructions for the copying (one per 16 bytes) and checks that a string of
    /// `len` bytes still fits the memory limit. Same calling rule as [`State::reserve_memory`].
    #[inline]
    pub fn account_buffer(&mut self, added: usize, len: usize) -> LuaResult<()> {
        self.charge_instructions(1 + added as u64 / 16)?;
        self.reserve_memory(len)
    }

    /// A pattern-matching step budget equal to the instructions left (see
    /// [`State::settle_match_budget`]).
    pub fn match_budget(&self) -> MatchLimits {
        MatchLimits::new(self.sandbox.instr_left)
    }

    /// Charges the steps a match used from a budget made by [`State::match_budget`] (with no
    /// other charges in between).
    pub fn settle_match_budget(&mut self, b: &MatchLimits) {
        self.sandbox.instr_left = b.steps_left;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::debughook::HOOK_LIMIT;

    #[test]
    fn limit_bit_follows_settings() {
        let mut st = State::new_bare();
        assert_eq!(st.hook_mask & HOOK_LIMIT, 0);
        st.set_instruction_limit(Some(10));
        assert_ne!(st.hook_mask & HOOK_LIMIT, 0);
        st.set_instruction_limit(None);
        assert_eq!(st.hook_mask & HOOK_LIMIT, 0);
        st.set_memory_limit(Some(1 << 20));
        assert_ne!(st.hook_mask & HOOK_LIMIT, 0);
        assert_eq!(st.memory_limit(), Some(1 << 20));
        st.set_memory_limit(None);
        assert_eq!(st.hook_mask & HOOK_LIMIT, 0);
    }

    #[test]
    fn charges_fail_only_with_a_limit() {
        let mut st = State::new_bare();
        st.sandbox.instr_left = 3;
        assert!(st.charge_instructions(10).is_ok());
        st.set_instruction_limit(Some(5));
        assert!(st.charge_instructions(5).is_ok());
        let e = st.charge_instructions(1).unwrap_err();
        assert!(e.is_uncatchable());
        assert_eq!(e.message(), INSTRUCTION_LIMIT_MSG);
        assert_eq!(st.instructions_remaining(), Some(0));
    }

    #[test]
    fn slices_hold_back_the_budget_and_give_it_back() {
        let mut st = State::new_bare();
        // Without a limit: an edge slice, counted by the fast loop (no hooked loop).
        let saved = st.begin_slice(100);
        assert_eq!(st.hook_mask & HOOK_LIMIT, 0);
        assert_eq!(st.sandbox.instr_left, u64::MAX);
        assert_eq!(st.sandbox.edge_fuel, 100);
        st.sandbox.edge_fuel = 0;
        assert!(
            st.edge_fuel_out(),
            "out of fuel at the slice's level: suspend"
        );
        st.c_depth += 1;
        assert!(!st.edge_fuel_out(), "inside a nested run: refill");
        assert_eq!(st.sandbox.edge_fuel, NESTED_REFILL);
        st.c_depth -= 1;
        st.end_slice(saved);
        assert_eq!(st.sandbox.edge_fuel, u64::MAX);
        assert_eq!(st.sandbox.edge_slice, None);
        st.sandbox.edge_fuel = 0;
        assert!(!st.edge_fuel_out(), "no slice: the counter restarts");
        assert_eq!(st.sandbox.edge_fuel, u64::MAX);
        // With a limit: fuel comes out of the budget; library work may overdraw the slice
        // from the reserve, but not the budget.
        st.set_instruction_limit(Some(1000));
        let saved = st.begin_slice(100);
        assert_eq!(st.instructions_remaining(), Some(1000));
        assert!(st.charge_instructions(150).is_ok());
        assert_eq!(st.sandbox.instr_left, 0);
        assert_eq!(st.instructions_remaining(), Some(850));
        // Out of fuel at the slice's own level: suspend, no error.
        assert!(st.limit_slow().unwrap());
        st.end_slice(saved);
        assert_eq!(st.instructions_remaining(), Some(850));
        // A budget smaller than the fuel: the real limit error, not a suspension.
        st.set_instruction_limit(Some(10));
        let saved = st.begin_slice(100);
        assert!(st.charge_instructions(10).is_ok());
        assert!(st.limit_slow().is_err());
        st.end_slice(saved);
        // Out of fuel inside a nested run: refilled from the reserve instead. (A memory
        // limit keeps the hooked loop, so the slice counts instructions.)
        st.set_instruction_limit(None);
        st.set_memory_limit(Some(1 << 30));
        let saved = st.begin_slice(5);
        st.sandbox.instr_left = 0;
        st.c_depth += 1;
        assert!(!st.limit_slow().unwrap());
        assert_eq!(st.sandbox.instr_left, NESTED_REFILL);
        st.c_depth -= 1;
        st.end_slice(saved);
        assert_eq!(st.sandbox.slice, None);
        st.set_memory_limit(None);
    }
}
