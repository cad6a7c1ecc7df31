//! Running Lua calls as futures, so that Lua threads can await async host functions.
//!
//! A [`Task`] owns a fresh Lua thread running one call. [`TaskFuture`] polls it: it borrows the
//! state only while the VM runs, and polls an awaited host future with the state *not*
//! borrowed, so the future may itself use the state and many tasks of one state can await
//! concurrently. A coroutine resumed inside a task that awaits makes the whole task pending.
//!
//! Each resumption runs for a bounded slice of work ([`Task::set_fuel`], by default
//! [`DEFAULT_FUEL`]); when the slice runs out the task is suspended ([`TaskStep::Preempted`])
//! and its future wakes itself and returns `Pending`, so a busy script cannot starve the other
//! tasks of its executor. The fast loop counts the slice in loop back-edges and calls; with an
//! instruction or memory limit (or a debug hook) the hooked loop counts instructions (see
//! `vm::limits`).

use crate::thread::{Thread, ThreadStatus};
use crate::value::Value;
use crate::vm::exec::{Flow, RunExit};
use crate::vm::native::{Completion, Ctx, HostFuture};
use crate::vm::{LuaResult, State};
use rua_gc::Gc;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The error value the threads of a cancelled task die with.
pub const CANCELLED_MSG: &str = "cancelled";

/// Fuel of a task's resumption unless told otherwise: units of loop back-edges, calls and
/// library calls (instructions under limits), see [`State::begin_slice`].
pub const DEFAULT_FUEL: u64 = 10_000;

/// One call running on its own Lua thread.
pub struct Task {
    thread: Gc<Thread>,
    started: bool,
    /// Thread that was running when the task suspended on an await or was preempted.
    awaiting: Option<Gc<Thread>>,
    /// Instructions per resumption (`None`: run until the call finishes or awaits).
    fuel: Option<u64>,
    pending: Option<HostFuture>,
    completion: Option<Completion>,
    done: bool,
}

impl Task {
    /// Hands the task the completion of the host future it awaited, before the next
    /// [`State::resume_task`] (for drivers other than [`TaskFuture`], such as the embedding
    /// API's, which poll the host future themselves).
    pub fn set_completion(&mut self, c: Completion) {
        self.completion = Some(c);
    }

    /// Sets the fuel of each resumption (`None`: no preemption).
    pub fn set_fuel(&mut self, fuel: Option<u64>) {
        self.fuel = fuel;
    }
}

/// Outcome of running a task for a while.
pub enum TaskStep {
    Done(LuaResult<Vec<Value>>),
    Pending(HostFuture),
    /// The fuel slice ran out: resume again (after letting other tasks run).
    Preempted,
}

impl State {
    /// Creates a task that will call `f(args...)`.
    pub fn spawn_task(&mut self, f: Value, args: &[Value]) -> Task {
        let th = self.heap.alloc(Thread::new());
        th.data().hook = self.current.data().hook.inherited();
        {
            let d = th.data();
            d.stack.push(f);
            d.stack.extend_from_slice(args);
            d.status = ThreadStatus::Running;
        }
        self.task_threads.push(th);
        Task {
            thread: th,
            started: false,
            awaiting: None,
            fuel: Some(DEFAULT_FUEL),
            pending: None,
            completion: None,
            done: false,
        }
    }

    /// Runs `task` until it finishes or awaits a host future.
    pub fn resume_task(&mut self, task: &mut Task) -> TaskStep {
        let prev = self.current;
        let prev_async = self.in_async;
        self.in_async = true;
        let th = task.thread;
        let cur = task.awaiting.take().unwrap_or(th);
        // Set by a preemption to keep the suspended stack alive (see `Flow::Preempt`).
        cur.data().gc_top = None;
        // Set the running thread first: the slice's hook mask is computed for it.
        self.set_current(cur);
        let slice = task.fuel.map(|f| self.begin_slice(f));
        let r = if !task.started {
            task.started = true;
            self.run_call(0, -1)
        } else if let Some(completion) = task.completion.take() {
            let flow = self.apply_completion(completion);
            let flow = match flow {
                Ok(f) => Ok(f),
                Err(e) => self.throw(e, th, 0),
            };
            match flow {
                Ok(Flow::Continue) => self.run(th, 0),
                Ok(Flow::Exit(n)) => Ok(RunExit::Done(n)),
                Ok(Flow::Await(f)) => Ok(RunExit::Await(f)),
                Ok(Flow::Preempt) => Ok(RunExit::Preempt),
                Err(e) => Err(e),
            }
        } else {
            // Preempted last time: continue where the loop stopped.
            self.run(th, 0)
        };
        if let Some(saved) = slice {
            self.end_slice(saved);
        }
        let step = match r {
            Ok(RunExit::Done(n)) => {
                let vals = th.data().stack[..n].to_vec();
                TaskStep::Done(Ok(vals))
            }
            Ok(RunExit::Await(f)) => {
                task.awaiting = Some(self.current);
                TaskStep::Pending(f)
            }
            Ok(RunExit::Preempt) => {
                task.awaiting = Some(self.current);
                TaskStep::Preempted
            }
            Err(e) => TaskStep::Done(Err(e)),
        };
        if let TaskStep::Done(_) = step {
            task.done = true;
            self.finish_task(th);
        }
        self.set_current(prev);
        self.in_async = prev_async;
        step
    }

