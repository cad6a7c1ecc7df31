//! The virtual machine: the Lua [`State`], errors, and the submodules that execute code.
//!
//! * [`exec`]: the stackless dispatch loop, calls and returns, error unwinding;
//! * [`switch`]: coroutine switching (resume, yield, a coroutine's outcome to its resumer);
//! * [`meta`]: metamethod lookup and the slow paths of arithmetic, comparison, indexing;
//! * [`error`]: error values, positions, runtime error messages with variable names;
//! * [`debuginfo`]: symbolic names of registers and functions, tracebacks;
//! * [`collect`]: garbage-collection policy (roots, finalizers, weak tables, pacing);
//! * [`native`]: the interface for Rust functions;
//! * [`driver`]: running Lua threads as futures (async host functions);
//! * [`debughook`]: per-thread debug hooks; [`limits`]: instruction and memory limits.

pub mod close;
pub mod collect;
pub mod debughook;
pub mod debuginfo;
pub mod driver;
pub mod error;
pub mod exec;
pub mod fast;
pub mod frame;
pub mod hook;
pub mod limits;
pub mod meta;
pub mod native;
pub mod switch;

use crate::func::{
    FastFn, FnProto, LuaClosure, NativeClosure, NativeCode, NativeFn, UpState, UpVal,
};
use crate::proto::{Constant, Proto};
use crate::string::{Interner, LuaStr, StrExt};
use crate::table::Table;
use crate::thread::Thread;
use crate::value::Value;
pub use error::{ErrorKind, LuaError};
use rua_gc::{Gc, Heap};
use std::cell::Cell;
use std::rc::Rc;

/// Result type of everything that can raise a Lua error.
pub type LuaResult<T> = Result<T, LuaError>;

/// Metamethod events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tm {
    Index = 0,
    NewIndex,
    Gc,
    Mode,
    Len,
    Eq,
    Add,
    Sub,
    Mul,
    Mod,
    Pow,
    Div,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Unm,
    BNot,
    Lt,
    Le,
    Concat,
    Call,
    Close,
    ToString,
    Name,
    Metatable,
    Pairs,
}

impl Tm {
    pub const COUNT: usize = Tm::Pairs as usize + 1;
    pub const NAMES: [&'static str; Tm::COUNT] = [
        "__index",
        "__newindex",
        "__gc",
        "__mode",
        "__len",
        "__eq",
        "__add",
        "__sub",
        "__mul",
        "__mod",
        "__pow",
        "__div",
        "__idiv",
        "__band",
        "__bor",
        "__bxor",
        "__shl",
        "__shr",
        "__unm",
        "__bnot",
        "__lt",
        "__le",
        "__concat",
        "__call",
        "__close",
        "__tostring",
        "__name",
        "__metatable",
        "__pairs",
    ];
}

/// Garbage collector mode (as `collectgarbage` reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcMode {
    Incremental,
    Generational,
}

