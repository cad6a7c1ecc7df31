//! Function objects: runtime prototypes ([`FnProto`]), Lua closures, upvalues and native
//! (Rust) closures.

use crate::proto::Proto;
use crate::string::LuaStr;
use crate::thread::Thread;
use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::LuaResult;
use rua_gc::{Gc, Trace, Tracer};
use std::cell::Cell;
use std::rc::Rc;

/// A prototype loaded into a state: the compiled [`Proto`] plus its constants as values
/// (strings interned) and its children as runtime prototypes.
pub struct FnProto {
    /// Copies of the hot header fields of `proto` (one pointer hop less on every call).
    pub num_params: u8,
    pub is_vararg: bool,
    pub max_stack: u8,
    /// `proto.code.as_ptr()`, cached for calls and returns. Valid as long as this `FnProto`
    /// lives: the code is never modified and `proto` keeps it alive.
    pub code: *const crate::opcode::Instr,
    pub proto: Rc<Proto>,
    pub consts: Box<[Value]>,
    pub children: Box<[Gc<FnProto>]>,
    /// The chunk name as a Lua string (for `debug.getinfo().source`).
    pub source: Gc<LuaStr>,
}

impl Trace for FnProto {
    fn trace(&self, t: &mut Tracer) {
        for c in self.consts.iter() {
            c.trace(t);
        }
        for p in self.children.iter() {
            t.mark(*p);
        }
        t.mark(self.source);
    }
    fn extra_size(&self) -> usize {
        self.consts.len() * 16 + self.proto.code.len() * 8
    }
}

/// State of an upvalue: open (aliasing a live stack slot of `thread`) or closed (owning its
/// value).
#[derive(Clone, Copy)]
pub enum UpState {
    Open { thread: Gc<Thread>, index: usize },
    Closed(Value),
}

/// A captured variable shared between closures. Upvalues are only used inside the heap
/// (created by `heap.alloc(UpVal { .. })`): writes run the write barrier on their own header.
pub struct UpVal {
    /// Write only through [`UpVal::set`] and [`UpVal::close`] (they run the write barrier).
    pub state: Cell<UpState>,
}

impl UpVal {
    /// Reads the variable's current value.
    #[inline]
    pub fn get(&self) -> Value {
        *self.get_ref()
    }

    /// The variable's current value, by reference (to the closed value, the stack slot, or
    /// a constant nil). Copying from it copies once, memory to memory; merging the two
    /// cases as values made the compiler move them in pieces through overlapping stack
    /// stores (see `Table::get_str_ref`). The reference must not outlive the next write to
    /// the variable or to the owning thread's stack.
    #[inline]
    pub fn get_ref(&self) -> &Value {
        const NIL: &Value = &Value::Nil;
        // SAFETY: the VM is single-threaded and nothing below writes the cell, so reading it
        // in place (instead of copying the whole enum out of the `Cell`) cannot observe a
        // concurrent write.
        match unsafe { &*self.state.as_ptr() } {
            UpState::Closed(v) => v,
            // Above the stack end reads as nil (see `Thread::stack_get`).
            UpState::Open { thread, index } => thread.data().stack.get(*index).unwrap_or(NIL),
        }
    }

    /// Where the variable's value is now: the cell of a closed upvalue, the stack slot of an
    /// open one, or a static nil for an open one above its stack's end (as
    /// [`Thread::stack_get`](crate::thread::Thread::stack_get) reads it). Valid until the
    /// upvalue is written or closed or its thread's stack is resized. Lets the dispatch loop
    /// copy the value with one 16-byte move.
    #[inline]
    pub fn value_ptr(&self) -> *const Value {
        const NIL: &Value = &Value::Nil;
        // SAFETY: as in `get`: nothing writes the cell while it is read here.
        match unsafe { &*self.state.as_ptr() } {
            UpState::Closed(v) => v,
            UpState::Open { thread, index } => match thread.data().stack.get(*index) {
                Some(v) => v,
                None => NIL,
            },
        }
    }

    /// Writes the variable.
    #[inline]
    pub fn set(&self, v: Value) {
        match self.state.get() {
            UpState::Closed(_) => self.close(v),
            UpState::Open { thread, index } => thread.stack_set(index, v),
        }
    }

