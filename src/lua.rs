//! [`Lua`], the embedding handle: owns one interpreter [`State`], lends it to host functions,
//! keeps the root slots of values held by Rust, and turns Lua errors into [`Error`]s.
//!
//! # Access to the state
//!
//! The state lives in a heap allocation owned by [`Inner`]. Every API call reaches it through
//! `Inner::with_state`, which hands out one `&mut State` at a time (the `busy` flag refuses a
//! second one). While the VM runs it holds that `&mut State`; when it calls a host function the
//! callback wrapper *lends* the state back: it stores a pointer derived from the native's own
//! `&mut State` in `active` and clears `busy` until the host function returns, so host code can
//! use the full API (create tables, call Lua again) without two live `&mut` to the state.
//!
//! # Rooting
//!
//! Values held by Rust ([`Table`], [`Function`], ...) own a slot in the state's root vector
//! (`State::roots`, marked by the collector). Slots are reference counted here; a handle dropped
//! while the state is busy is queued and its slot released at the next entry.

use crate::conversion::{FromLuaMulti, IntoLua, IntoLuaMulti};
use crate::error::{Error, Result};
use crate::lock::{LockGuard, ReentrantLock};
use crate::value::{MultiValue, RawValue, Value, ValueRef};
use crate::{Function, String as LuaString, Table};
use rua_interp::func::{BoxedNativeFn, NativeClosure, NativeCode};
use rua_interp::string::StrExt;
use rua_interp::userdata::UserData as RawUserData;
use rua_interp::vm::native::{Action, CallStatus, Catch, Cont, Ctx};
use rua_interp::vm::{LuaError, LuaResult, State};
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Standard libraries to open, combined with `|`.
///
/// ```
/// use rua::{Lua, LuaOptions, StdLib};
/// let lua = Lua::new_with(StdLib::STRING | StdLib::MATH, LuaOptions::default()).unwrap();
/// assert!(lua.load("return io == nil and os == nil and string ~= nil").eval::<bool>().unwrap());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StdLib(u32);

impl StdLib {
    /// `coroutine`
    pub const COROUTINE: StdLib = StdLib(1);
    /// `table`
    pub const TABLE: StdLib = StdLib(1 << 1);
    /// `io`
    pub const IO: StdLib = StdLib(1 << 2);
    /// `os`
    pub const OS: StdLib = StdLib(1 << 3);
    /// `string`
    pub const STRING: StdLib = StdLib(1 << 4);
    /// `utf8`
    pub const UTF8: StdLib = StdLib(1 << 5);
    /// `math`
    pub const MATH: StdLib = StdLib(1 << 6);
    /// `package` and `require`
    pub const PACKAGE: StdLib = StdLib(1 << 7);
    /// `debug`
    pub const DEBUG: StdLib = StdLib(1 << 8);
    /// No library but the basic functions (which are always opened).
    pub const NONE: StdLib = StdLib(0);
    /// Every library.
    pub const ALL: StdLib = StdLib((1 << 9) - 1);
    /// Every library except `debug` (what [`Lua::new`] opens, as in mlua).
    pub const ALL_SAFE: StdLib = StdLib(((1 << 9) - 1) & !(1 << 8));

