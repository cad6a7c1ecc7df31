//! Lua threads (coroutines): a value stack, a frame stack and the list of open upvalues.
//!
//! The stack is a `Vec<Value>` whose length is always at least the top of the highest frame
//! (`base + max_stack` of a Lua frame, the pushed values of a native frame). Every slot below the
//! length holds a valid value, so the collector can mark the whole vector. The interior is only
//! accessed by the VM, which never keeps a Rust reference into it across an operation that may
//! resize it (it re-derives raw register pointers after calls instead).

use crate::func::{UpState, UpVal};
use crate::value::Value;
use crate::vm::debughook::DebugHook;
use crate::vm::frame::Frame;
use crate::vm::native::Cont;
use rua_gc::{Gc, Trace, Tracer};
use std::cell::UnsafeCell;

/// Coroutine status, as `coroutine.status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    /// Created or yielded: can be resumed.
    Suspended,
    /// Currently executing.
    Running,
    /// Resumed another coroutine and waits for it.
    Normal,
    /// Finished or died with an error.
    Dead,
}

/// The mutable interior of a thread.
pub struct ThreadData {
    pub stack: Vec<Value>,
    pub frames: Vec<Frame>,
    /// Open upvalues, sorted by stack index (ascending).
    pub open_upvals: Vec<Gc<UpVal>>,
    /// Stack indexes of pending to-be-closed variables (ascending).
    pub tbc: Vec<usize>,
    pub status: ThreadStatus,
    /// End of the values produced by the last multi-result operation.
    pub top: usize,
    /// The thread that resumed this one (while running / normal).
    pub resumer: Option<Gc<Thread>>,
    /// `true` once the coroutine's body function has been started.
    pub started: bool,
    /// Number of nested native-to-Lua calls on this thread that cannot be yielded across.
    pub nny: u32,
    /// Error value of a coroutine that died with an error (for `coroutine.close`).
    pub error: Option<Value>,
    /// Set by the VM just before it collects at a safepoint: the end of the registers that are
    /// live at that instruction (everything above is dead), as PUC Lua sets `L->top`.
    pub gc_top: Option<usize>,
    /// Depth of the chain of resumes that led to this thread (PUC counts it as C calls), so
    /// unbounded nesting of coroutines ends in "C stack overflow".
    pub resume_depth: u32,
    /// The continuations of the native frames of this thread that wait for a call they made
    /// (pcall, xpcall, ...), in frame order, each with its frame's index: kept beside the
    /// frames rather than in them, so that a frame stays small (see
    /// [`crate::vm::frame::Frame`]). PUC nests such calls on the C stack, so their number
    /// counts toward the C-call limit here too.
    pub conts: Vec<(usize, Cont)>,
    /// This thread's debug hook (`debug.sethook`).
    pub hook: DebugHook,
    /// Errors being recovered from while `__close` handlers run before a `pcall` gets them
    /// (one per frame with [`crate::vm::frame::RetMode::CloseErr`], in frame order).
    pub close_errors: Vec<crate::vm::LuaError>,
}

/// A Lua thread object.
pub struct Thread {
    data: UnsafeCell<ThreadData>,
}

impl Thread {
    pub fn new() -> Thread {
        Thread {
            data: UnsafeCell::new(ThreadData {
                stack: Vec::with_capacity(64),
                frames: Vec::new(),
                open_upvals: Vec::new(),
                tbc: Vec::new(),
                status: ThreadStatus::Suspended,
                top: 0,
                resumer: None,
                started: false,
                nny: 0,
                error: None,
                gc_top: None,
                resume_depth: 0,
                conts: Vec::new(),
                hook: DebugHook::default(),
                close_errors: Vec::new(),
            }),
        }
    }

    /// Mutable access to the interior.
    ///
    /// The VM is single-threaded and callers must not hold two results of `data()` for the same
    /// thread at once (each use is a short, non-reentrant access).
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub fn data(&self) -> &mut ThreadData {
        // SAFETY: single-threaded VM; see the module docs and this method's contract: borrows
        // are short and never overlap for the same thread.
        unsafe { &mut *self.data.get() }
    }

    /// Reads stack slot `i` (for open upvalues). A slot above the current stack end reads as
    /// nil: compiled code never leaves an open upvalue there, but a binary chunk can (e.g. by
    /// capturing a register that a call then truncates away).
    #[inline]
    pub fn stack_get(&self, i: usize) -> Value {
        self.data().stack.get(i).copied().unwrap_or(Value::Nil)
    }

    /// Writes stack slot `i` (for open upvalues); ignored above the stack end, as
    /// [`Thread::stack_get`].
    #[inline]
    pub fn stack_set(&self, i: usize, v: Value) {
        if let Some(slot) = self.data().stack.get_mut(i) {
            *slot = v;
        }
    }

