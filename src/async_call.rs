//! Async host functions and async calls (feature `async`).
//!
//! [`Lua::create_async_function`] makes a host function whose body is a Rust future: calling it
//! suspends only the calling Lua thread (an await frame in the interpreter), wherever the call
//! happens — inside `pcall`, a metamethod, a coroutine, a module's top level run by `require`.
//! [`Function::call_async`] runs a call as an interpreter task (`vm::driver`) on its own Lua
//! thread: each poll borrows the state only while the VM runs and polls the awaited host future
//! with the state released, so many calls of one state await concurrently and host futures may
//! use the state. Dropping the returned future drops the awaited host future immediately and
//! releases the task's thread.
//!
//! The futures are plain `std` futures and `Send` (host futures must be `Send` too), so any
//! executor drives them, including tokio's multi-threaded runtime.

use crate::conversion::{FromLuaMulti, IntoLuaMulti};
use crate::error::{Error, Result};
use crate::function::Function;
use crate::lua::Lua;
use crate::value::MultiValue;
use rua_interp::func::{BoxedNativeFn, NativeClosure, NativeCode};
use rua_interp::vm::driver::{Task, TaskStep};
use rua_interp::vm::native::{Action, Completion, Ctx, HostFuture};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};

/// Receiver of the errors of `__close` handlers run by the cancellation of an async call.
pub(crate) type CancelErrorHandler = Arc<dyn Fn(Error) + Send + Sync>;

impl crate::lua::Inner {
    /// Hands errors raised by `__close` handlers during a cancellation to the handler set
    /// with [`Lua::set_cancel_error_handler`], or writes them to standard error.
    pub(crate) fn report_cancel_errors(&self, messages: Vec<std::string::String>) {
        if messages.is_empty() {
            return;
        }
        let handler = self
            .cancel_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for m in messages {
            let e = Error::RuntimeError(m);
            match &handler {
                Some(h) => h(e),
                None => eprintln!("rua: a __close handler of a cancelled async call failed: {e}"),
            }
        }
    }
}

/// The default fuel of async calls (see [`Lua::set_async_fuel`]).
pub(crate) const DEFAULT_ASYNC_FUEL: u64 = rua_interp::vm::driver::DEFAULT_FUEL;

impl Lua {
    /// Sets how long an async call runs before it lets other tasks of its executor run:
    /// after about `fuel` units of work it returns `Pending` (waking itself at once), so a
    /// busy script cannot starve the other futures on its thread. A unit is a loop iteration,
    /// a function call or a library call; with an instruction or memory limit or a debug hook
    /// in force (where the interpreter counts every instruction anyway) it is one VM
    /// instruction. `None` runs each call until it finishes or awaits a host future.
    ///
    /// The default, 10 000, bounds a slice at roughly 0.1 to 1 ms of work. Slicing costs
    /// nearly nothing: async calls run in the same fast interpreter loop as synchronous ones.
    /// The setting applies to calls started afterwards.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(lua.async_fuel(), Some(10_000));
    /// lua.set_async_fuel(Some(500));
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let n: i64 = rt.block_on(lua.load("local n = 0 for i = 1, 1e5 do n = n + 1 end return n").eval_async()).unwrap();
    /// assert_eq!(n, 100_000);
    /// lua.set_async_fuel(None);
    /// assert_eq!(lua.async_fuel(), None);
    /// ```
    pub fn set_async_fuel(&self, fuel: Option<u64>) {
        let v = fuel.map_or(u64::MAX, |f| f.clamp(1, u64::MAX - 1));
        self.0.async_fuel.store(v, Ordering::Relaxed);
    }