    /// `true` if every library of `other` is in `self`.
    ///
    /// ```
    /// assert!(rua::StdLib::ALL.contains(rua::StdLib::IO));
    /// assert!(!rua::StdLib::ALL_SAFE.contains(rua::StdLib::DEBUG));
    /// ```
    pub fn contains(self, other: StdLib) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for StdLib {
    type Output = StdLib;
    fn bitor(self, rhs: StdLib) -> StdLib {
        StdLib(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for StdLib {
    fn bitor_assign(&mut self, rhs: StdLib) {
        self.0 |= rhs.0
    }
}

impl std::ops::BitAnd for StdLib {
    type Output = StdLib;
    fn bitand(self, rhs: StdLib) -> StdLib {
        StdLib(self.0 & rhs.0)
    }
}

impl std::ops::Not for StdLib {
    type Output = StdLib;
    fn not(self) -> StdLib {
        StdLib(!self.0 & StdLib::ALL.0)
    }
}

/// Options of a new state.
///
/// ```
/// let opts = rua::LuaOptions::new().catch_rust_panics(true);
/// let lua = rua::Lua::new_with(rua::StdLib::ALL_SAFE, opts).unwrap();
/// # drop(lua);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LuaOptions {
    catch_rust_panics: bool,
}

impl Default for LuaOptions {
    fn default() -> Self {
        LuaOptions::new()
    }
}

impl LuaOptions {
    /// The defaults: panics in host functions are caught.
    ///
    /// ```
    /// let lua = rua::Lua::new_with(rua::StdLib::ALL_SAFE, rua::LuaOptions::new()).unwrap();
    /// let boom = lua.create_function(|_, ()| -> rua::Result<()> { panic!("boom") }).unwrap();
    /// lua.globals().set("boom", boom).unwrap();
    /// let caught: bool = lua.load("return not pcall(boom)").eval().unwrap();
    /// assert!(caught);
    /// ```
    pub const fn new() -> LuaOptions {
        LuaOptions {
            catch_rust_panics: true,
        }
    }

    /// With `true` (the default) a panic in a host function becomes a Lua error that `pcall`
    /// can catch (its message starts with "Rust callback panicked"). With `false` the panic is
    /// still stopped at the host function's boundary (so the interpreter unwinds cleanly), but
    /// it is resumed with [`std::panic::resume_unwind`] as soon as the call returns to the Rust
    /// code that entered Lua, even if Lua code caught the error.
    ///
    /// ```
    /// let opts = rua::LuaOptions::new().catch_rust_panics(false);
    /// let lua = rua::Lua::new_with(rua::StdLib::ALL_SAFE, opts).unwrap();
    /// let boom = lua.create_function(|_, ()| -> rua::Result<()> { panic!("boom") }).unwrap();
    /// lua.globals().set("boom", boom).unwrap();
    /// let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     lua.load("pcall(boom)").exec()
    /// }));
    /// assert!(r.is_err(), "the panic reaches the Rust caller");
    /// ```
    pub const fn catch_rust_panics(mut self, enabled: bool) -> LuaOptions {
        self.catch_rust_panics = enabled;
        self
    }
}

/// Raw values created once per state and kept rooted for its whole life.
#[derive(Clone, Copy)]
pub(crate) struct Helpers {
    /// Native `(f, handler, args...)` → calls `f(args...)` with `handler` as message handler.
    pub(crate) trampoline: RawValue,
    /// Message handler that records the traceback.
    pub(crate) handler: RawValue,
    /// `function(t, k) return t[k] end` and friends, for metamethod-aware table access.
    pub(crate) index: RawValue,
    pub(crate) newindex: RawValue,
    pub(crate) len: RawValue,
    /// Metatable of error values wrapping a Rust [`Error`].
    pub(crate) error_meta: RawValue,
}

/// The Rust error carried by a Lua error value (a userdata with `Helpers::error_meta`).
pub(crate) struct WrappedError(pub(crate) Error);

#[derive(Default)]
struct Slots {
    /// Reference count of each slot of `State::roots` (0: free).
    counts: Vec<u32>,
    free: Vec<usize>,
    /// Slots whose last handle was dropped while the state was busy.
    pending: Vec<usize>,
}

/// The parts of a state that are not thread-safe: the interpreter state (the whole object
/// graph) and the bookkeeping around it. Reached only through [`Inner::lock`].
pub(crate) struct Shared {
    /// The owned state (from `Box::into_raw`), freed in `Drop for Inner`.
    state: NonNull<State>,
    /// The pointer API calls use now: `state`, or one lent by a running host function.
    active: Cell<NonNull<State>>,
    /// `true` while a `&mut State` handed out by `with_state` is live (and not lent).
    busy: Cell<bool>,
    slots: RefCell<Slots>,
    helpers: Helpers,
    ud_metas: RefCell<HashMap<TypeId, RawValue>>,
    /// A panic payload to resume when control returns to Rust (`catch_rust_panics(false)`).
    pending_panic: RefCell<Option<Box<dyn Any + Send>>>,
    /// Async tasks whose future was dropped while the state was busy.
    #[cfg(feature = "async")]
    pending_cancel: RefCell<Vec<rua_interp::vm::driver::Task>>,
    globals: Cell<usize>,
}

// SAFETY: `Shared` owns one interpreter state and everything pointing into it, and moving it
// to another thread moves that whole object graph as a unit. Its parts are not `Send` only
// because they are not *shareable* between threads: `Gc` pointers and the `Rc`s, `Cell`s and
// `RefCell`s inside heap objects (and in the bookkeeping here) are unsynchronised. That is
// sound to move as long as no other thread keeps a way into the graph, which holds because:
// * `Shared` is only reached through `ReentrantLock<Shared>` (one thread at a time); every
//   `&mut State`, lent state pointer and heap dereference happens while the current thread
//   holds that lock (`with_state`, `lend`, `root`/`retain`/`release`).
// * No pointer into the graph escapes to Rust code without the lock: handles (`Table`,
//   `Function`, `String`, `Thread`, `AnyUserData`, `RegistryKey`) hold a root-slot index and a
//   `Weak<Inner>`; `String::as_bytes` lends the bytes of a rooted string, which nothing writes
//   (the collector only writes the object header, a different location); an async call's `Task` (which holds `Gc<Thread>`
//   pointers) is only dereferenced inside `with_state`; userdata borrows go through
//   `UserDataCell`, whose borrow flag is atomic, and shared borrows that may outlive the lock
//   require `T: Sync`.
// * Everything foreign stored in the graph is `Send`: host functions and their captures
//   (`F: Send`), host futures and their completions (`HostFuture: Send`), userdata values
//   (`T: Send`). The interpreter's own captures (`Rc<Proto>`, file handles) are referenced
//   only from inside the graph.
// * Nothing in the graph is tied to a thread: the interpreter keeps no thread-locals (the
//   `io` library's list of open files lives in the state) except the GC's allocation-debt
//   scratch, which `with_state` saves and restores around every entry, so it holds none of
//   this state's debt whenever the lock is released.
unsafe impl Send for Shared {}

/// One state, shared by all handles of one [`Lua`] (through an `Arc`).
pub(crate) struct Inner {
    shared: ReentrantLock<Shared>,
    /// Traceback recorded by the message handler of the last call.
    pub(crate) traceback: Arc<Mutex<Option<std::string::String>>>,
    pub(crate) options: LuaOptions,
    /// Fuel of the slices of async calls (`u64::MAX`: no slicing), see
    /// `Lua::set_async_fuel`.
    #[cfg(feature = "async")]
    pub(crate) async_fuel: std::sync::atomic::AtomicU64,
    /// Values of [`Lua::set_app_data`].
    pub(crate) app_data: crate::app_data::AppData,
    /// Receiver of `__close` errors of cancelled async calls (`Lua::set_cancel_error_handler`).
    #[cfg(feature = "async")]
    pub(crate) cancel_errors: Mutex<Option<crate::async_call::CancelErrorHandler>>,
}

/// A Lua state. Cheap to clone: clones share the state.
///
/// `Lua` is `Send` and `Sync`: every clone and every value handle reaches the state through
/// one reentrant lock, so a state can move between threads (e.g. tokio worker threads) and be
/// used from several threads, one call at a time: a thread calling into a state that another
/// thread is running waits until that call returns or reaches an await (host futures run
/// without the lock). Host functions, host futures and userdata must be `Send` for this reason.
///
/// ```
/// let lua = rua::Lua::new();
/// let sum: i64 = lua.load("local a, b = ... return a + b").call((40, 2)).unwrap();
/// assert_eq!(sum, 42);
/// let moved = std::thread::spawn(move || lua.load("return 1").eval::<i32>().unwrap());
/// assert_eq!(moved.join().unwrap(), 1);
/// ```
#[derive(Clone)]
pub struct Lua(pub(crate) Arc<Inner>);

/// A handle to a [`Lua`] that does not keep it alive (held by values and host functions, so a
/// value stored inside its own state makes no reference cycle).
#[derive(Clone)]
pub(crate) struct WeakLua(pub(crate) Weak<Inner>);

impl WeakLua {
    pub(crate) fn upgrade(&self) -> Result<Lua> {
        self.0.upgrade().map(Lua).ok_or(Error::MismatchedState)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let sh = self.shared.get_mut();
        // SAFETY: this is the last strong reference, so no `with_state` borrow and no lent
        // pointer is live (both hold a strong reference for their duration); the box came
        // from `Box::into_raw` in `Lua::new_with` and is freed exactly once, here.
        let mut st = unsafe { Box::from_raw(sh.state.as_ptr()) };
        #[cfg(feature = "async")]
        sh.pending_cancel.get_mut().clear();
        // Run `__gc` of everything, as closing a PUC state does. Host functions called from
        // finalizers find the `Lua` gone and raise an error, which finalizers ignore.
        st.finalize_all();
        drop(st);
    }
}

struct Restore<'a> {
    shared: &'a Shared,
    active: NonNull<State>,
    busy: bool,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.shared.active.set(self.active);
        self.shared.busy.set(self.busy);
    }
}

impl Inner {
    /// Locks the state for the current thread (reentrant; other threads wait).
    pub(crate) fn lock(&self) -> LockGuard<'_, Shared> {
        self.shared.lock()
    }