    fn apply_completion(&mut self, c: Completion) -> LuaResult<Flow> {
        let d = self.current.data();
        let fr = *d.frames.last().expect("awaiting native frame");
        let nargs = d.stack.len() - fr.base;
        let action = {
            let mut ctx = Ctx {
                st: self,
                base: fr.base,
                nargs,
            };
            c(&mut ctx)?
        };
        self.handle_action(action)
    }

    fn finish_task(&mut self, th: Gc<Thread>) {
        th.data().status = ThreadStatus::Dead;
        th.data().close_upvals(0);
        self.task_threads.retain(|t| !Gc::ptr_eq(*t, th));
    }

    /// Cancels a task that will not be polled again (its future was dropped): the host future
    /// it awaited (if still held) is dropped, then every thread of the task, from the one that
    /// suspended back through its resumers to the task's own thread, closes its upvalues and
    /// runs its pending `__close` handlers with the error [`CANCELLED_MSG`], and dies with
    /// that error; the task's thread is released. Handlers run as nested calls: an await in
    /// them fails. The messages of errors raised by the handlers (the last one of each thread,
    /// as a failing handler's error replaces the error passed to the next handler) are
    /// returned, innermost thread first, for the host to report: nobody in Lua is left to
    /// receive them.
    pub fn cancel_task(&mut self, task: &mut Task) -> Vec<String> {
        let mut errors = Vec::new();
        if task.done {
            return errors;
        }
        task.done = true;
        task.pending = None;
        task.completion = None;
        let th = task.thread;
        let mut chain = Vec::new();
        if task.started {
            let mut t = task.awaiting.take().unwrap_or(th);
            loop {
                chain.push(t);
                if Gc::ptr_eq(t, th) {
                    break;
                }
                match t.data().resumer {
                    Some(r) => t = r,
                    None => {
                        // Not reached from the task's thread (cannot happen): still close it.
                        chain.push(th);
                        break;
                    }
                }
            }
        }
        let prev = self.current;
        let prev_async = self.in_async;
        self.in_async = false;
        // Innermost first. Each outer thread stays intact (and keeps the inner ones reachable
        // from its stack) until its own turn.
        for &t in &chain {
            self.set_current(t);
            t.data().gc_top = None;
            t.data().status = ThreadStatus::Running;
            // (Rooted by `close_for_error` while handlers run, then by the thread.)
            let mut e = self.error_str(CANCELLED_MSG);
            let cancelled = e.value();
            self.close_for_error(t, 0, &mut e);
            if !e.value().raw_eq(&cancelled) {
                errors.push(e.message());
            }
            let d = t.data();
            d.clear_frames();
            d.stack.clear();
            d.tbc.clear();
            d.close_upvals(0);
            d.status = ThreadStatus::Dead;
            d.resumer = None;
            d.nny = 0;
            d.resume_depth = 0;
            d.error = Some(e.value());
        }
        self.set_current(prev);
        self.in_async = prev_async;
        th.data().clear_frames();
        th.data().stack.clear();
        self.finish_task(th);
        errors
    }
}

/// A future running a Lua call on a shared state.
pub struct TaskFuture {
    state: Rc<RefCell<State>>,
    task: Task,
}

impl TaskFuture {
    /// Starts `f(args...)` as a task of `state`.
    pub fn new(state: Rc<RefCell<State>>, f: Value, args: &[Value]) -> TaskFuture {
        let task = state.borrow_mut().spawn_task(f, args);
        TaskFuture { state, task }
    }
}

impl Future for TaskFuture {
    type Output = LuaResult<Vec<Value>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if let Some(fut) = this.task.pending.as_mut() {
                match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(c) => {
                        this.task.pending = None;
                        this.task.completion = Some(c);
                    }
                }
            }
            let step = this.state.borrow_mut().resume_task(&mut this.task);
            match step {
                TaskStep::Done(r) => return Poll::Ready(r),
                TaskStep::Pending(f) => this.task.pending = Some(f),
                TaskStep::Preempted => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for TaskFuture {
    fn drop(&mut self) {
        // Drop the host future first, then release the thread.
        self.task.pending = None;
        if let Ok(mut st) = self.state.try_borrow_mut() {
            // (This executor-agnostic future has no one to report handler errors to.)
            let _ = st.cancel_task(&mut self.task);
        }
    }
}