    /// Sets the function that receives the errors raised by `__close` handlers while a
    /// dropped async call is cancelled (its pending to-be-closed variables are closed with the
    /// error `"cancelled"`; a handler that raises has no Lua caller left to catch it). Each
    /// error arrives as [`Error::RuntimeError`] with the error's message. Without a handler
    /// they are written to standard error. The handler may run while the state is in use (a
    /// call dropped during a collection is cancelled on the next entry), so it must not call
    /// into the state.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::sync::{Arc, Mutex};
    /// let lua = rua::Lua::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// lua.set_cancel_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
    /// let wait = lua
    ///     .create_async_function(|_, ()| async { std::future::pending::<rua::Result<()>>().await })
    ///     .unwrap();
    /// lua.globals().set("wait", wait).unwrap();
    /// let f: rua::Function = lua
    ///     .load("return function() local x <close> = setmetatable({}, {__close = function() error('flush failed', 0) end}) wait() end")
    ///     .eval()
    ///     .unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let mut call = Box::pin(f.call_async::<()>(()));
    ///     let p = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    ///     assert!(p.is_pending());
    ///     // `call` is dropped here: the call is cancelled and `x` closed.
    /// });
    /// assert_eq!(*seen.lock().unwrap(), ["runtime error: flush failed"]);
    /// ```
    pub fn set_cancel_error_handler<F: Fn(Error) + Send + Sync + 'static>(&self, handler: F) {
        *self
            .0
            .cancel_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(handler));
    }

    /// The fuel set by [`Lua::set_async_fuel`].
    ///
    /// ```
    /// assert_eq!(rua::Lua::new().async_fuel(), Some(10_000));
    /// ```
    pub fn async_fuel(&self) -> Option<u64> {
        let v = self.0.async_fuel.load(Ordering::Relaxed);
        (v != u64::MAX).then_some(v)
    }

    /// Creates an async host function: `func(lua, args)` returns a future whose output is the
    /// function's results. Call it from Lua code run by an async call
    /// ([`Function::call_async`], [`crate::Chunk::exec_async`], ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// let lua = rua::Lua::new();
    /// let sleep = lua
    ///     .create_async_function(|_, ms: u64| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         Ok(ms * 2)
    ///     })
    ///     .unwrap();
    /// lua.globals().set("sleep", sleep).unwrap();
    /// let v: u64 = lua.load("return sleep(5)").eval_async().await.unwrap();
    /// assert_eq!(v, 10);
    /// # }
    /// ```
    pub fn create_async_function<A, R, F, FR>(&self, func: F) -> Result<Function>
    where
        A: FromLuaMulti,
        R: IntoLuaMulti,
        F: Fn(Lua, A) -> FR + Send + 'static,
        FR: Future<Output = Result<R>> + Send + 'static,
    {
        self.create_async_callback(Box::new(move |lua, args| {
            let a = A::from_lua_args(args, 1, None, &lua);
            match a {
                Ok(a) => {
                    let fut = func(lua.clone(), a);
                    Box::pin(async move {
                        let r = fut.await?;
                        r.into_lua_multi(&lua)
                    })
                }
                Err(e) => Box::pin(std::future::ready(Err(e))),
            }
        }))
    }

    pub(crate) fn create_async_callback(&self, cb: AsyncCallback) -> Result<Function> {
        let weak = self.weak();
        let native: BoxedNativeFn = Box::new(move |ctx: &mut Ctx| {
            let lua = match weak.upgrade() {
                Ok(l) => l,
                Err(_) => return Err(ctx.error("the Lua state is being closed")),
            };
            let args = lua.args_of(ctx);
            let fut = lua.0.lend(ctx.st, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(lua.clone(), args)))
            });
            let fut = match fut {
                Ok(f) => f,
                Err(p) => {
                    let e = lua.panic_to_error(p);
                    return Err(lua.wrap_error(ctx.st, e));
                }
            };
            let host: HostFuture = Box::pin(async move {
                let r = fut.await;
                let done: Completion = Box::new(move |ctx: &mut Ctx| lua.finish_callback(ctx, r));
                done
            });
            Ok(Action::Await(host))
        });
        self.with_state(|st| {
            let f = crate::value::RawValue::NativeFn(st.heap.alloc(NativeClosure {
                code: NativeCode::Boxed(native),
                fast: None,
                name: "?",
                upvals: Box::new([]),
            }));
            Function(self.new_ref(st, f))
        })
    }
}

/// The boxed form of an async host function.
pub(crate) type AsyncCallback =
    Box<dyn Fn(Lua, MultiValue) -> Pin<Box<dyn Future<Output = Result<MultiValue>> + Send>> + Send>;