/// A Lua state: heap, globals, registry, threads.
pub struct State {
    pub heap: Heap,
    pub strings: Interner,
    pub registry: Gc<Table>,
    pub globals: Gc<Table>,
    /// `package.loaded` (also `registry._LOADED`).
    pub loaded: Gc<Table>,
    pub main_thread: Gc<Thread>,
    /// The running thread.
    pub current: Gc<Thread>,
    pub tm_names: Vec<Gc<LuaStr>>,
    /// Metatables for non-table types, indexed by `LuaType as usize`.
    pub type_metas: [Option<Gc<Table>>; 8],
    /// Nesting depth of native calls and nested VM runs (the "C stack").
    pub c_depth: u32,
    pub gc: collect::GcState,
    /// Values kept alive by the host (slab of roots).
    pub roots: Vec<Value>,
    /// Threads run by async tasks (rooted while the task lives).
    pub task_threads: Vec<Gc<Thread>>,
    /// `true` while the async driver runs the VM (awaits allowed at the base level).
    pub in_async: bool,
    /// Hot-loop counters and the trace hook (the JIT's entry point).
    pub hot: hook::HotCounters,
    pub limits: StackLimits,
    /// `warn` output enabled (`warn("@on")`, `rua -W`).
    pub warnings_on: bool,
    /// The events the loop must report for the running thread's hook, plus
    /// [`debughook::HOOK_LIMIT`] under sandboxing limits (0: the unhooked loop runs).
    pub hook_mask: u8,
    /// `true` while an `xpcall` message handler runs.
    pub in_msg_handler: bool,
    /// While a `__gc` finalizer runs: its thread and frame index, so the debug library names
    /// that frame as the metamethod `__gc` (as PUC does for finalizer calls).
    pub finalizer_frame: Option<(Gc<crate::thread::Thread>, usize)>,
    /// Instruction and memory limits set by the host.
    pub sandbox: limits::Limits,
    /// The library's `next` and `ipairs` iterator functions, which generic `for` loops run
    /// inline (see [`fast`]). Rooted by the collector.
    pub iterators: BuiltinIterators,
    /// Reusable byte buffer for building strings (concatenation).
    pub(crate) scratch: Vec<u8>,
    /// The native frame whose [`Action::Call`](crate::vm::native::Action) is being started
    /// (thread, C depth, frame count), and the action its continuation returned when a native
    /// callee finished synchronously; see `State::handle_action`.
    pub(crate) cont_tramp: Option<(usize, u32, usize)>,
    pub(crate) cont_next: Option<crate::vm::native::Action>,
    /// File handles opened by the `io` library (flushed by `os.exit`).
    pub open_files: crate::stdlib::io::OpenFiles,
}

/// Natives the VM recognises by identity.
#[derive(Clone, Copy, Default)]
pub struct BuiltinIterators {
    pub next: Option<Gc<NativeClosure>>,
    pub ipairs_aux: Option<Gc<NativeClosure>>,
}

/// Limit on nested native calls / parser levels, as `LUAI_MAXCCALLS`.
pub const MAX_C_DEPTH: u32 = 200;
/// Limit on Lua stack slots.
pub const MAX_STACK: usize = 1_000_000;
/// Limit on call frames of one thread.
pub const MAX_FRAMES: usize = 220_000;

/// The stack limits in force ("stack overflow" beyond them).
#[derive(Clone, Copy, Debug)]
pub struct StackLimits {
    pub stack: usize,
    pub frames: usize,
}

impl StackLimits {
    pub const fn normal() -> StackLimits {
        StackLimits {
            stack: MAX_STACK,
            frames: MAX_FRAMES,
        }
    }

    /// Limits while a message handler runs after an error (room to handle an overflow).
    pub const fn relaxed() -> StackLimits {
        StackLimits {
            stack: MAX_STACK + MAX_STACK / 20,
            frames: MAX_FRAMES + MAX_FRAMES / 20,
        }
    }
}

impl State {
    /// A new state with an empty global table (no libraries).
    pub fn new_bare() -> State {
        let mut heap = Heap::new();
        let registry = Table::alloc(&mut heap, 0, 0);
        let globals = Table::alloc(&mut heap, 0, 0);
        let loaded = Table::alloc(&mut heap, 0, 0);
        let main_thread = heap.alloc(Thread::new());
        main_thread.data().status = crate::thread::ThreadStatus::Running;
        let mut strings = Interner::default();
        let tm_names = Tm::NAMES
            .iter()
            .map(|n| strings.intern(&mut heap, n.as_bytes()))
            .collect();
        let mut st = State {
            heap,
            strings,
            registry,
            globals,
            loaded,
            main_thread,
            current: main_thread,
            tm_names,
            type_metas: [None; 8],
            c_depth: 0,
            gc: collect::GcState::new(),
            roots: Vec::new(),
            task_threads: Vec::new(),
            in_async: false,
            hot: hook::HotCounters::default(),
            limits: StackLimits::normal(),
            warnings_on: false,
            hook_mask: 0,
            in_msg_handler: false,
            finalizer_frame: None,
            sandbox: limits::Limits::default(),
            iterators: BuiltinIterators::default(),
            scratch: Vec::new(),
            cont_tramp: None,
            cont_next: None,
            open_files: Default::default(),
        };
        registry.set_int(1, Value::Thread(main_thread));
        registry.set_int(2, Value::Table(globals));
        let g = Value::Table(globals);
        let key = st.intern(b"_G");
        globals.set(Value::Str(key), g);
        loaded.set(Value::Str(key), g);
        let key = st.intern(b"_LOADED");
        registry.set(Value::Str(key), Value::Table(loaded));
        st
    }

