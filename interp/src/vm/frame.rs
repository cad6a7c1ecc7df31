//! Call frames on a thread's frame stack.
//!
//! A frame is 64 bytes, written by every call: the continuation a waiting native registered
//! lives beside the frames ([`crate::thread::ThreadData::conts`]), not in them.

use crate::func::{LuaClosure, NativeClosure};
use rua_gc::Gc;
use rua_gc::Tracer;

/// What happens with a frame's results when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetMode {
    /// Ordinary call from a Lua frame's `CALL`/`TFORCALL`: results go to `func..`, adjusted to
    /// `nresults`; the caller continues after the call instruction.
    Normal,
    /// Metamethod called by a Lua instruction: the first result goes to `func`, and the caller's
    /// current instruction is completed with it (`finish_op`).
    FinishOp,
    /// A native frame below made this call with a continuation: the continuation receives the
    /// results.
    Cont,
    /// Outermost frame of a Rust-initiated call (`call_at`): return to Rust.
    Base,
    /// Like `Base`, for a call whose errors the Rust caller handles itself (a protected call
    /// without message handler): `xpcall` handlers further down are not consulted.
    ProtectedBase,
    /// Body function of a coroutine: finishing it kills the coroutine and resumes its resumer.
    CoBase,
    /// A `__close` handler run while the catching native frame below (`pcall`) recovers from
    /// an error: when it returns, closing goes on, then the continuation gets the error (see
    /// `vm::close`).
    CloseErr,
}

/// How a native frame that resumed a coroutine wants the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeKind {
    /// `coroutine.resume`: prefix `true`/`false`.
    Resume,
    /// `coroutine.wrap`: return values directly, propagate errors.
    Wrap,
}

/// Frame-kind specific state.
#[derive(Clone, Copy)]
pub enum FrameKind {
    Lua {
        cl: Gc<LuaClosure>,
        /// Number of extra (vararg) arguments, stored just below `func` after VARARGPREP
        /// (at most the stack limit, far below `u32::MAX`).
        nextra: u32,
    },
    Native {
        cl: Gc<NativeClosure>,
        /// Set while this native waits for a coroutine it resumed.
        resume: Option<ResumeKind>,
    },
}

/// One activation record.
///
/// `repr(C)`, in this order: a Lua call writes a frame whose first 24 bytes (`aux`, `pc`,
/// `hook_line`, the kind's tag and `nextra`) are all zero, which the compiler writes as two
/// stores instead of five; one cache line per frame.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Frame {
    /// Scratch used by multi-step instructions (CONCAT progress) and by continuations (the
    /// stack index where a callee was placed).
    pub aux: usize,
    /// Lua frames: index of the next instruction to execute (saved when the frame is not
    /// running or at an instruction that can call or raise). Kept outside [`FrameKind`] so
    /// the dispatch loop saves it with one store, without checking the frame's kind; `u32`
    /// (code is far shorter) keeps the frame small.
    pub pc: u32,
    /// Line hooks: the line of the last instruction reported (0: none yet).
    pub hook_line: u32,
    pub kind: FrameKind,
    pub ret: RetMode,
    /// `true` if this frame was entered by a tail call (for tracebacks).
    pub tail: bool,
    /// Number of results wanted by the caller (-1: all).
    pub nresults: i32,
    /// Stack index of the called function; results are moved here.
    pub func: usize,
    /// First register (Lua) or first argument (native).
    pub base: usize,
    /// Lua frames: `base + max_stack`, the stack length the frame needs.
    pub top: usize,
}

impl Frame {
    /// A new activation of Lua closure `cl` with registers from `base` to `top` (stack
    /// indexes) and `nextra` vararg values stored below `func`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn lua(
        func: usize,
        base: usize,
        top: usize,
        nresults: i32,
        ret: RetMode,
        cl: Gc<LuaClosure>,
        nextra: u32,
        tail: bool,
    ) -> Frame {
        Frame {
            func,
            base,
            top,
            nresults,
            ret,
            kind: FrameKind::Lua { cl, nextra },
            pc: 0,
            aux: 0,
            tail,
            hook_line: 0,
        }
    }

    /// A new activation of native `cl` whose arguments start at `func + 1`.
    #[inline]
    pub fn native(
        func: usize,
        nresults: i32,
        ret: RetMode,
        cl: Gc<NativeClosure>,
        tail: bool,
    ) -> Frame {
        Frame {
            func,
            base: func + 1,
            top: 0,
            nresults,
            ret,
            kind: FrameKind::Native { cl, resume: None },
            pc: 0,
            aux: 0,
            tail,
            hook_line: 0,
        }
    }

    pub fn trace(&self, t: &mut Tracer) {
        match self.kind {
            FrameKind::Lua { cl, .. } => t.mark(cl),
            FrameKind::Native { cl, .. } => t.mark(cl),
        }
    }

    #[inline]
    pub fn is_lua(&self) -> bool {
        matches!(self.kind, FrameKind::Lua { .. })
    }
}

// Every call writes a frame: keep it at one cache line.
const _: () = assert!(std::mem::size_of::<Frame>() == 64);