    /// Runs `f` with the state. Refused with [`Error::StateBusy`] while another borrow is live.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R> {
        let g = self.lock();
        if g.busy.get() {
            return Err(Error::StateBusy);
        }
        let _restore = Restore {
            shared: &g,
            active: g.active.get(),
            busy: false,
        };
        g.busy.set(true);
        // SAFETY: this thread holds the lock, so no other thread reaches the state. `active`
        // points at the live state: either the owned box (alive while `self` is) or a pointer
        // lent by a host-function frame further up this thread's stack, which does not touch
        // its own `&mut State` until `lend` returns. `busy` was false, so no other reference
        // obtained here is live.
        let st = unsafe { &mut *g.active.get().as_ptr() };
        // Bracket the GC's thread-local allocation debt: what accumulates while `f` runs is
        // this state's, and what was there before is given back (see `rua_gc::alloc_debt_swap`).
        // The write barrier's thread-local remembered list is handed to the heap on the way
        // out the same way (also when `f` unwinds), since the state may next run on another
        // thread (see `rua_gc::Heap::park_thread_state`).
        struct Leave {
            st: *mut State,
            outer_debt: usize,
        }
        impl Drop for Leave {
            fn drop(&mut self) {
                // SAFETY: `st` is the state this thread holds locked for the whole call
                // (`_restore` and the lock guard outlive this guard); `f`'s borrow of it has
                // ended when this runs.
                let st = unsafe { &mut *self.st };
                st.heap.add_debt(rua_gc::alloc_debt_swap(self.outer_debt));
                st.heap.park_thread_state();
            }
        }
        let outer_debt = rua_gc::alloc_debt_swap(0);
        let leave = Leave {
            st: st as *mut State,
            outer_debt,
        };
        // SAFETY: as above; `leave` only touches the state after `f` returns or unwinds.
        let st = unsafe { &mut *leave.st };
        self.drain_pending(st);
        let r = f(st);
        drop(leave);
        Ok(r)
    }

    /// Makes the state available to API calls made by host code running inside `f`, while
    /// the caller (a native function called by the VM) holds `st`.
    pub(crate) fn lend<R>(&self, st: &mut State, f: impl FnOnce() -> R) -> R {
        let g = self.lock();
        let _restore = Restore {
            shared: &g,
            active: g.active.get(),
            busy: g.busy.get(),
        };
        g.active.set(NonNull::from(&mut *st));
        g.busy.set(false);
        f()
    }

    /// Roots `v` in a new slot with one reference.
    pub(crate) fn root(&self, st: &mut State, v: RawValue) -> usize {
        let g = self.lock();
        let mut s = g.slots.borrow_mut();
        let slot = match s.free.pop() {
            Some(i) => {
                st.roots[i] = v;
                i
            }
            None => {
                st.roots.push(v);
                st.roots.len() - 1
            }
        };
        if s.counts.len() <= slot {
            s.counts.resize(slot + 1, 0);
        }
        s.counts[slot] = 1;
        slot
    }

    pub(crate) fn retain(&self, slot: usize) {
        self.lock().slots.borrow_mut().counts[slot] += 1;
    }

    pub(crate) fn release(&self, slot: usize) {
        let g = self.lock();
        let mut s = g.slots.borrow_mut();
        s.counts[slot] -= 1;
        if s.counts[slot] > 0 {
            return;
        }
        if g.busy.get() {
            s.pending.push(slot);
            return;
        }
        // SAFETY: this thread holds the lock and the state is not busy, so no `&mut State`
        // from `with_state` is live; `active` is the owned state or one lent by a
        // host-function frame that is not using it now (see `with_state`). The reference
        // lives only for this statement.
        let st = unsafe { &mut *g.active.get().as_ptr() };
        st.roots[slot] = RawValue::Nil;
        s.free.push(slot);
    }

    pub(crate) fn drain_pending(&self, st: &mut State) {
        let g = self.lock();
        let mut s = g.slots.borrow_mut();
        if !s.pending.is_empty() {
            let pending = std::mem::take(&mut s.pending);
            for slot in pending {
                st.roots[slot] = RawValue::Nil;
                s.free.push(slot);
            }
        }
        drop(s);
        #[cfg(feature = "async")]
        {
            let tasks = std::mem::take(&mut *g.pending_cancel.borrow_mut());
            for mut t in tasks {
                let errors = st.cancel_task(&mut t);
                self.report_cancel_errors(errors);
            }
        }
    }

    /// Queues an async task whose future was dropped while the state was busy.
    #[cfg(feature = "async")]
    pub(crate) fn defer_cancel(&self, task: rua_interp::vm::driver::Task) {
        self.lock().pending_cancel.borrow_mut().push(task);
    }

    /// The raw value in a root slot.
    #[inline]
    pub(crate) fn slot_value(&self, st: &State, slot: usize) -> RawValue {
        st.roots[slot]
    }

    /// The per-state helper values.
    pub(crate) fn helpers(&self) -> Helpers {
        self.lock().helpers
    }

    /// The metatable built for userdata type `id`, if any.
    pub(crate) fn ud_meta(&self, id: TypeId) -> Option<RawValue> {
        self.lock().ud_metas.borrow().get(&id).copied()
    }

    pub(crate) fn set_ud_meta(&self, id: TypeId, mt: RawValue) {
        self.lock().ud_metas.borrow_mut().insert(id, mt);
    }

    /// Records a panic payload to resume once control is back in the Rust caller.
    pub(crate) fn set_pending_panic(&self, p: Box<dyn Any + Send>) {
        *self.lock().pending_panic.borrow_mut() = Some(p);
    }

    fn take_pending_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.lock().pending_panic.borrow_mut().take()
    }

    fn globals_slot(&self) -> usize {
        self.lock().globals.get()
    }
}