    /// Makes the upvalue closed, owning `v` (threads' stacks are re-scanned by every
    /// collection, but a closed upvalue is an ordinary object: the write barrier applies).
    #[inline]
    pub fn close(&self, v: Value) {
        // SAFETY: upvalues only exist inside the heap (see the type's docs), so `self` is the
        // value of a live GcBox<UpVal>.
        let me = unsafe { Gc::from_ptr(self as *const UpVal) };
        crate::value::barrier(me, v);
        self.state.set(UpState::Closed(v));
    }

    /// Stack index if open.
    #[inline]
    pub fn open_index(&self) -> Option<usize> {
        match self.state.get() {
            UpState::Open { index, .. } => Some(index),
            UpState::Closed(_) => None,
        }
    }
}

impl Trace for UpVal {
    fn trace(&self, t: &mut Tracer) {
        match self.state.get() {
            UpState::Closed(v) => v.trace(t),
            UpState::Open { thread, .. } => t.mark(thread),
        }
    }
}

/// A Lua function value: a prototype plus its upvalues.
pub struct LuaClosure {
    pub proto: Gc<FnProto>,
    /// Upvalue cells (replaceable by `debug.upvaluejoin`).
    pub upvals: Box<[Cell<Gc<UpVal>>]>,
}

impl LuaClosure {
    /// A closure over the given upvalues.
    pub fn new(proto: Gc<FnProto>, upvals: impl IntoIterator<Item = Gc<UpVal>>) -> LuaClosure {
        LuaClosure {
            proto,
            upvals: upvals.into_iter().map(Cell::new).collect(),
        }
    }

    /// Upvalue `i`.
    #[inline]
    pub fn upval(&self, i: usize) -> Gc<UpVal> {
        self.upvals[i].get()
    }

    /// Upvalue `i` without a bounds check, for the VM's GETUPVAL/SETUPVAL/GETTABUP/SETTABUP.
    ///
    /// # Safety
    /// `i` must be below the closure's upvalue count, which equals its prototype's (the
    /// compiler emits only such operands and the binary-chunk verifier checks them).
    #[inline]
    pub unsafe fn upval_unchecked(&self, i: usize) -> Gc<UpVal> {
        // SAFETY: the caller guarantees `i < self.upvals.len()`.
        unsafe { self.upvals.get_unchecked(i).get() }
    }

    /// Makes upvalue `i` refer to `u` (`debug.upvaluejoin`).
    /// `this` must be the closure's own pointer (for the write barrier).
    pub fn set_upval(this: Gc<LuaClosure>, i: usize, u: Gc<UpVal>) {
        if this.is_old() && u.is_young() {
            this.remember();
        }
        this.upvals[i].set(u);
    }
}

impl Trace for LuaClosure {
    fn trace(&self, t: &mut Tracer) {
        t.mark(self.proto);
        for u in self.upvals.iter() {
            t.mark(u.get());
        }
    }
    fn extra_size(&self) -> usize {
        self.upvals.len() * 8
    }
}

/// Signature of a native function.
pub type NativeFn = fn(&mut Ctx<'_>) -> LuaResult<Action>;

/// A boxed Rust closure usable as a native function (the embedding API builds these).
pub type BoxedNativeFn = Box<dyn Fn(&mut Ctx<'_>) -> LuaResult<Action>>;

/// The code of a native closure.
pub enum NativeCode {
    Fn(NativeFn),
    Boxed(BoxedNativeFn),
}

/// Signature of a native function's shortcut (see [`NativeClosure::fast`]).
pub type FastFn = fn(&[Value]) -> Option<Value>;

/// A native function value with optional upvalues.
pub struct NativeClosure {
    pub code: NativeCode,
    /// An optional shortcut the fast interpreter loop calls with the arguments instead of
    /// pushing a frame for `code`: it must return exactly the single result `code` would
    /// return, or `None` for every case it does not handle (errors, coercions), which then
    /// runs `code` as usual. It cannot fail, allocate, yield or see the state, so the missing
    /// frame is never observable.
    pub fast: Option<FastFn>,
    /// Name used when no better name can be derived from the call site.
    pub name: &'static str,
    /// Write with [`NativeClosure::set_upval`] (write barrier).
    pub upvals: Box<[Cell<Value>]>,
}

impl NativeClosure {
    /// Sets upvalue `i` of `this` (`debug.setupvalue`), with the write barrier.
    pub fn set_upval(this: Gc<NativeClosure>, i: usize, v: Value) {
        crate::value::barrier(this, v);
        this.upvals[i].set(v);
    }
}

impl Trace for NativeClosure {
    fn trace(&self, t: &mut Tracer) {
        for u in self.upvals.iter() {
            u.get().trace(t);
        }
    }
}