    #[inline]
    pub fn status(&self) -> ThreadStatus {
        self.data().status
    }
}

impl Default for Thread {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadData {
    /// Whether a yield from the running code of this thread is refused: a nested run of the
    /// VM is active ([`ThreadData::nny`]) or a native waits in a non-yieldable continuation.
    pub fn yield_blocked(&self) -> bool {
        self.nny > 0 || self.conts.iter().any(|(_, c)| !c.yieldable)
    }

    /// The continuation of frame `idx`, if it is a native frame waiting for a call it made.
    pub fn cont_of(&self, idx: usize) -> Option<&Cont> {
        match self.conts.iter().rev().find(|(f, _)| *f <= idx) {
            Some((f, c)) if *f == idx => Some(c),
            _ => None,
        }
    }

    /// Pops the top frame together with its continuation, if it has one.
    pub fn pop_frame(&mut self) -> Option<Frame> {
        let f = self.frames.pop()?;
        if self
            .conts
            .last()
            .is_some_and(|(i, _)| *i == self.frames.len())
        {
            self.conts.pop();
        }
        Some(f)
    }

    /// Removes all frames and their continuations.
    pub fn clear_frames(&mut self) {
        self.frames.clear();
        self.conts.clear();
    }

    /// Returns the open upvalue for stack slot `index`, creating it if needed.
    pub fn find_upval(
        &mut self,
        me: Gc<Thread>,
        index: usize,
        alloc: &mut dyn FnMut(UpVal) -> Gc<UpVal>,
    ) -> Gc<UpVal> {
        match self
            .open_upvals
            .binary_search_by(|u| u.open_index().unwrap_or(0).cmp(&index))
        {
            Ok(pos) => self.open_upvals[pos],
            Err(pos) => {
                let u = alloc(UpVal {
                    state: std::cell::Cell::new(UpState::Open { thread: me, index }),
                });
                self.open_upvals.insert(pos, u);
                u
            }
        }
    }

    /// Closes every open upvalue at stack index `>= level`.
    pub fn close_upvals(&mut self, level: usize) {
        while let Some(&u) = self.open_upvals.last() {
            match u.open_index() {
                Some(i) if i >= level => {
                    let v = self.stack.get(i).copied().unwrap_or(Value::Nil);
                    u.close(v);
                    self.open_upvals.pop();
                }
                _ => break,
            }
        }
    }

    /// Makes sure the stack has at least `len` slots (filling with nil).
    #[inline]
    pub fn ensure_len(&mut self, len: usize) {
        if self.stack.len() < len {
            self.grow_stack(len);
        }
    }

    /// The growing half of [`ThreadData::ensure_len`], out of line so that the call and
    /// return paths of the dispatch loop stay small. Not `#[cold]`: after a native call has
    /// shrunk the stack to its arguments, the next deeper Lua call grows it again.
    #[inline(never)]
    fn grow_stack(&mut self, len: usize) {
        let cap = self.stack.capacity();
        self.stack.resize(len, Value::Nil);
        if self.stack.capacity() != cap {
            rua_gc::alloc_debt_add((self.stack.capacity() - cap) * 16);
        }
    }
}

impl Trace for Thread {
    /// Stacks are written without write barriers: old threads are re-scanned by every minor
    /// collection.
    const RESCAN: bool = true;

    fn trace(&self, t: &mut Tracer) {
        let d = self.data();
        // Only the live part of the stack is a root: up to the top frame's register window
        // (Lua) or the pushed values (native). Slots above it hold stale values from finished
        // calls; they are cleared so they neither keep garbage alive nor dangle later.
        let live = match (d.gc_top, d.frames.last()) {
            (Some(top), _) => top,
            (None, Some(f)) if f.is_lua() => f.top,
            _ => d.stack.len(),
        }
        .min(d.stack.len());
        for v in &d.stack[..live] {
            v.trace(t);
        }
        for v in &mut d.stack[live..] {
            *v = Value::Nil;
        }
        for f in &d.frames {
            f.trace(t);
        }
        for u in &d.open_upvals {
            t.mark(*u);
        }
        if let Some(r) = d.resumer {
            t.mark(r);
        }
        if let Some(e) = d.error {
            e.trace(t);
        }
        d.hook.func.trace(t);
        for e in &d.close_errors {
            e.value().trace(t);
        }
    }
    fn extra_size(&self) -> usize {
        let d = self.data();
        d.stack.capacity() * 16 + d.frames.capacity() * std::mem::size_of::<Frame>()
    }
}