fn trampoline(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    let f = ctx.arg(1);
    ctx.push(f);
    for i in 3..=n {
        let a = ctx.arg(i);
        ctx.push(a);
    }
    Ok(Action::Call {
        nargs: n.saturating_sub(2),
        nresults: -1,
        cont: Cont {
            f: trampoline_k,
            data: 0,
            catch: Catch::WithHandler,
            yieldable: true,
        },
    })
}

fn trampoline_k(_ctx: &mut Ctx, status: CallStatus, _: usize) -> LuaResult<Action> {
    match status {
        CallStatus::Ok(n) => Ok(Action::Return(n)),
        CallStatus::Err(e) => Err(e),
    }
}

fn error_tostring(ctx: &mut Ctx) -> LuaResult<Action> {
    let msg = match ctx.arg(1) {
        RawValue::UserData(u) => u
            .data
            .borrow()
            .downcast_ref::<WrappedError>()
            .map(|w| w.0.to_string()),
        _ => None,
    };
    let msg = msg.unwrap_or_else(|| "error".to_string());
    let s = ctx.new_string(msg.into_bytes());
    ctx.ret1(s)
}

impl Default for Lua {
    fn default() -> Self {
        Lua::new()
    }
}

impl Lua {
    /// A state with every standard library except `debug` ([`StdLib::ALL_SAFE`]).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.load("assert(string.rep('a', 3) == 'aaa')").exec().unwrap();
    /// ```
    pub fn new() -> Lua {
        Self::new_with(StdLib::ALL_SAFE, LuaOptions::new()).expect("opening the safe libraries")
    }

    /// A state with the chosen standard libraries (the basic functions are always there).
    /// A sandbox leaves out `io`, `os`, `debug` and `package`.
    ///
    /// ```
    /// use rua::{Lua, LuaOptions, StdLib};
    /// let sandbox = StdLib::ALL_SAFE & !(StdLib::IO | StdLib::OS | StdLib::PACKAGE);
    /// let lua = Lua::new_with(sandbox, LuaOptions::new()).unwrap();
    /// assert!(lua.load("return require == nil and os == nil").eval::<bool>().unwrap());
    /// ```
    pub fn new_with(libs: StdLib, options: LuaOptions) -> Result<Lua> {
        use rua_interp::stdlib;
        let mut st = State::new_bare();
        stdlib::base::open(&mut st);
        type Opener = fn(&mut State);
        let opens: [(StdLib, Opener); 9] = [
            (StdLib::PACKAGE, stdlib::package::open),
            (StdLib::COROUTINE, stdlib::coroutine::open),
            (StdLib::TABLE, stdlib::table::open),
            (StdLib::IO, stdlib::io::open),
            (StdLib::OS, stdlib::os::open),
            (StdLib::STRING, stdlib::string::open),
            (StdLib::MATH, stdlib::math::open),
            (StdLib::UTF8, stdlib::utf8::open),
            (StdLib::DEBUG, stdlib::debug::open),
        ];
        for (lib, open) in opens {
            if libs.contains(lib) {
                open(&mut st);
            }
        }
        let traceback: Arc<Mutex<Option<std::string::String>>> = Arc::default();
        let stash = traceback.clone();
        let handler_fn: BoxedNativeFn = Box::new(move |ctx: &mut Ctx| {
            let tb = ctx.st.traceback(None, 1);
            *stash.lock().unwrap_or_else(PoisonError::into_inner) = Some(tb);
            let v = ctx.arg(1);
            ctx.ret1(v)
        });
        let handler = RawValue::NativeFn(st.heap.alloc(NativeClosure {
            code: NativeCode::Boxed(handler_fn),
            fast: None,
            name: "traceback",
            upvals: Box::new([]),
        }));
        let tramp = st.new_native(trampoline, "call");
        let mut helper = |src: &str| -> Result<RawValue> {
            st.load(src.as_bytes(), b"=[rua]", None)
                .map_err(|e| Error::RuntimeError(e.message()))
        };
        let index = helper("local t, k = ... return t[k]")?;
        let newindex = helper("local t, k, v = ... t[k] = v")?;
        let len = helper("local t = ... return #t")?;
        let meta = st.new_table(0, 2);
        let ts = st.new_native(error_tostring, "tostring");
        st.set_field(meta, "__tostring", ts);
        let name = st.str_value("rua.Error");
        st.set_field(meta, "__name", name);
        let helpers = Helpers {
            trampoline: tramp,
            handler,
            index,
            newindex,
            len,
            error_meta: RawValue::Table(meta),
        };
        for v in [tramp, handler, index, newindex, len, helpers.error_meta] {
            st.roots.push(v);
        }
        let globals = RawValue::Table(st.globals);
        let slots = Slots {
            counts: vec![1; st.roots.len()],
            ..Slots::default()
        };
        let state = NonNull::from(Box::leak(Box::new(st)));
        let shared = Shared {
            state,
            active: Cell::new(state),
            busy: Cell::new(false),
            slots: RefCell::new(slots),
            helpers,
            ud_metas: RefCell::new(HashMap::new()),
            pending_panic: RefCell::new(None),
            #[cfg(feature = "async")]
            pending_cancel: RefCell::new(Vec::new()),
            globals: Cell::new(0),
        };
        let inner = Inner {
            shared: ReentrantLock::new(shared),
            traceback,
            options,
            #[cfg(feature = "async")]
            async_fuel: std::sync::atomic::AtomicU64::new(crate::async_call::DEFAULT_ASYNC_FUEL),
            app_data: Default::default(),
            #[cfg(feature = "async")]
            cancel_errors: Mutex::new(None),
        };
        let lua = Lua(Arc::new(inner));
        let g = lua.with_state(|st| lua.0.root(st, globals))?;
        lua.0.lock().globals.set(g);
        Ok(lua)
    }