impl Function {
    /// Calls the function as an async task: async host functions it reaches may await. The
    /// call starts when the future is first polled; dropping the future cancels it (the host
    /// future it awaits is dropped at once).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let lua = rua::Lua::new();
    /// let f: rua::Function = lua.load("function(x) return x + 1 end").eval().unwrap();
    /// assert_eq!(f.call_async::<i32>(1).await.unwrap(), 2);
    /// # }
    /// ```
    pub fn call_async<R: FromLuaMulti>(
        &self,
        args: impl IntoLuaMulti,
    ) -> impl Future<Output = Result<R>> + Send + 'static {
        let prepared = self.0.lua().and_then(|lua| {
            let args = args.into_lua_multi(&lua)?;
            let call = AsyncCall::start(&lua, self, args)?;
            Ok((lua, call))
        });
        async move {
            let (lua, call) = prepared?;
            let results = call.await?;
            R::from_lua_multi(results, &lua)
        }
    }
}

/// A running async call: an interpreter task plus the host future it awaits.
pub(crate) struct AsyncCall {
    lua: Lua,
    task: Option<Task>,
    pending: Option<HostFuture>,
}

// SAFETY: `lua` is `Send`, and `pending` is a `HostFuture` (`Send`). The `Task` holds
// `Gc<Thread>` pointers into the state plus `Send` host futures and completions; the pointers
// are dereferenced only by `State::resume_task` / `State::cancel_task`, which this module
// calls inside `Lua::with_state` (the state's lock held by the polling thread) or hands,
// still unused, to the state's own queue (`Inner::defer_cancel`). So polling or dropping the
// call on another thread touches the state only under its lock.
unsafe impl Send for AsyncCall {}

impl AsyncCall {
    pub(crate) fn start(lua: &Lua, f: &Function, args: MultiValue) -> Result<AsyncCall> {
        let task = lua.with_state(|st| -> Result<Task> {
            let fv = lua.ref_to_raw(st, &f.0)?;
            let h = &lua.0.helpers();
            let mut all = Vec::with_capacity(args.len() + 2);
            all.push(fv);
            all.push(h.handler);
            for a in args.iter() {
                all.push(lua.value_to_raw(st, a)?);
            }
            let mut task = st.spawn_task(h.trampoline, &all);
            task.set_fuel(lua.async_fuel());
            Ok(task)
        })??;
        Ok(AsyncCall {
            lua: lua.clone(),
            task: Some(task),
            pending: None,
        })
    }
}

impl Future for AsyncCall {
    type Output = Result<MultiValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if let Some(fut) = this.pending.as_mut() {
                match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(c) => {
                        this.pending = None;
                        if let Some(t) = this.task.as_mut() {
                            t.set_completion(c);
                        }
                    }
                }
            }
            let Some(task) = this.task.as_mut() else {
                return Poll::Ready(Err(Error::runtime("async call polled after completion")));
            };
            let lua = &this.lua;
            let step = lua.with_state(|st| match st.resume_task(task) {
                TaskStep::Done(Ok(vals)) => Ok(Ok(vals
                    .into_iter()
                    .map(|v| lua.raw_to_value(st, v))
                    .collect::<MultiValue>())),
                TaskStep::Done(Err(e)) => Ok(Err(lua.convert_error(st, e))),
                TaskStep::Pending(f) => Err(Some(f)),
                TaskStep::Preempted => Err(None),
            });
            match step {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(Ok(done)) => {
                    this.task = None;
                    lua.resume_pending_panic();
                    return Poll::Ready(done);
                }
                Ok(Err(Some(f))) => this.pending = Some(f),
                Ok(Err(None)) => {
                    // The fuel slice ran out: let the executor run other tasks first.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for AsyncCall {
    fn drop(&mut self) {
        // The host future goes first (dropping it must not wait for anything).
        self.pending = None;
        if let Some(mut task) = self.task.take() {
            match self.lua.with_state(|st| st.cancel_task(&mut task)) {
                Ok(errors) => self.lua.0.report_cancel_errors(errors),
                // The state is busy (dropped from inside a collection): cancel on next entry.
                Err(_) => self.lua.0.defer_cancel(task),
            }
        }
    }
}