    /// Interns a string.
    #[inline]
    pub fn intern(&mut self, b: &[u8]) -> Gc<LuaStr> {
        self.strings.intern(&mut self.heap, b)
    }

    /// Creates a string from an owned buffer.
    #[inline]
    pub fn intern_vec(&mut self, b: Vec<u8>) -> Gc<LuaStr> {
        self.strings.intern(&mut self.heap, &b)
    }

    /// A string of `len` bytes written by `fill` (see [`Interner::try_build`]); a memory
    /// error if it cannot be allocated.
    pub fn try_build_string(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> LuaResult<Gc<LuaStr>> {
        match self.strings.try_build(&mut self.heap, len, fill) {
            Some(s) => Ok(s),
            None => Err(self.memory_error()),
        }
    }

    /// A string value.
    pub fn str_value(&mut self, s: &str) -> Value {
        Value::Str(self.intern(s.as_bytes()))
    }

    /// Allocates a table.
    #[inline]
    pub fn new_table(&mut self, narr: usize, nhash: usize) -> Gc<Table> {
        Table::alloc(&mut self.heap, narr, nhash)
    }

    /// Allocates a native function value.
    pub fn new_native(&mut self, f: NativeFn, name: &'static str) -> Value {
        Value::NativeFn(self.heap.alloc(NativeClosure {
            code: NativeCode::Fn(f),
            fast: None,
            name,
            upvals: Box::new([]),
        }))
    }

    /// Allocates a native function value with a shortcut for plain arguments (see
    /// [`NativeClosure::fast`]).
    pub fn new_native_fast(&mut self, f: NativeFn, fast: FastFn, name: &'static str) -> Value {
        Value::NativeFn(self.heap.alloc(NativeClosure {
            code: NativeCode::Fn(f),
            fast: Some(fast),
            name,
            upvals: Box::new([]),
        }))
    }

    /// Allocates a native closure with upvalues.
    pub fn new_native_with(&mut self, f: NativeFn, name: &'static str, up: &[Value]) -> Value {
        Value::NativeFn(self.heap.alloc(NativeClosure {
            code: NativeCode::Fn(f),
            fast: None,
            name,
            upvals: up.iter().map(|v| Cell::new(*v)).collect(),
        }))
    }

    /// Sets `t[name] = v` for a string name (raw).
    pub fn set_field(&mut self, t: Gc<Table>, name: &str, v: Value) {
        let k = self.intern(name.as_bytes());
        t.set(Value::Str(k), v);
    }

    /// Registers a native function in table `t`.
    pub fn register(&mut self, t: Gc<Table>, name: &'static str, f: NativeFn) {
        let v = self.new_native(f, name);
        self.set_field(t, name, v);
    }

    /// Registers a native function with a shortcut for plain arguments in table `t`.
    pub fn register_fast(&mut self, t: Gc<Table>, name: &'static str, f: NativeFn, fast: FastFn) {
        let v = self.new_native_fast(f, fast, name);
        self.set_field(t, name, v);
    }

    /// Gets `t[name]` (raw) for a string name.
    pub fn get_field(&mut self, t: Gc<Table>, name: &str) -> Value {
        let k = self.intern(name.as_bytes());
        t.get_str(k)
    }

    /// Loads a prototype tree into the heap. Equal long-string constants of one chunk become
    /// one string object (short strings are interned anyway), as in PUC Lua.
    pub fn load_proto(&mut self, p: &Rc<Proto>) -> Gc<FnProto> {
        let mut long_strings = std::collections::HashMap::new();
        self.load_proto_with(p, &mut long_strings)
    }

    fn load_proto_with(
        &mut self,
        p: &Rc<Proto>,
        long_strings: &mut std::collections::HashMap<Box<[u8]>, Gc<LuaStr>>,
    ) -> Gc<FnProto> {
        let consts: Box<[Value]> = p
            .constants
            .iter()
            .map(|c| match c {
                Constant::Nil => Value::Nil,
                Constant::Bool(b) => Value::Bool(*b),
                Constant::Int(i) => Value::Int(*i),
                Constant::Float(f) => Value::Float(*f),
                Constant::Str(s) if s.len() > crate::string::SHORT_MAX => {
                    if let Some(g) = long_strings.get(s) {
                        Value::Str(*g)
                    } else {
                        let g = self.intern(s);
                        long_strings.insert(s.clone(), g);
                        Value::Str(g)
                    }
                }
                Constant::Str(s) => Value::Str(self.intern(s)),
            })
            .collect();
        let children: Box<[Gc<FnProto>]> = p
            .protos
            .iter()
            .map(|c| self.load_proto_with(c, long_strings))
            .collect();
        let source = self.intern(&p.source);
        self.heap.alloc(FnProto {
            num_params: p.num_params,
            is_vararg: p.is_vararg,
            max_stack: p.max_stack,
            code: p.code.as_ptr(),
            proto: p.clone(),
            consts,
            children,
            source,
        })
    }

    /// Compiles source text, or loads and verifies a binary chunk (data starting with
    /// `"\x1bLua"`, see [`crate::dump`]), into a function: a closure whose first upvalue is
    /// `_ENV` = `env` or the globals (any other upvalues start as nil). Returns a syntax or
    /// binary-format error as a Lua error whose value is the message string.
    pub fn load(&mut self, src: &[u8], chunkname: &[u8], env: Option<Value>) -> LuaResult<Value> {
        let proto = if src.first() == Some(&crate::dump::SIGNATURE[0]) {
            crate::dump::undump(src, chunkname).map_err(|m| self.error_str(&m))?
        } else {
            let ast =
                crate::parse::parse(src, chunkname).map_err(|e| self.error_str(&e.message))?;
            crate::compile::compile(&ast, chunkname).map_err(|e| self.error_str(&e.message))?
        };
        let fp = self.load_proto(&proto);
        let env = env.unwrap_or(Value::Table(self.globals));
        let up = self.heap.alloc(UpVal {
            state: Cell::new(UpState::Closed(env)),
        });
        let ups: Vec<Gc<UpVal>> = (0..fp.proto.upvalues.len())
            .map(|i| {
                if i == 0 {
                    up
                } else {
                    self.heap.alloc(UpVal {
                        state: Cell::new(UpState::Closed(Value::Nil)),
                    })
                }
            })
            .collect();
        Ok(Value::LuaFn(self.heap.alloc(LuaClosure::new(fp, ups))))
    }

    /// The metatable of any value.
    #[inline]
    pub fn metatable_of(&self, v: Value) -> Option<Gc<Table>> {
        match v {
            Value::Table(t) => t.metatable(),
            Value::UserData(u) => u.meta.get(),
            _ => self.type_metas[v.lua_type() as usize],
        }
    }

    /// Metamethod `tm` of value `v` (nil if none).
    #[inline]
    pub fn get_tm(&self, v: Value, tm: Tm) -> Value {
        match self.metatable_of(v) {
            None => Value::Nil,
            Some(mt) => self.tm_from_meta(mt, tm),
        }
    }

    /// Looks up `tm` in a metatable, using and maintaining the absence cache. Always inlined:
    /// callers pass a constant `tm`, which folds the mapping to the cache bit away.
    #[inline(always)]
    pub fn tm_from_meta(&self, mt: Gc<Table>, tm: Tm) -> Value {
        let cacheable = (tm as u8) <= Tm::Eq as u8;
        if cacheable {
            // SAFETY-free: the first six Tm values mirror CachedMeta.
            let cm: crate::table::CachedMeta = match tm {
                Tm::Index => crate::table::CachedMeta::Index,
                Tm::NewIndex => crate::table::CachedMeta::NewIndex,
                Tm::Gc => crate::table::CachedMeta::Gc,
                Tm::Mode => crate::table::CachedMeta::Mode,
                Tm::Len => crate::table::CachedMeta::Len,
                _ => crate::table::CachedMeta::Eq,
            };
            if mt.meta_absent(cm) {
                return Value::Nil;
            }
            let v = mt.get_str(self.tm_names[tm as usize]);
            if v.is_nil() {
                mt.set_meta_absent(cm);
            }
            v
        } else {
            mt.get_str(self.tm_names[tm as usize])
        }
    }

    /// Converts a value to a number (numeric strings convert), as arithmetic does.
    pub fn to_number(&self, v: Value) -> Option<Value> {
        match v {
            Value::Int(_) | Value::Float(_) => Some(v),
            Value::Str(s) => crate::number::str_to_number(s.as_bytes()).map(|n| match n {
                crate::number::Number::Int(i) => Value::Int(i),
                crate::number::Number::Float(f) => Value::Float(f),
            }),
            _ => None,
        }
    }

    /// Converts a value to an integer (exact floats and numeric strings convert).
    pub fn to_integer(&self, v: Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(i),
            Value::Float(f) => crate::number::float_to_int_exact(f),
            Value::Str(_) => self.to_number(v).and_then(|n| n.as_int_exact()),
            _ => None,
        }
    }