    pub(crate) fn weak(&self) -> WeakLua {
        WeakLua(Arc::downgrade(&self.0))
    }

    /// Runs `f` with exclusive access to the interpreter state.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R> {
        self.0.with_state(f)
    }

    /// A handle rooting `v`.
    pub(crate) fn new_ref(&self, st: &mut State, v: RawValue) -> ValueRef {
        ValueRef {
            lua: self.weak(),
            slot: self.0.root(st, v),
        }
    }

    /// The global table.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.globals().set("answer", 42).unwrap();
    /// assert_eq!(lua.load("return answer").eval::<i32>().unwrap(), 42);
    /// ```
    pub fn globals(&self) -> Table {
        let slot = self.0.globals_slot();
        self.0.retain(slot);
        Table(ValueRef {
            lua: self.weak(),
            slot,
        })
    }

    /// A new empty table.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// t.set(1, "one").unwrap();
    /// assert_eq!(t.len().unwrap(), 1);
    /// ```
    pub fn create_table(&self) -> Result<Table> {
        self.create_table_with_capacity(0, 0)
    }

    /// A new table with room for `narr` array and `nrec` hash entries.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_with_capacity(10, 0).unwrap();
    /// assert!(t.is_empty().unwrap());
    /// ```
    pub fn create_table_with_capacity(&self, narr: usize, nrec: usize) -> Result<Table> {
        self.with_state(|st| {
            let t = st.new_table(narr, nrec);
            Table(self.new_ref(st, RawValue::Table(t)))
        })
    }

    /// A table filled from key/value pairs.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_from([("a", 1), ("b", 2)]).unwrap();
    /// assert_eq!(t.get::<i32>("b").unwrap(), 2);
    /// ```
    pub fn create_table_from<K, V, I>(&self, iter: I) -> Result<Table>
    where
        K: IntoLua,
        V: IntoLua,
        I: IntoIterator<Item = (K, V)>,
    {
        let t = self.create_table()?;
        for (k, v) in iter {
            t.raw_set(k, v)?;
        }
        Ok(t)
    }

    /// A table whose array part holds the values in order (`t[1], t[2], ...`).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_sequence_from(["x", "y"]).unwrap();
    /// assert_eq!(t.len().unwrap(), 2);
    /// ```
    pub fn create_sequence_from<V: IntoLua, I: IntoIterator<Item = V>>(
        &self,
        iter: I,
    ) -> Result<Table> {
        let t = self.create_table()?;
        for (i, v) in iter.into_iter().enumerate() {
            t.raw_set(i as i64 + 1, v)?;
        }
        Ok(t)
    }

    /// A Lua string with the given bytes (any bytes, not only UTF-8).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let s = lua.create_string(b"\xffbytes").unwrap();
    /// assert_eq!(s.as_bytes().len(), 6);
    /// ```
    pub fn create_string(&self, bytes: impl AsRef<[u8]>) -> Result<LuaString> {
        self.with_state(|st| {
            let s = st.intern(bytes.as_ref());
            LuaString(self.new_ref(st, RawValue::Str(s)))
        })
    }

    /// Starts loading a chunk of Lua source (or a binary chunk).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let v: i64 = lua.load("return 6 * 7").set_name("=answer").eval().unwrap();
    /// assert_eq!(v, 42);
    /// ```
    pub fn load<'a>(&'a self, chunk: impl AsChunk<'a>) -> Chunk<'a> {
        Chunk {
            lua: self,
            source: chunk.source(),
            name: None,
            env: None,
        }
    }

    /// Converts a value into a Lua value (shorthand for [`IntoLua::into_lua`]).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert!(matches!(lua.pack(7).unwrap(), rua::Value::Integer(7)));
    /// ```
    pub fn pack<T: IntoLua>(&self, v: T) -> Result<Value> {
        v.into_lua(self)
    }

    /// Converts a Lua value into a Rust value (shorthand for [`crate::FromLua::from_lua`]).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let n: u8 = lua.unpack(rua::Value::Integer(200)).unwrap();
    /// assert_eq!(n, 200);
    /// ```
    pub fn unpack<T: crate::FromLua>(&self, v: Value) -> Result<T> {
        T::from_lua(v, self)
    }

    /// Runs a full garbage collection.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.gc_collect().unwrap();
    /// assert!(lua.used_memory() > 0);
    /// ```
    pub fn gc_collect(&self) -> Result<()> {
        self.with_state(|st| st.full_gc())
    }

    /// Bytes in use by the state's heap.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let before = lua.used_memory();
    /// let _t = lua.create_sequence_from(0..10_000).unwrap();
    /// assert!(lua.used_memory() > before);
    /// ```
    pub fn used_memory(&self) -> usize {
        self.with_state(|st| st.memory_in_use()).unwrap_or(0)
    }

    /// Creates a host function from a Rust closure. Arguments convert with [`FromLuaMulti`]
    /// (tuples, [`crate::Variadic`], `Option`), results with [`IntoLuaMulti`]. An `Err`
    /// becomes a Lua error that `pcall` catches and that reaches Rust again as
    /// [`Error::CallbackError`] with the original error as its cause.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let add = lua.create_function(|_, (a, b): (i64, i64)| Ok(a + b)).unwrap();
    /// lua.globals().set("add", add).unwrap();
    /// assert_eq!(lua.load("return add(2, 3)").eval::<i64>().unwrap(), 5);
    /// ```
    pub fn create_function<A, R, F>(&self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(&Lua, A) -> Result<R> + Send + 'static,
    {
        self.create_callback(Box::new(move |lua, args| {
            func(lua, A::from_lua_args(args, 1, None, lua)?)?.into_lua_multi(lua)
        }))
    }

    /// Like [`Lua::create_function`] for a closure that mutates its captures. A recursive call
    /// (the function calling itself through Lua) fails with [`Error::RecursiveMutCallback`].
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let mut count = 0;
    /// let tick = lua.create_function_mut(move |_, ()| { count += 1; Ok(count) }).unwrap();
    /// tick.call::<()>(()).unwrap();
    /// assert_eq!(tick.call::<i32>(()).unwrap(), 2);
    /// ```
    pub fn create_function_mut<A, R, F>(&self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: FnMut(&Lua, A) -> Result<R> + Send + 'static,
    {
        let func = RefCell::new(func);
        self.create_function(move |lua, args| {
            let mut f = func
                .try_borrow_mut()
                .map_err(|_| Error::RecursiveMutCallback)?;
            f(lua, args)
        })
    }

    pub(crate) fn create_callback(&self, cb: crate::function::Callback) -> Result<Function> {
        let weak = self.weak();
        let native: BoxedNativeFn = Box::new(move |ctx: &mut Ctx| {
            let lua = match weak.upgrade() {
                Ok(l) => l,
                Err(_) => return Err(ctx.error("the Lua state is being closed")),
            };
            let args = lua.args_of(ctx);
            let r = lua.0.lend(ctx.st, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&lua, args)))
            });
            let r = r.unwrap_or_else(|p| Err(lua.panic_to_error(p)));
            lua.finish_callback(ctx, r)
        });
        self.with_state(|st| {
            let f = RawValue::NativeFn(st.heap.alloc(NativeClosure {
                code: NativeCode::Boxed(native),
                fast: None,
                name: "?",
                upvals: Box::new([]),
            }));
            Function(self.new_ref(st, f))
        })
    }

    /// The arguments of a host function call, rooted.
    pub(crate) fn args_of(&self, ctx: &mut Ctx) -> MultiValue {
        let n = ctx.nargs();
        let mut mv = MultiValue::with_capacity(n);
        for i in 1..=n {
            let v = ctx.arg(i);
            mv.push_back(self.raw_to_value(ctx.st, v));
        }
        mv
    }

    /// Pushes the results of a host function (or raises its error).
    pub(crate) fn finish_callback(
        &self,
        ctx: &mut Ctx,
        r: Result<MultiValue>,
    ) -> LuaResult<Action> {
        let raws = r.and_then(|mv| {
            mv.iter()
                .map(|v| self.value_to_raw(ctx.st, v))
                .collect::<Result<Vec<_>>>()
        });
        self.0.drain_pending(ctx.st);
        match raws {
            Ok(raws) => ctx.ret(&raws),
            Err(e) => Err(self.wrap_error(ctx.st, e)),
        }
    }

    pub(crate) fn panic_to_error(&self, p: Box<dyn Any + Send>) -> Error {
        let msg = if let Some(s) = p.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = p.downcast_ref::<std::string::String>() {
            s.clone()
        } else {
            "panic".to_string()
        };
        if !self.0.options.catch_rust_panics {
            self.0.set_pending_panic(p);
        }
        Error::RuntimeError(format!("Rust callback panicked: {msg}"))
    }

    /// Resumes a panic recorded by a host function (`catch_rust_panics(false)`).
    pub(crate) fn resume_pending_panic(&self) {
        let p = self.0.take_pending_panic();
        if let Some(p) = p {
            std::panic::resume_unwind(p);
        }
    }

    /// A Lua error value carrying a Rust error.
    pub(crate) fn wrap_error(&self, st: &mut State, e: Error) -> LuaError {
        let meta = match self.0.helpers().error_meta {
            RawValue::Table(t) => Some(t),
            _ => None,
        };
        let ud = st.heap.alloc(RawUserData {
            meta: Cell::new(meta),
            user_values: RefCell::new(Vec::new()),
            data: RefCell::new(Box::new(WrappedError(e))),
            finalizer_registered: Cell::new(false),
        });
        LuaError::new(RawValue::UserData(ud))
    }

    /// Converts a raised Lua error into an [`Error`], with the traceback recorded by the
    /// message handler of the call.
    pub(crate) fn convert_error(&self, st: &mut State, e: LuaError) -> Error {
        let tb = self
            .0
            .traceback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        use rua_interp::vm::error::ErrorKind;
        match e.kind() {
            ErrorKind::Memory => return Error::MemoryError(e.message()),
            ErrorKind::InstructionLimit => return Error::InstructionLimitExceeded,
            ErrorKind::Runtime => {}
        }
        match e.value() {
            RawValue::UserData(u) => {
                if let Some(w) = u.data.borrow().downcast_ref::<WrappedError>() {
                    return match &w.0 {
                        e @ Error::CallbackError { .. } => e.clone(),
                        other => Error::CallbackError {
                            traceback: tb,
                            cause: std::sync::Arc::new(other.clone()),
                        },
                    };
                }
                Error::RuntimeError(join_tb(&e.message(), &tb))
            }
            RawValue::Str(s) => {
                let msg = s.to_str_lossy().into_owned();
                if msg.starts_with("attempt to await an async host function") {
                    Error::AwaitOutsideAsync(msg)
                } else {
                    Error::RuntimeError(join_tb(&msg, &tb))
                }
            }
            v => {
                let m = String::from_utf8_lossy(&st.tostring_basic(v)).into_owned();
                Error::RuntimeError(join_tb(&m, &tb))
            }
        }
    }

    /// Calls `f(args...)` to completion (a nested, synchronous run of the VM).
    pub(crate) fn call_raw(
        &self,
        st: &mut State,
        f: RawValue,
        args: &[RawValue],
    ) -> Result<Vec<RawValue>> {
        let h = &self.0.helpers();
        let mut all = Vec::with_capacity(args.len() + 2);
        all.push(f);
        all.push(h.handler);
        all.extend_from_slice(args);
        let r = st.call_value(h.trampoline, &all, -1);
        r.map_err(|e| self.convert_error(st, e))
    }

    /// Calls a function value and converts its results (synchronously).
    pub(crate) fn call_function<R: FromLuaMulti>(
        &self,
        f: &ValueRef,
        args: MultiValue,
    ) -> Result<R> {
        let results = self.with_state(|st| -> Result<MultiValue> {
            let fv = self.ref_to_raw(st, f)?;
            let raws = args
                .iter()
                .map(|v| self.value_to_raw(st, v))
                .collect::<Result<Vec<_>>>()?;
            let out = self.call_raw(st, fv, &raws)?;
            Ok(out.into_iter().map(|v| self.raw_to_value(st, v)).collect())
        });
        drop(args);
        self.resume_pending_panic();
        R::from_lua_multi(results??, self)
    }

    /// The raw value of a handle, refusing handles of other states.
    pub(crate) fn ref_to_raw(&self, st: &State, r: &ValueRef) -> Result<RawValue> {
        if !std::ptr::eq(r.lua.0.as_ptr(), Arc::as_ptr(&self.0)) {
            return Err(Error::MismatchedState);
        }
        Ok(self.0.slot_value(st, r.slot))
    }

    /// Converts a public value to a raw one (no allocation except for `Value::Error`).
    pub(crate) fn value_to_raw(&self, st: &mut State, v: &Value) -> Result<RawValue> {
        Ok(match v {
            Value::Nil => RawValue::Nil,
            Value::Boolean(b) => RawValue::Bool(*b),
            Value::Integer(i) => RawValue::Int(*i),
            Value::Number(n) => RawValue::Float(*n),
            Value::LightUserData(p) => RawValue::LightUserData(p.0 as usize),
            Value::String(s) => self.ref_to_raw(st, &s.0)?,
            Value::Table(t) => self.ref_to_raw(st, &t.0)?,
            Value::Function(f) => self.ref_to_raw(st, &f.0)?,
            Value::Thread(t) => self.ref_to_raw(st, &t.0)?,
            Value::UserData(u) => self.ref_to_raw(st, &u.0)?,
            Value::Error(e) => self.wrap_error(st, (**e).clone()).value(),
        })
    }

    /// Converts a raw value to a public one, rooting objects.
    pub(crate) fn raw_to_value(&self, st: &mut State, v: RawValue) -> Value {
        match v {
            RawValue::Nil => Value::Nil,
            RawValue::Bool(b) => Value::Boolean(b),
            RawValue::Int(i) => Value::Integer(i),
            RawValue::Float(f) => Value::Number(f),
            RawValue::LightUserData(p) => {
                Value::LightUserData(crate::LightUserData(p as *mut std::ffi::c_void))
            }
            RawValue::Str(_) => Value::String(LuaString(self.new_ref(st, v))),
            RawValue::Table(_) => Value::Table(Table(self.new_ref(st, v))),
            RawValue::LuaFn(_) | RawValue::NativeFn(_) => {
                Value::Function(Function(self.new_ref(st, v)))
            }
            RawValue::Thread(_) => Value::Thread(crate::Thread(self.new_ref(st, v))),
            RawValue::UserData(u) => {
                if let Some(w) = u.data.borrow().downcast_ref::<WrappedError>() {
                    return Value::Error(Box::new(w.0.clone()));
                }
                Value::UserData(crate::AnyUserData(self.new_ref(st, v)))
            }
        }
    }

    /// Limits the heap to `bytes` (0: no limit) and returns the previous limit (0 if there was
    /// none). An allocation beyond it raises "not enough memory" in Lua (catchable by `pcall`);
    /// reaching Rust it is [`Error::MemoryError`]. The state stays usable.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.set_memory_limit(4 << 20).unwrap();
    /// let e = lua.load("local t = {} for i = 1, 1e8 do t[i] = i end").exec().unwrap_err();
    /// assert!(matches!(e, rua::Error::MemoryError(_)));
    /// assert_eq!(lua.load("1 + 1").eval::<i32>().unwrap(), 2);
    /// ```
    pub fn set_memory_limit(&self, bytes: usize) -> Result<usize> {
        self.with_state(|st| {
            let prev = st.memory_limit().unwrap_or(0);
            st.set_memory_limit((bytes != 0).then_some(bytes));
            prev
        })
    }

    /// Sets (or with `None` removes) a budget of VM instructions, counted from now over all
    /// code the state runs (library functions such as `string.find` charge for their work too).
    /// Code exceeding it fails with [`Error::InstructionLimitExceeded`], which `pcall` inside
    /// Lua cannot catch. Setting the limit again restarts the count.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.set_instruction_limit(Some(100_000)).unwrap();
    /// let e = lua.load("while true do pcall(function() while true do end end) end").exec();
    /// assert!(matches!(e, Err(rua::Error::InstructionLimitExceeded)));
    /// lua.set_instruction_limit(None).unwrap();
    /// assert_eq!(lua.load("2").eval::<i32>().unwrap(), 2);
    /// ```
    pub fn set_instruction_limit(&self, limit: Option<u64>) -> Result<()> {
        self.with_state(|st| st.set_instruction_limit(limit))
    }

    /// `true` if both handles refer to the same state.
    ///
    /// ```
    /// let a = rua::Lua::new();
    /// let b = a.clone();
    /// assert!(a.same_state(&b));
    /// assert!(!a.same_state(&rua::Lua::new()));
    /// ```
    pub fn same_state(&self, other: &Lua) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

fn join_tb(msg: &str, tb: &str) -> std::string::String {
    if tb.is_empty() {
        msg.to_string()
    } else {
        format!("{msg}\n{tb}")
    }
}

/// Source accepted by [`Lua::load`]: `&str`, `String`, `&[u8]`, `Vec<u8>`.
///
/// ```
/// use rua::AsChunk;
/// let lua = rua::Lua::new();
/// let bytes: &[u8] = b"return 1";
/// assert_eq!(bytes.source().as_ref(), b"return 1");
/// assert_eq!(lua.load(bytes).eval::<i32>().unwrap(), 1);
/// assert_eq!(lua.load(String::from("return 2")).eval::<i32>().unwrap(), 2);
/// ```
pub trait AsChunk<'a> {
    /// The chunk's bytes.
    fn source(self) -> Cow<'a, [u8]>;
}

impl<'a> AsChunk<'a> for &'a str {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl<'a> AsChunk<'a> for std::string::String {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Owned(self.into_bytes())
    }
}

impl<'a> AsChunk<'a> for &'a std::string::String {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl<'a> AsChunk<'a> for &'a [u8] {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<'a, const N: usize> AsChunk<'a> for &'a [u8; N] {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<'a> AsChunk<'a> for Vec<u8> {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Owned(self)
    }
}