    /// Converts a number to its string form.
    pub fn tostring_number(&mut self, v: Value) -> Gc<LuaStr> {
        let mut buf = Vec::new();
        match v {
            Value::Int(i) => crate::number::fmt_int(i, &mut buf),
            Value::Float(f) => crate::number::fmt_float(f, &mut buf),
            _ => {}
        }
        self.intern(&buf)
    }

    /// Type name for messages: uses `__name` from the metatable when it is a string.
    pub fn type_name_for_msg(&self, v: Value) -> String {
        if let Some(mt) = self.metatable_of(v) {
            if let Value::Str(s) = mt.get_str(self.tm_names[Tm::Name as usize]) {
                return s.to_str_lossy().into_owned();
            }
        }
        v.type_name().to_string()
    }

    /// Primitive string conversion (`luaL_tolstring` without `__tostring`/`__name`).
    pub fn tostring_basic(&mut self, v: Value) -> Vec<u8> {
        match v {
            Value::Nil => b"nil".to_vec(),
            Value::Bool(true) => b"true".to_vec(),
            Value::Bool(false) => b"false".to_vec(),
            Value::Int(i) => {
                let mut b = Vec::new();
                crate::number::fmt_int(i, &mut b);
                b
            }
            Value::Float(f) => {
                let mut b = Vec::new();
                crate::number::fmt_float(f, &mut b);
                b
            }
            Value::Str(s) => s.as_bytes().to_vec(),
            _ => {
                let name = self.type_name_for_msg(v);
                format!("{}: {:#x}", name, v.gc_addr()).into_bytes()
            }
        }
    }

    /// Creates an error whose value is the given message string.
    pub fn error_str(&mut self, msg: &str) -> LuaError {
        let s = self.intern(msg.as_bytes());
        LuaError::new(Value::Str(s))
    }

    /// Keeps `v` alive until [`State::unpin`]; returns its slot.
    pub fn pin(&mut self, v: Value) -> usize {
        self.roots.push(v);
        self.roots.len() - 1
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: the state owns the heap; after this no value of this state is reachable
        // from Rust code that may dereference it (values handed out must not outlive the
        // state, which the embedding API enforces with rooted handles tied to the state).
        unsafe { self.heap.free_all() }
    }
}