/// A chunk being loaded: set its name and environment, then run it or turn it into a
/// [`Function`].
///
/// ```
/// let lua = rua::Lua::new();
/// let env = lua.create_table().unwrap();
/// env.set("x", 5).unwrap();
/// let v: i32 = lua.load("return x * 2").set_environment(env).eval().unwrap();
/// assert_eq!(v, 10);
/// ```
#[must_use = "a chunk does nothing until it is run or turned into a function"]
pub struct Chunk<'a> {
    lua: &'a Lua,
    source: Cow<'a, [u8]>,
    name: Option<std::string::String>,
    env: Option<Table>,
}

impl<'a> Chunk<'a> {
    /// Sets the chunk name used in messages, as `load`'s `chunkname`: `"=name"` shows `name`,
    /// `"@file.lua"` shows the file name, anything else shows `[string "..."]`.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let e = lua.load("error('x')").set_name("=config").exec().unwrap_err();
    /// assert!(e.to_string().contains("config:1: x"));
    /// ```
    pub fn set_name(mut self, name: impl Into<std::string::String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs the chunk with `env` as its `_ENV` instead of the globals.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let env = lua.create_table().unwrap();
    /// lua.load("y = 1").set_environment(env.clone()).exec().unwrap();
    /// assert_eq!(env.get::<i32>("y").unwrap(), 1);
    /// assert!(lua.globals().get::<Option<i32>>("y").unwrap().is_none());
    /// ```
    pub fn set_environment(mut self, env: Table) -> Self {
        self.env = Some(env);
        self
    }

    fn compile(&self, src: &[u8]) -> Result<Function> {
        let lua = self.lua;
        let name = match &self.name {
            Some(n) => n.as_bytes().to_vec(),
            None => self.source.to_vec(),
        };
        let name = if self.name.is_none() && name.first() == Some(&0x1b) {
            b"=?".to_vec()
        } else {
            name
        };
        lua.with_state(|st| {
            let env = match &self.env {
                Some(t) => Some(lua.ref_to_raw(st, &t.0)?),
                None => None,
            };
            match st.load(src, &name, env) {
                Ok(f) => Ok(Function(lua.new_ref(st, f))),
                Err(e) => {
                    let message = e.message();
                    Err(Error::SyntaxError {
                        incomplete_input: message.ends_with("<eof>"),
                        message,
                    })
                }
            }
        })?
    }

    /// Compiles the chunk into a function.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let f = lua.load("return ... + 1").into_function().unwrap();
    /// assert_eq!(f.call::<i32>(1).unwrap(), 2);
    /// ```
    pub fn into_function(self) -> Result<Function> {
        self.compile(&self.source)
    }

    /// Runs the chunk, discarding its results.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.load("x = 1 + 1").exec().unwrap();
    /// assert_eq!(lua.globals().get::<i32>("x").unwrap(), 2);
    /// ```
    pub fn exec(self) -> Result<()> {
        self.into_function()?.call(())
    }

    /// Evaluates the chunk as an expression (`return <chunk>`) if it is one, else runs it as
    /// statements, and converts the results.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(lua.load("1 + 2").eval::<i32>().unwrap(), 3);
    /// assert_eq!(lua.load("local x = 4 return x").eval::<i32>().unwrap(), 4);
    /// ```
    pub fn eval<R: FromLuaMulti>(self) -> Result<R> {
        self.eval_function()?.call(())
    }

    fn eval_function(&self) -> Result<Function> {
        if self.source.first() != Some(&0x1b) {
            let mut expr = b"return ".to_vec();
            expr.extend_from_slice(&self.source);
            if let Ok(f) = self.compile(&expr) {
                return Ok(f);
            }
        }
        self.compile(&self.source)
    }

    /// Runs the chunk as a function with arguments (seen as `...`) and converts its results.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let s: String = lua.load("local a, b = ... return a .. b").call(("x", "y")).unwrap();
    /// assert_eq!(s, "xy");
    /// ```
    pub fn call<R: FromLuaMulti>(self, args: impl IntoLuaMulti) -> Result<R> {
        self.into_function()?.call(args)
    }

    /// Async [`Chunk::exec`]: async host functions called by the chunk may await.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let lua = rua::Lua::new();
    /// lua.load("x = 1").exec_async().await.unwrap();
    /// # }
    /// ```
    #[cfg(feature = "async")]
    pub async fn exec_async(self) -> Result<()> {
        self.into_function()?.call_async(()).await
    }

    /// Async [`Chunk::eval`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let lua = rua::Lua::new();
    /// assert_eq!(lua.load("2 ^ 10").eval_async::<f64>().await.unwrap(), 1024.0);
    /// # }
    /// ```
    #[cfg(feature = "async")]
    pub async fn eval_async<R: FromLuaMulti>(self) -> Result<R> {
        self.eval_function()?.call_async(()).await
    }

    /// Async [`Chunk::call`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let lua = rua::Lua::new();
    /// let v: i32 = lua.load("return (...) * 3").call_async(5).await.unwrap();
    /// assert_eq!(v, 15);
    /// # }
    /// ```
    #[cfg(feature = "async")]
    pub async fn call_async<R: FromLuaMulti>(self, args: impl IntoLuaMulti) -> Result<R> {
        self.into_function()?.call_async(args).await
    }
}
