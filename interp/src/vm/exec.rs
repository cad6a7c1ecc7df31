//! The stackless dispatch loop: bytecode execution, calls and returns, native actions,
//! coroutine switching and error unwinding.
//!
//! A Lua→Lua call pushes a [`Frame`] and continues in the same loop; returning pops it. Natives
//! run to completion when called, or hand back an [`Action`] (call with continuation, yield,
//! resume, await) that the loop carries out, so no Lua call recurses on the Rust stack except
//! through [`State::call_value`] (a nested run, used where a continuation is impractical).
//!
//! Register access uses a raw pointer to the current thread's stack. Invariant: while a Lua
//! frame executes, `stack.len() >= base + max_stack` and every register operand of the
//! function's code is `< max_stack` (guaranteed by the compiler, and for binary chunks by the
//! verifier in [`crate::dump`], which checks every invariant of compiled code this loop uses);
//! the pointer is re-derived after every operation that can resize the stack (calls,
//! metamethods, allocation of stack slots).

use crate::func::{LuaClosure, NativeCode};
use crate::number::{float_ceil_to_int, float_floor_to_int};
use crate::opcode::{Instr, OpCode};
use crate::thread::{Thread, ThreadStatus};
use crate::value::Value;
use crate::vm::debughook::{untraced, HOOK_CALL, HOOK_COUNT, HOOK_LIMIT, HOOK_LINE, HOOK_RET};
use crate::vm::frame::{Frame, FrameKind, RetMode};
use crate::vm::meta::{arith_numbers, shift_left, ArOp, Outcome};
use crate::vm::native::{Action, CallStatus, Catch, Ctx, HostFuture};
use crate::vm::{ErrorKind, LuaError, LuaResult, StackLimits, State, Tm, MAX_C_DEPTH};
use rua_gc::Gc;

/// What the loop should do after an operation.
pub enum Flow {
    /// Keep executing the top frame of the current thread.
    Continue,
    /// The `Base` frame of this run returned `n` results (at its `func` slot).
    Exit(usize),
    /// A native awaits a host future; the run is suspended.
    Await(HostFuture),
    /// The fuel slice of an async task ran out at the task's own level of the loop; the run
    /// is suspended with the top frame's pc at the next instruction (see `vm::limits`).
    Preempt,
}

/// How a run of the loop ended.
pub enum RunExit {
    Done(usize),
    Await(HostFuture),
    /// The fuel slice ran out; run the loop again to continue.
    Preempt,
}

impl State {
    /// Calls `f` with `args` in a nested run and returns its results (all of them when
    /// `nresults < 0`). Yields cannot cross this call.
    pub fn call_value(&mut self, f: Value, args: &[Value], nresults: i32) -> LuaResult<Vec<Value>> {
        self.nested_call(f, args, nresults, RetMode::Base)
    }

    fn nested_call(
        &mut self,
        f: Value,
        args: &[Value],
        nresults: i32,
        mode: RetMode,
    ) -> LuaResult<Vec<Value>> {
        let (func, n) = self.nested_run(f, args, nresults, mode)?;
        let d = self.current.data();
        let res = d.stack[func..func + n].to_vec();
        d.stack.truncate(func);
        Ok(res)
    }

    /// Calls `f` with `args` in a nested run (no yields across it, C-stack depth counted) and
    /// leaves its `n` results at `stack[func..func + n]` of the current thread, returning
    /// `(func, n)`: the caller takes what it needs and truncates the stack to `func`.
    #[inline]
    pub(crate) fn nested_run(
        &mut self,
        f: Value,
        args: &[Value],
        nresults: i32,
        mode: RetMode,
    ) -> LuaResult<(usize, usize)> {
        if self.c_depth >= MAX_C_DEPTH {
            return Err(self.rt_error("C stack overflow"));
        }
        let th = self.current;
        let func = {
            let d = th.data();
            let func = d.stack.len();
            d.stack.push(f);
            d.stack.extend_from_slice(args);
            func
        };
        self.c_depth += 1;
        th.data().nny += 1;
        // The interrupted code may sit between a multi-result producer and its consumer
        // (a finalizer or hook running at that point): keep its `top`.
        let saved_top = th.data().top;
        let r = match self.run_call_with(func, nresults, mode) {
            Ok(RunExit::Done(n)) => Ok(n),
            Ok(RunExit::Await(_)) => unreachable!("awaits are refused in nested runs"),
            Ok(RunExit::Preempt) => unreachable!("nested runs are not preempted"),
            Err(e) => Err(e),
        };
        th.data().nny -= 1;
        self.c_depth -= 1;
        th.data().top = saved_top;
        Ok((func, r?))
    }

    /// Calls the function at `stack[func]` with the values above it as arguments, running to
    /// completion on the current thread. Results are left at `stack[func..func + n]`.
    pub fn call_at(&mut self, func: usize, nresults: i32) -> LuaResult<usize> {
        match self.run_call_with(func, nresults, RetMode::Base)? {
            RunExit::Done(n) => Ok(n),
            RunExit::Await(_) => unreachable!("awaits are refused in nested runs"),
            RunExit::Preempt => unreachable!("nested runs are not preempted"),
        }
    }

    /// Like [`State::call_value`], for a caller that handles the error itself (as `lua_pcall`
    /// without a message handler): an enclosing `xpcall`'s handler does not see the error.
    pub fn call_value_protected(
        &mut self,
        f: Value,
        args: &[Value],
        nresults: i32,
    ) -> LuaResult<Vec<Value>> {
        self.nested_call(f, args, nresults, RetMode::ProtectedBase)
    }

    /// Starts a call and runs the loop until it finishes or awaits.
    pub(crate) fn run_call(&mut self, func: usize, nresults: i32) -> LuaResult<RunExit> {
        self.run_call_with(func, nresults, RetMode::Base)
    }

    fn run_call_with(&mut self, func: usize, nresults: i32, mode: RetMode) -> LuaResult<RunExit> {
        let base_thread = self.current;
        let base_depth = base_thread.data().frames.len();
        let first = self.precall(func, nresults, mode, false);
        let flow = match first {
            Ok(f) => f,
            Err(e) => self.throw(e, base_thread, base_depth)?,
        };
        match flow {
            Flow::Exit(n) => Ok(RunExit::Done(n)),
            Flow::Await(f) => Ok(RunExit::Await(f)),
            Flow::Preempt => Ok(RunExit::Preempt),
            Flow::Continue => self.run(base_thread, base_depth),
        }
    }

    /// Runs the loop until the base frame returns, handling errors.
    pub(crate) fn run(&mut self, base_thread: Gc<Thread>, base_depth: usize) -> LuaResult<RunExit> {
        loop {
            let r = self.execute();
            let flow = match r {
                Ok(f) => f,
                Err(e) => self.throw(e, base_thread, base_depth)?,
            };
            match flow {
                Flow::Continue => continue,
                Flow::Exit(n) => return Ok(RunExit::Done(n)),
                Flow::Await(f) => return Ok(RunExit::Await(f)),
                Flow::Preempt => return Ok(RunExit::Preempt),
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Calls

    /// Prepares a call of `stack[func]` with the values above it (`stack.len() - func - 1`
    /// arguments). A Lua callee gets a frame (→ `Continue`); a native runs now.
    pub(crate) fn precall(
        &mut self,
        func: usize,
        nresults: i32,
        ret: RetMode,
        tail: bool,
    ) -> LuaResult<Flow> {
        let th = self.current;
        let mut f = th.data().stack[func];
        // Resolve __call chains.
        let mut guard = 0;
        while !f.is_function() {
            let tm = self.get_tm(f, Tm::Call);
            if tm.is_nil() || guard > 100 {
                return Err(self.call_error(f, func));
            }
            th.data().stack.insert(func, tm);
            f = tm;
            guard += 1;
        }
        match f {
            Value::LuaFn(cl) => {
                let d = th.data();
                let nargs = d.stack.len() - func - 1;
                let fp = cl.proto;
                let np = fp.num_params as usize;
                let max = fp.max_stack as usize;
                let mut base = func + 1;
                let mut nextra = 0;
                if fp.is_vararg {
                    nextra = nargs.saturating_sub(np);
                    let newfunc = func + 1 + nargs;
                    if newfunc + 1 + max >= self.limits.stack {
                        return Err(self.rt_error("stack overflow"));
                    }
                    d.ensure_len(newfunc + 1 + max);
                    d.stack[newfunc] = f;
                    for i in 0..np {
                        let v = if i < nargs {
                            std::mem::take(&mut d.stack[func + 1 + i])
                        } else {
                            Value::Nil
                        };
                        d.stack[newfunc + 1 + i] = v;
                    }
                    base = newfunc + 1;
                } else {
                    if base + max >= self.limits.stack {
                        return Err(self.rt_error("stack overflow"));
                    }
                    // Missing parameters become nil; other slots above may hold stale values,
                    // which compiled code always overwrites before reading.
                    d.ensure_len(base + max);
                    for i in nargs..np {
                        d.stack[base + i] = Value::Nil;
                    }
                }
                if d.frames.len() >= self.limits.frames {
                    return Err(self.rt_error("stack overflow"));
                }
                d.frames.push(Frame::lua(
                    func,
                    base,
                    base + max,
                    nresults,
                    ret,
                    cl,
                    // (Below the stack limit, checked above.)
                    nextra as u32,
                    tail,
                ));
                if self.hook_mask & HOOK_CALL != 0 {
                    let event = if tail { "tail call" } else { "call" };
                    self.run_hook_transfer(event, 1, np)?;
                }
                Ok(Flow::Continue)
            }
            Value::NativeFn(ncl) => {
                let d = th.data();
                if d.frames.len() >= self.limits.frames {
                    return Err(self.rt_error("stack overflow"));
                }
                d.frames.push(Frame::native(func, nresults, ret, ncl, tail));
                let nargs = d.stack.len() - func - 1;
                if self.hook_mask & HOOK_CALL != 0 {
                    self.run_hook_transfer("call", 1, nargs)?;
                }
                let action = {
                    let mut ctx = Ctx {
                        st: self,
                        base: func + 1,
                        nargs,
                    };
                    match &ncl.code {
                        NativeCode::Fn(nf) => nf(&mut ctx)?,
                        NativeCode::Boxed(bf) => bf(&mut ctx)?,
                    }
                };
                self.handle_action(action)
            }
            _ => unreachable!(),
        }
    }

    #[cold]
    #[inline(never)]
    fn call_error(&mut self, f: Value, func: usize) -> LuaError {
        // Name the callee from the calling instruction when it is a Lua frame.
        let mut info = String::new();
        if let Some(fr) = self.current.data().frames.last() {
            if let FrameKind::Lua { cl, .. } = fr.kind {
                let p = &cl.proto.proto;
                let i = p.code[(fr.pc as usize).saturating_sub(1)];
                // CALL/TAILCALL name their own callee; any other instruction calling
                // something is calling one of its metamethods.
                let own_callee = match i.opcode() {
                    Some(OpCode::Call | OpCode::TailCall) => fr.base + i.a() == func,
                    _ => true,
                };
                if own_callee {
                    if let Some((kind, name)) =
                        super::debuginfo::func_name_from_call(p, (fr.pc as usize).saturating_sub(1))
                    {
                        info = format!(" ({} '{}')", kind, name);
                    }
                }
            }
        }
        self.type_error_msg(f, "call", info)
    }

    /// Carries out the action returned by the native in the top frame.
    ///
    /// A native that calls a native callee (say `table.sort` with a Rust comparator) gets its
    /// continuation run as soon as the callee returns, which would nest one Rust call level per
    /// callee. Instead, the continuation's next action is handed back to the `Call` arm here
    /// (`cont_next`) and carried out by its loop, so any number of such calls runs in constant
    /// Rust stack.
    pub(crate) fn handle_action(&mut self, mut action: Action) -> LuaResult<Flow> {
        loop {
            let Action::Call {
                nargs,
                nresults,
                cont,
            } = action
            else {
                return self.handle_other_action(action);
            };
            let th = self.current;
            let d = th.data();
            if self.c_depth + d.conts.len() as u32 + d.resume_depth >= MAX_C_DEPTH {
                return Err(self.rt_error("C stack overflow"));
            }
            let func = d.stack.len() - nargs - 1;
            let nframes = d.frames.len();
            let fr = d.frames.last_mut().unwrap();
            fr.aux = func;
            d.conts.push((nframes - 1, cont));
            self.c_depth += 1;
            let saved = self
                .cont_tramp
                .replace((th.as_ptr() as usize, self.c_depth, nframes));
            let r = self.precall(func, nresults, RetMode::Cont, false);
            self.cont_tramp = saved;
            self.c_depth -= 1;
            match self.cont_next.take() {
                Some(next) if r.is_ok() => action = next,
                _ => return r,
            }
        }
    }

    /// [`State::handle_action`] for the actions other than `Call`.
    fn handle_other_action(&mut self, action: Action) -> LuaResult<Flow> {
        match action {
            Action::Call { .. } => self.handle_action(action),
            Action::Return(n) => {
                let len = self.current.data().stack.len();
                self.post_call(len - n, n)
            }
            Action::TailCall { nargs } => {
                let d = self.current.data();
                let fr = d.frames.pop().unwrap();
                let src = d.stack.len() - nargs - 1;
                d.stack.copy_within(src.., fr.func);
                d.stack.truncate(fr.func + nargs + 1);
                self.precall(fr.func, fr.nresults, fr.ret, true)
            }
            Action::Yield(n) => self.do_yield(n),
            Action::Resume { co, nargs, kind } => self.do_resume(co, nargs, kind),
            Action::Await(fut) => {
                let d = self.current.data();
                if d.nny > 0 || !self.in_async {
                    return Err(self.error_str(
                        "attempt to await an async host function outside of an async call \
                         (or across a C-call boundary)",
                    ));
                }
                Ok(Flow::Await(fut))
            }
        }
    }

    /// Returns from the top frame: its `n` results are at `stack[src..src + n]`.
    pub(crate) fn post_call(&mut self, src: usize, n: usize) -> LuaResult<Flow> {
        if self.hook_mask & HOOK_RET != 0 {
            let base = self.current.data().frames.last().map_or(src, |f| f.base);
            self.run_hook_transfer("return", src + 1 - base.min(src + 1), n)?;
        }
        let th = self.current;
        let d = th.data();
        let fr = d.frames.pop().unwrap();
        let dst = fr.func;
        let wanted = fr.nresults;
        let count = if wanted < 0 { n } else { wanted as usize };
        if src != dst {
            d.stack.copy_within(src..src + n.min(count), dst);
        }
        let end = dst + count;
        if d.stack.len() < end {
            d.ensure_len(end);
        }
        for i in n..count {
            d.stack[dst + i] = Value::Nil;
        }
        match fr.ret {
            RetMode::Normal => {
                d.top = end;
                if let Some(caller) = d.frames.last() {
                    if d.stack.len() < caller.top {
                        d.ensure_len(caller.top);
                    }
                }
                Ok(Flow::Continue)
            }
            RetMode::FinishOp => {
                let v = if count > 0 { d.stack[dst] } else { Value::Nil };
                self.finish_op(v)?;
                Ok(Flow::Continue)
            }
            RetMode::Base | RetMode::ProtectedBase => {
                d.stack.truncate(end);
                Ok(Flow::Exit(count))
            }
            RetMode::Cont => {
                d.stack.truncate(end);
                let caller = d.frames.last().unwrap();
                let base = caller.base;
                let nargs = caller.aux.saturating_sub(base);
                let (at, cont) = d
                    .conts
                    .pop()
                    .expect("a Cont return goes to a waiting native");
                debug_assert_eq!(at, d.frames.len() - 1, "continuation of the caller");
                let action = {
                    let mut ctx = Ctx {
                        st: self,
                        base,
                        nargs,
                    };
                    (cont.f)(&mut ctx, CallStatus::Ok(count), cont.data)?
                };
                // Called synchronously from the `Call` of this very frame (a native callee):
                // let that loop carry on rather than nesting.
                let here = (th.as_ptr() as usize, self.c_depth, th.data().frames.len());
                if self.cont_tramp == Some(here) {
                    self.cont_next = Some(action);
                    return Ok(Flow::Continue);
                }
                self.handle_action(action)
            }
            RetMode::CloseErr => {
                d.stack.truncate(dst);
                let e = d
                    .close_errors
                    .pop()
                    .expect("a recovered error per CloseErr frame");
                self.close_err_step(e)
            }
            RetMode::CoBase => {
                d.stack.truncate(end);
                self.coroutine_returned(th, dst)
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Errors

    /// Unwinds the current thread after an error until a catching native frame (pcall) or the
    /// run's base frame. Coroutines that die pass the error to their resumer.
    pub(crate) fn throw(
        &mut self,
        mut e: LuaError,
        base_thread: Gc<Thread>,
        base_depth: usize,
    ) -> LuaResult<Flow> {
        loop {
            // Runs once per error, in the thread where its xpcall is (errors re-raised by
            // coroutine.wrap reach it here after crossing threads).
            self.apply_message_handler(&mut e);
            let th = self.current;
            let limit = if Gc::ptr_eq(th, base_thread) {
                base_depth
            } else {
                0
            };
            if let Some(idx) = self.catching_frame(th, limit, &e) {
                // Unwind to the catching frame; it closes the pending to-be-closed variables
                // as part of the loop (their handlers may yield), then gets the error.
                let d = th.data();
                while d.frames.len() > idx + 1 {
                    d.pop_frame();
                }
                let live = d
                    .frames
                    .iter()
                    .filter(|f| f.ret == RetMode::CloseErr)
                    .count();
                d.close_errors.truncate(live);
                return match self.close_err_step(e) {
                    Ok(flow) => Ok(flow),
                    Err(e2) => self.throw(e2, base_thread, base_depth),
                };
            }
            if self.keeps_frames_on_death(th, limit, &e) {
                // As PUC: the coroutine dies with its frames in place, so `debug.traceback`,
                // `debug.getinfo` and `debug.getlocal` can still inspect them; its pending
                // to-be-closed variables wait for `coroutine.close`, which also clears the
                // stack. The frames, stack and open upvalues stay rooted through the thread.
                let d = th.data();
                d.status = ThreadStatus::Dead;
                d.error = Some(e.value());
                d.gc_top = None;
                let keep = d.stack.len();
                match self.deliver_to_resumer(th, keep, keep, Some(e)) {
                    Ok(flow) => return Ok(flow),
                    Err(e2) => {
                        e = e2;
                        continue;
                    }
                }
            }
            loop {
                let d = th.data();
                if d.frames.len() <= limit {
                    return Err(e);
                }
                let f = d.pop_frame().unwrap();
                let level = if f.is_lua() { f.base } else { f.func + 1 };
                self.close_for_error(th, level.min(th.data().stack.len()), &mut e);
                match f.ret {
                    RetMode::Base | RetMode::ProtectedBase => {
                        th.data().stack.truncate(f.func);
                        return Err(e);
                    }
                    RetMode::CoBase => break,
                    _ => {}
                }
            }
            // The coroutine `th` died with an error.
            let d = th.data();
            d.status = ThreadStatus::Dead;
            d.error = Some(e.value());
            d.stack.clear();
            match self.deliver_to_resumer(th, 0, 0, Some(e)) {
                Ok(flow) => return Ok(flow),
                Err(e2) => {
                    e = e2;
                    continue;
                }
            }
        }
    }

    /// Whether an uncaught error `e` in thread `th` kills a coroutine that keeps its frames
    /// for inspection (PUC's behaviour when `coroutine.resume` receives the error): the
    /// unwinding above `limit` reaches the coroutine's body frame before any base frame of a
    /// nested run, the error is catchable (an instruction-limit error unwinds and closes at
    /// once, as documented for `ErrorKind::InstructionLimit`), and the resumer is not
    /// `coroutine.wrap`, which closes the coroutine right away and so unwinds it here.
    fn keeps_frames_on_death(&self, th: Gc<Thread>, limit: usize, e: &LuaError) -> bool {
        if e.is_uncatchable() {
            return false;
        }
        let d = th.data();
        let reaches_body = d.frames[limit.min(d.frames.len())..]
            .iter()
            .rev()
            .find(|f| {
                matches!(
                    f.ret,
                    RetMode::Base | RetMode::ProtectedBase | RetMode::CoBase
                )
            })
            .is_some_and(|f| f.ret == RetMode::CoBase);
        if !reaches_body {
            return false;
        }
        let wrap = d.resumer.is_some_and(|r| {
            matches!(
                r.data().frames.last().map(|f| f.kind),
                Some(FrameKind::Native {
                    resume: Some(crate::vm::frame::ResumeKind::Wrap),
                    ..
                })
            )
        });
        !wrap
    }

    /// Runs the message handler of the nearest `xpcall`, if that is where the error will be
    /// caught, with the erroring frames still on the stack. As in PUC Lua the search crosses
    /// nested runs (natives calling Lua) but not coroutine boundaries, and a handler runs once
    /// per error.
    fn apply_message_handler(&mut self, e: &mut LuaError) {
        // No handler runs for memory errors (as PUC) or for errors no one may catch.
        if e.handled() || e.kind() != ErrorKind::Runtime {
            return;
        }
        if self.in_msg_handler {
            // An error inside a message handler is not handled again (PUC reports such
            // errors as "error in error handling").
            e.set_handled();
            return;
        }
        let th = self.current;
        let d = th.data();
        let mut handler = None;
        for (idx, f) in d.frames.iter().enumerate().rev() {
            if let Some(c) = d.cont_of(idx) {
                match c.catch {
                    Catch::No => {}
                    Catch::Yes => break,
                    Catch::WithHandler => {
                        handler = Some(d.stack[f.base + 1]);
                        break;
                    }
                }
            }
            if matches!(f.ret, RetMode::CoBase | RetMode::ProtectedBase) {
                break;
            }
        }
        if let Some(h) = handler {
            e.set_handled();
            // Like PUC's extra stack space for error handling: a handler may run even when
            // the error was a stack overflow.
            let saved = self.limits;
            self.limits = StackLimits::relaxed();
            if self.c_depth >= MAX_C_DEPTH {
                let m = self.error_str("error in error handling");
                e.set_value(m.value());
                return;
            }
            self.in_msg_handler = true;
            let r = self.call_value(h, &[e.value()], 1);
            self.in_msg_handler = false;
            match r {
                Ok(r) => e.set_value(r.first().copied().unwrap_or(Value::Nil)),
                Err(_) => {
                    let m = self.error_str("error in error handling");
                    e.set_value(m.value());
                }
            }
            self.limits = saved;
        }
    }

    /// Closes upvalues and calls pending `__close` handlers at stack level `>= level` after an
    /// error. Each handler receives the current error; an error raised by a handler replaces
    /// it. The error value is rooted while handlers run (they may collect garbage).
    pub(crate) fn close_for_error(&mut self, th: Gc<Thread>, level: usize, e: &mut LuaError) {
        th.data().close_upvals(level);
        while let Some(&slot) = th.data().tbc.last() {
            if slot < level {
                break;
            }
            th.data().tbc.pop();
            // (A binary chunk's call may have truncated the stack below the slot.)
            let v = th.data().stack.get(slot).copied().unwrap_or(Value::Nil);
            let tm = self.get_tm(v, Tm::Close);
            if !self.is_callable(tm) {
                let t = self.type_name_for_msg(tm);
                *e = self.error_str(&format!("attempt to call a {} value", t));
            } else {
                let slot = self.roots.len();
                self.roots.push(e.value());
                let r = self.call_value(tm, &[v, e.value()], 0);
                // The handler may have rooted values of its own above ours (an embedder's
                // root slots): only pop our slot if it is still the last one.
                if self.roots.len() == slot + 1 {
                    self.roots.pop();
                } else {
                    self.roots[slot] = Value::Nil;
                }
                match r {
                    // An uncatchable error is never replaced by a handler's error.
                    Err(e2) if !e.is_uncatchable() => *e = e2,
                    _ => {}
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Metamethod calls from instructions

    /// Calls metamethod `tm(a, b[, c])` for the current instruction; its first result completes
    /// the instruction ([`State::finish_op`]).
    #[cold]
    #[inline(never)]
    fn call_meta(&mut self, tm: Value, a: Value, b: Value, c: Option<Value>) -> LuaResult<Flow> {
        let d = self.current.data();
        let func = d.stack.len();
        d.stack.push(tm);
        d.stack.push(a);
        d.stack.push(b);
        if let Some(c) = c {
            d.stack.push(c);
        }
        self.precall(func, 1, RetMode::FinishOp, false)
    }

    /// Completes the current instruction of the top (Lua) frame with a metamethod's result.
    #[cold]
    #[inline(never)]
    fn finish_op(&mut self, v: Value) -> LuaResult<()> {
        let d = self.current.data();
        let fr = d.frames.last_mut().unwrap();
        let FrameKind::Lua { cl, .. } = &mut fr.kind else {
            unreachable!("finish_op on a native frame")
        };
        let pc = &mut fr.pc;
        let i = cl.proto.proto.code[*pc as usize - 1];
        let base = fr.base;
        use OpCode::*;
        match i.opcode().unwrap() {
            Eq | Lt | Le | EqK | EqI | LtI | LeI | GtI | GeI => {
                if v.truthy() != i.k() {
                    *pc += 1;
                }
            }
            Concat => {
                let a = i.a();
                let n = fr.aux;
                // Result of the last pair goes into the first slot of the pair.
                d.stack[base + a + n - 2] = v;
                let n = n - 1;
                if n > 1 {
                    fr.aux = n;
                    *pc -= 1;
                } else {
                    fr.aux = 0;
                }
            }
            // Closing continues with the next to-be-closed variable.
            Close | Return => *pc -= 1,
            SetTabUp | SetTable | SetI | SetField | Tbc => {}
            _ => {
                d.stack[base + i.a()] = v;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // The dispatch loop

    /// Executes Lua frames on the current thread until a base frame returns, a host future
    /// must be awaited, or an error is raised. The loop exists in two instances: without debug
    /// hooks (no per-instruction cost) and with them; a change of hook state makes the running
    /// instance return `Continue` so that the caller re-enters the other one.
    pub(crate) fn execute(&mut self) -> LuaResult<Flow> {
        if self.hook_mask != 0 {
            self.execute_impl::<true, false>()
        } else if self.sandbox.edge_slice.is_some() {
            self.execute_fast::<true>()
        } else {
            self.execute_fast::<false>()
        }
    }

    /// Executes exactly one instruction of the top Lua frame (the slow path of
    /// [`State::execute_fast`]); on `Continue` the frame's saved pc is up to date.
    #[inline(never)]
    pub(crate) fn execute_step(&mut self) -> LuaResult<Flow> {
        self.execute_impl::<false, true>()
    }

    /// The complete interpreter. `HOOKED`: debug hooks are active (line/count events are
    /// checked before every instruction). `STEP`: return after one instruction.
    fn execute_impl<const HOOKED: bool, const STEP: bool>(&mut self) -> LuaResult<Flow> {
        let mut th: Gc<Thread>;
        // Index of the previously executed instruction (line hooks: backward jumps).
        let mut last_pc: usize;
        let mut cl: Gc<LuaClosure>;
        let mut base: usize;
        // Next instruction to execute (a pointer into `code`).
        let mut ip: *const Instr;
        // `regs == sp + base`: the current frame's register 0.
        let mut regs: *mut Value;
        let mut code: *const Instr;
        let mut kst: *const Value;

        macro_rules! reload {
            () => {{
                th = self.current;
                let pc: usize;
                let d = th.data();
                let fr = d.frames.last().unwrap();
                match fr.kind {
                    FrameKind::Lua { cl: c, .. } => {
                        cl = c;
                        pc = fr.pc as usize;
                    }
                    _ => unreachable!("execute: top frame is not a Lua frame"),
                }
                base = fr.base;
                // SAFETY: base < stack.len() for the running frame.
                regs = unsafe { d.stack.as_mut_ptr().add(base) };
                code = cl.proto.code;
                // SAFETY: a saved pc is within (or one past) the frame's code.
                ip = unsafe { code.add(pc) };
                kst = cl.proto.consts.as_ptr();
                last_pc = pc.wrapping_sub(1);
            }};
        }
        // After anything that may have run a native: leave if the hook state changed.
        macro_rules! check_mode {
            () => {{
                if (self.hook_mask != 0) != HOOKED {
                    return Ok(Flow::Continue);
                }
            }};
        }
        // Index of the next instruction, as saved in frames.
        macro_rules! pcidx {
            () => {
                // SAFETY: `ip` always points into (or one past) the running function's code.
                unsafe { ip.offset_from(code) as usize }
            };
        }
        macro_rules! savepc {
            () => {{
                let pc = pcidx!();
                th.data().frames.last_mut().unwrap().pc = pc as u32;
            }};
        }
        // `reg!` yields the register by value; `rref!` by reference, so hot paths read the tag
        // and payload straight from the stack instead of copying the 16-byte value through a
        // temporary (which defeats store-to-load forwarding).
        macro_rules! rref {
            ($i:expr) => {
                // SAFETY: see the module invariant: registers are below base + max_stack <=
                // stack.len(), and `sp` was derived after the last resize. The reference is
                // used before any operation that could resize the stack.
                unsafe { &*regs.add($i) }
            };
        }
        macro_rules! reg {
            ($i:expr) => {
                *rref!($i)
            };
        }
        macro_rules! setreg {
            ($i:expr, $v:expr) => {{
                let v = $v;
                // SAFETY: as for `reg!`.
                unsafe { *regs.add($i) = v }
            }};
        }
        macro_rules! konst {
            ($i:expr) => {
                // SAFETY: constant operands are valid indices into the constant table
                // (compiler invariant).
                unsafe { *kst.add($i) }
            };
        }
        macro_rules! flow {
            ($f:expr) => {{
                match $f {
                    Flow::Continue => {
                        check_mode!();
                        reload!();
                        continue;
                    }
                    other => return Ok(other),
                }
            }};
        }
        // After a call made by CALL/TAILCALL (`depth`: frames before it): if a native ran to
        // completion on this thread it may have allocated, so collect with the live registers
        // ending at `$top`; a new Lua frame or a coroutine switch just continues.
        macro_rules! after_call {
            ($f:expr, $depth:expr, $top:expr) => {{
                match $f {
                    Flow::Continue => {
                        let native_done = Gc::ptr_eq(self.current, th)
                            && self.current.data().frames.len() == $depth;
                        check_mode!();
                        reload!();
                        if native_done {
                            gc_check!($top);
                        }
                        continue;
                    }
                    other => return Ok(other),
                }
            }};
        }
        macro_rules! outcome_to_reg {
            ($a:expr, $o:expr) => {{
                match $o {
                    Outcome::Value(v) => setreg!($a, v),
                    Outcome::Meta(tm, x, y) => {
                        let f = self.call_meta(tm, x, y, None)?;
                        flow!(f)
                    }
                }
            }};
        }
        macro_rules! arith_slow {
            ($op:expr, $a:expr, $x:expr, $y:expr, $rx:expr, $ry:expr) => {{
                savepc!();
                let o = self.arith_slow($op, $x, $y, $rx, $ry)?;
                outcome_to_reg!($a, o)
            }};
        }
        macro_rules! jump_if {
            ($cond:expr, $k:expr) => {{
                // SAFETY: a comparison/test is always followed by a JMP whose target is a
                // valid instruction (compiler and verifier invariant).
                unsafe {
                    if $cond != $k {
                        ip = ip.add(1);
                    } else {
                        ip = ip.offset(1 + (*ip).sj_field() as isize);
                    }
                }
            }};
        }
        // Collects if the heap asks for it; `$top` is the end of the live registers at this
        // instruction (stack index), which bounds what the current frame keeps alive.
        macro_rules! gc_check {
            ($top:expr) => {{
                if self.gc.should_collect(&mut self.heap) {
                    savepc!();
                    let top = $top;
                    th.data().gc_top = Some(top);
                    let r = self.collect_step();
                    th.data().gc_top = None;
                    r?;
                    reload!();
                }
            }};
        }

        reload!();
        let mut stepped = false;
        loop {
            if STEP {
                if stepped {
                    savepc!();
                    return Ok(Flow::Continue);
                }
                stepped = true;
            }
            // Sandboxing limits (instruction budget, memory): see `vm::limits`.
            if HOOKED && self.hook_mask & HOOK_LIMIT != 0 && self.limit_tick() {
                // As if fetched, so that errors report this instruction's line.
                // SAFETY: `ip` points at an instruction, so one past it is in bounds.
                ip = unsafe { ip.add(1) };
                savepc!();
                if self.limit_slow()? {
                    // Suspend before this instruction: it runs when the task is resumed.
                    // SAFETY: undoes the `add(1)` above.
                    ip = unsafe { ip.sub(1) };
                    savepc!();
                    // Values in flight between a multi-result producer and its consumer may
                    // lie above the frame's registers: keep the whole stack alive while the
                    // task is suspended (collections of other tasks run meanwhile). The
                    // driver clears this when it resumes or cancels the task.
                    let d = th.data();
                    d.gc_top = Some(d.stack.len());
                    return Ok(Flow::Preempt);
                }
                check_mode!();
                reload!();
                // SAFETY: reload! set ip one past the current instruction.
                ip = unsafe { ip.sub(1) };
            }
            if HOOKED && self.hook_mask & (HOOK_LINE | HOOK_COUNT) != 0 && th.data().hook.allow {
                let pc = pcidx!();
                let lines = &cl.proto.proto.lines;
                // (None: stripped code, whose line events report a nil line, as in PUC.)
                let known_line = lines.get(pc).copied();
                let line = known_line.unwrap_or(0);
                let fr = th.data().frames.last_mut().unwrap();
                // A frame reached mid-function (hooks just installed, or a return into it)
                // counts as being on the line of its previous instruction, as in PUC.
                let prev_line = if fr.hook_line == 0 && pc > 0 {
                    lines.get(pc - 1).copied().unwrap_or(0)
                } else {
                    fr.hook_line
                };
                // Some instructions run untraced, as in PUC (see `untraced`).
                let skip = untraced(&cl.proto.proto.code, pc, last_pc);
                let new_line = self.hook_mask & HOOK_LINE != 0
                    && skip.is_none()
                    && (pc == 0 || pc <= last_pc || line != prev_line);
                if skip.is_none() {
                    fr.hook_line = line;
                }
                let count =
                    self.hook_mask & HOOK_COUNT != 0 && skip.is_none() && th.data().hook.tick();
                last_pc = skip.unwrap_or(pc);
                if new_line || count {
                    // As if the instruction had been fetched, so that getinfo reports its line.
                    // SAFETY: `ip` points at an instruction, so one past it is in bounds.
                    ip = unsafe { ip.add(1) };
                    savepc!();
                    if count {
                        self.run_hook("count", None)?;
                    }
                    if new_line {
                        self.run_hook("line", known_line)?;
                    }
                    // The instruction has not run yet: if the hook turned hooks off, the
                    // other instance of the loop must resume at it.
                    // SAFETY: `ip` is one past the current instruction.
                    ip = unsafe { ip.sub(1) };
                    savepc!();
                    check_mode!();
                    // SAFETY: as above, back to one past it.
                    ip = unsafe { ip.add(1) };
                    savepc!();
                    reload!();
                    // reload! set last_pc to this instruction, so it is not reported again.
                    // SAFETY: reload! set ip one past the current instruction.
                    ip = unsafe { ip.sub(1) };
                }
            }
            // SAFETY: pc stays within the code: every path ends in a RETURN (compiler
            // invariant) and jumps target valid instructions.
            let i = unsafe { *ip };
            // SAFETY: as above; one past an instruction is in bounds.
            ip = unsafe { ip.add(1) };
            let a = i.a();
            // SAFETY: opcodes in compiled code are valid (compiler invariant).
            let op = unsafe { std::mem::transmute::<u8, OpCode>(i.op_raw()) };
            match op {
                OpCode::Move => setreg!(a, reg!(i.b())),
                OpCode::LoadI => setreg!(a, Value::Int(i.sbx())),
                OpCode::LoadF => setreg!(a, Value::Float(i.sbx() as f64)),
                OpCode::LoadK => setreg!(a, konst!(i.bx())),
                OpCode::LoadKX => {
                    // SAFETY: LOADKX is always followed by EXTRAARG.
                    let ax = unsafe { *ip }.ax_field();
                    // SAFETY: skipping the EXTRAARG stays within the code.
                    ip = unsafe { ip.add(1) };
                    setreg!(a, konst!(ax));
                }
                OpCode::LoadFalse => setreg!(a, Value::Bool(false)),
                OpCode::LFalseSkip => {
                    setreg!(a, Value::Bool(false));
                    // SAFETY: LFALSESKIP is followed by an instruction (compiler invariant).
                    ip = unsafe { ip.add(1) };
                }
                OpCode::LoadTrue => setreg!(a, Value::Bool(true)),
                OpCode::LoadNil => {
                    for j in 0..=i.b() {
                        setreg!(a + j, Value::Nil);
                    }
                }
                OpCode::GetUpval => setreg!(a, cl.upval(i.b()).get()),
                OpCode::SetUpval => cl.upval(i.b()).set(reg!(a)),
                OpCode::GetTabUp => {
                    let t = cl.upval(i.b()).get();
                    let key = konst!(i.c());
                    if let (Value::Table(tab), Value::Str(s)) = (t, key) {
                        let v = tab.get_str(s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(a, v);
                            continue;
                        }
                    }
                    savepc!();
                    let b = i.b();
                    let o = self.index_slow(t, key, &|st: &State| st.upval_info(b))?;
                    outcome_to_reg!(a, o);
                }
                OpCode::GetTable => {
                    let t = reg!(i.b());
                    let key = reg!(i.c());
                    if let Value::Table(tab) = t {
                        let v = tab.get(key);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(a, v);
                            continue;
                        }
                    }
                    savepc!();
                    let b = i.b();
                    let o = self.index_slow(t, key, &|st: &State| st.var_info(b))?;
                    outcome_to_reg!(a, o);
                }
                OpCode::GetI => {
                    let t = reg!(i.b());
                    if let Value::Table(tab) = t {
                        let v = tab.get_int(i.c() as i64);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(a, v);
                            continue;
                        }
                    }
                    savepc!();
                    let b = i.b();
                    let o =
                        self.index_slow(t, Value::Int(i.c() as i64), &|st: &State| st.var_info(b))?;
                    outcome_to_reg!(a, o);
                }
                OpCode::GetField => {
                    let t = reg!(i.b());
                    let key = konst!(i.c());
                    if let (Value::Table(tab), Value::Str(s)) = (t, key) {
                        let v = tab.get_str(s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(a, v);
                            continue;
                        }
                    }
                    savepc!();
                    let b = i.b();
                    let o = self.index_slow(t, key, &|st: &State| st.var_info(b))?;
                    outcome_to_reg!(a, o);
                }
                OpCode::SetTabUp | OpCode::SetTable | OpCode::SetI | OpCode::SetField => {
                    let (t, key) = match op {
                        OpCode::SetTabUp => (cl.upval(a).get(), konst!(i.b())),
                        OpCode::SetTable => (reg!(a), reg!(i.b())),
                        OpCode::SetI => (reg!(a), Value::Int(i.b() as i64)),
                        _ => (reg!(a), konst!(i.b())),
                    };
                    let v = if i.k() { konst!(i.c()) } else { reg!(i.c()) };
                    if let Value::Table(tab) = t {
                        if tab.metatable().is_none() {
                            match key {
                                Value::Str(_) | Value::Int(_) => {
                                    tab.set(key, v);
                                    continue;
                                }
                                _ => {
                                    savepc!();
                                    self.raw_set_checked(tab, key, v)?;
                                    continue;
                                }
                            }
                        }
                    }
                    savepc!();
                    let r = if op == OpCode::SetTabUp {
                        self.newindex_slow(t, key, v, &|st: &State| st.upval_info(a))?
                    } else {
                        self.newindex_slow(t, key, v, &|st: &State| st.var_info(a))?
                    };
                    if let Some((tm, obj)) = r {
                        let f = self.call_meta(tm, obj, key, Some(v))?;
                        flow!(f);
                    }
                }
                OpCode::NewTable => {
                    let b = i.b();
                    let mut c = i.c();
                    // SAFETY: NEWTABLE is always followed by EXTRAARG.
                    let extra = unsafe { *ip }.ax_field();
                    // SAFETY: skipping the EXTRAARG stays within the code.
                    ip = unsafe { ip.add(1) };
                    if i.k() {
                        c += extra * 256;
                    }
                    let nhash = if b > 0 { 1usize << (b - 1).min(30) } else { 0 };
                    let t = self.new_table(c, nhash);
                    setreg!(a, Value::Table(t));
                    gc_check!(base + a + 1);
                }
                OpCode::SelfOp => {
                    let obj = reg!(i.b());
                    let key = if i.k() { konst!(i.c()) } else { reg!(i.c()) };
                    setreg!(a + 1, obj);
                    if let (Value::Table(tab), Value::Str(s)) = (obj, key) {
                        let v = tab.get_str(s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(a, v);
                            continue;
                        }
                    }
                    savepc!();
                    let b = i.b();
                    let o = self.index_slow(obj, key, &|st: &State| st.var_info(b))?;
                    outcome_to_reg!(a, o);
                }
                OpCode::AddI => {
                    let imm = i.sc();
                    match rref!(i.b()) {
                        Value::Int(x) => setreg!(a, Value::Int(x.wrapping_add(imm))),
                        Value::Float(x) => setreg!(a, Value::Float(x + imm as f64)),
                        _ => {
                            let v = reg!(i.b());
                            let (x, y, rx, ry) = if i.k() {
                                (Value::Int(imm), v, None, Some(i.b()))
                            } else {
                                (v, Value::Int(imm), Some(i.b()), None)
                            };
                            arith_slow!(ArOp::Add, a, x, y, rx, ry)
                        }
                    }
                }
                OpCode::AddK
                | OpCode::SubK
                | OpCode::MulK
                | OpCode::ModK
                | OpCode::PowK
                | OpCode::DivK
                | OpCode::IDivK
                | OpCode::BAndK
                | OpCode::BOrK
                | OpCode::BXorK => {
                    let aop = match op {
                        OpCode::AddK => ArOp::Add,
                        OpCode::SubK => ArOp::Sub,
                        OpCode::MulK => ArOp::Mul,
                        OpCode::ModK => ArOp::Mod,
                        OpCode::PowK => ArOp::Pow,
                        OpCode::DivK => ArOp::Div,
                        OpCode::IDivK => ArOp::IDiv,
                        OpCode::BAndK => ArOp::BAnd,
                        OpCode::BOrK => ArOp::BOr,
                        _ => ArOp::BXor,
                    };
                    // SAFETY: constant operands are valid indices (compiler invariant).
                    let kref = unsafe { &*kst.add(i.c()) };
                    let fast = if i.k() {
                        None
                    } else {
                        match (aop, rref!(i.b()), kref) {
                            (ArOp::Add, Value::Int(p), Value::Int(q)) => {
                                Some(Value::Int(p.wrapping_add(*q)))
                            }
                            (ArOp::Sub, Value::Int(p), Value::Int(q)) => {
                                Some(Value::Int(p.wrapping_sub(*q)))
                            }
                            (ArOp::Mul, Value::Int(p), Value::Int(q)) => {
                                Some(Value::Int(p.wrapping_mul(*q)))
                            }
                            (ArOp::Add, Value::Float(p), Value::Float(q)) => {
                                Some(Value::Float(p + q))
                            }
                            (ArOp::Sub, Value::Float(p), Value::Float(q)) => {
                                Some(Value::Float(p - q))
                            }
                            (ArOp::Mul, Value::Float(p), Value::Float(q)) => {
                                Some(Value::Float(p * q))
                            }
                            _ => None,
                        }
                    };
                    if let Some(r) = fast {
                        setreg!(a, r);
                        continue;
                    }
                    let v = reg!(i.b());
                    let kv = *kref;
                    let (x, y, rx, ry) = if i.k() {
                        (kv, v, None, Some(i.b()))
                    } else {
                        (v, kv, Some(i.b()), None)
                    };
                    {
                        match arith_numbers(aop, x, y) {
                            Ok(Some(r)) => setreg!(a, r),
                            _ => arith_slow!(aop, a, x, y, rx, ry),
                        }
                    }
                }
                OpCode::ShrI => {
                    let v = reg!(i.b());
                    match v {
                        Value::Int(x) => setreg!(a, Value::Int(shift_left(x, -i.sc()))),
                        _ => arith_slow!(ArOp::Shr, a, v, Value::Int(i.sc()), Some(i.b()), None),
                    }
                }
                OpCode::ShlI => {
                    let v = reg!(i.b());
                    match v {
                        Value::Int(x) => setreg!(a, Value::Int(shift_left(i.sc(), x))),
                        _ => arith_slow!(ArOp::Shl, a, Value::Int(i.sc()), v, None, Some(i.b())),
                    }
                }
                OpCode::Add => match (rref!(i.b()), rref!(i.c())) {
                    (Value::Int(p), Value::Int(q)) => setreg!(a, Value::Int(p.wrapping_add(*q))),
                    (Value::Float(p), Value::Float(q)) => setreg!(a, Value::Float(p + q)),
                    _ => {
                        let (x, y) = (reg!(i.b()), reg!(i.c()));
                        match arith_numbers(ArOp::Add, x, y) {
                            Ok(Some(r)) => setreg!(a, r),
                            _ => arith_slow!(ArOp::Add, a, x, y, Some(i.b()), Some(i.c())),
                        }
                    }
                },
                OpCode::Sub => match (rref!(i.b()), rref!(i.c())) {
                    (Value::Int(p), Value::Int(q)) => setreg!(a, Value::Int(p.wrapping_sub(*q))),
                    (Value::Float(p), Value::Float(q)) => setreg!(a, Value::Float(p - q)),
                    _ => {
                        let (x, y) = (reg!(i.b()), reg!(i.c()));
                        match arith_numbers(ArOp::Sub, x, y) {
                            Ok(Some(r)) => setreg!(a, r),
                            _ => arith_slow!(ArOp::Sub, a, x, y, Some(i.b()), Some(i.c())),
                        }
                    }
                },
                OpCode::Mul => match (rref!(i.b()), rref!(i.c())) {
                    (Value::Int(p), Value::Int(q)) => setreg!(a, Value::Int(p.wrapping_mul(*q))),
                    (Value::Float(p), Value::Float(q)) => setreg!(a, Value::Float(p * q)),
                    _ => {
                        let (x, y) = (reg!(i.b()), reg!(i.c()));
                        match arith_numbers(ArOp::Mul, x, y) {
                            Ok(Some(r)) => setreg!(a, r),
                            _ => arith_slow!(ArOp::Mul, a, x, y, Some(i.b()), Some(i.c())),
                        }
                    }
                },
                OpCode::Mod
                | OpCode::Pow
                | OpCode::Div
                | OpCode::IDiv
                | OpCode::BAnd
                | OpCode::BOr
                | OpCode::BXor
                | OpCode::Shl
                | OpCode::Shr => {
                    let aop = match op {
                        OpCode::Mod => ArOp::Mod,
                        OpCode::Pow => ArOp::Pow,
                        OpCode::Div => ArOp::Div,
                        OpCode::IDiv => ArOp::IDiv,
                        OpCode::BAnd => ArOp::BAnd,
                        OpCode::BOr => ArOp::BOr,
                        OpCode::BXor => ArOp::BXor,
                        OpCode::Shl => ArOp::Shl,
                        _ => ArOp::Shr,
                    };
                    let (x, y) = (reg!(i.b()), reg!(i.c()));
                    match arith_numbers(aop, x, y) {
                        Ok(Some(r)) => setreg!(a, r),
                        _ => arith_slow!(aop, a, x, y, Some(i.b()), Some(i.c())),
                    }
                }
                OpCode::Unm => {
                    let v = reg!(i.b());
                    match v {
                        Value::Int(x) => setreg!(a, Value::Int(x.wrapping_neg())),
                        Value::Float(x) => setreg!(a, Value::Float(-x)),
                        _ => arith_slow!(ArOp::Unm, a, v, v, Some(i.b()), Some(i.b())),
                    }
                }
                OpCode::BNot => {
                    let v = reg!(i.b());
                    match v {
                        Value::Int(x) => setreg!(a, Value::Int(!x)),
                        _ => arith_slow!(ArOp::BNot, a, v, v, Some(i.b()), Some(i.b())),
                    }
                }
                OpCode::Not => setreg!(a, Value::Bool(!reg!(i.b()).truthy())),
                OpCode::Len => {
                    let v = reg!(i.b());
                    match v {
                        Value::Str(s) => setreg!(a, Value::Int(s.len() as i64)),
                        Value::Table(t) if t.metatable().is_none() => {
                            setreg!(a, Value::Int(t.len() as i64))
                        }
                        _ => {
                            savepc!();
                            let o = self.len_slow(v, Some(i.b()))?;
                            outcome_to_reg!(a, o);
                        }
                    }
                }
                OpCode::Concat => {
                    savepc!();
                    let depth = th.data().frames.len();
                    let f = self.concat(a, i.b(), base)?;
                    match f {
                        Flow::Continue => {
                            // A Lua `__concat` handler now runs in a frame of its own (or a
                            // coroutine switch happened): that code reaches safepoints of its
                            // own, and this frame's operands must stay live under it. Otherwise
                            // the concatenation is complete (result in `a`), or a native
                            // handler returned and `aux` operands from `a` wait to be joined.
                            let here =
                                Gc::ptr_eq(self.current, th) && th.data().frames.len() == depth;
                            let pending = th.data().frames.last().unwrap().aux;
                            reload!();
                            if here {
                                gc_check!(base + a + pending.max(1));
                            }
                        }
                        other => return Ok(other),
                    }
                }
                OpCode::Close => {
                    savepc!();
                    let keep = th.data().frames.last().unwrap().top;
                    if let Some(f) = self.close_next(base + a, keep)? {
                        // A `__close` handler runs; CLOSE is executed again after it.
                        flow!(f);
                    }
                    reload!();
                }
                OpCode::Tbc => {
                    let v = reg!(a);
                    if v.truthy() {
                        if self.get_tm(v, Tm::Close).is_nil() {
                            savepc!();
                            let name = cl
                                .proto
                                .proto
                                .local_name(a + 1, pcidx!() - 1)
                                .unwrap_or("?")
                                .to_string();
                            return Err(self.rt_error(&format!(
                                "variable '{}' got a non-closable value",
                                name
                            )));
                        }
                        th.data().tbc.push(base + a);
                    }
                }
                OpCode::Jmp => {
                    let off = i.sj_field();
                    // SAFETY: jump targets are valid instructions (compiler/verifier invariant).
                    ip = unsafe { ip.offset(off as isize) };
                    if off < 0
                        && crate::vm::hook::edge_events()
                        && self.loop_edge_event(cl.proto, pcidx!())
                    {
                        return self.raise_interrupt(pcidx!());
                    }
                }
                OpCode::Eq => {
                    let r = match (rref!(a), rref!(i.b())) {
                        (Value::Int(p), Value::Int(q)) => p == q,
                        (x, y)
                            if !matches!(
                                (x, y),
                                (Value::Table(_), Value::Table(_))
                                    | (Value::UserData(_), Value::UserData(_))
                            ) =>
                        {
                            x.raw_eq(y)
                        }
                        _ => {
                            let (x, y) = (reg!(a), reg!(i.b()));
                            match (x, y) {
                                (Value::Table(_), Value::Table(_))
                                | (Value::UserData(_), Value::UserData(_)) => {
                                    savepc!();
                                    match self.equals_slow(x, y) {
                                        Outcome::Value(v) => v.truthy(),
                                        Outcome::Meta(tm, p, q) => {
                                            let f = self.call_meta(tm, p, q, None)?;
                                            flow!(f)
                                        }
                                    }
                                }
                                _ => x.raw_eq(&y),
                            }
                        }
                    };
                    jump_if!(r, i.k());
                }
                OpCode::Lt | OpCode::Le => {
                    let le = op == OpCode::Le;
                    let r = match (rref!(a), rref!(i.b())) {
                        (Value::Int(p), Value::Int(q)) => {
                            if le {
                                p <= q
                            } else {
                                p < q
                            }
                        }
                        (Value::Float(p), Value::Float(q)) => {
                            if le {
                                p <= q
                            } else {
                                p < q
                            }
                        }
                        _ => {
                            savepc!();
                            let (x, y) = (reg!(a), reg!(i.b()));
                            match self.compare_slow(x, y, le)? {
                                Outcome::Value(v) => v.truthy(),
                                Outcome::Meta(tm, p, q) => {
                                    let f = self.call_meta(tm, p, q, None)?;
                                    flow!(f)
                                }
                            }
                        }
                    };
                    jump_if!(r, i.k());
                }
                OpCode::EqK => {
                    let r = reg!(a).raw_eq(&konst!(i.b()));
                    jump_if!(r, i.k());
                }
                OpCode::EqI => {
                    let imm = i.sb();
                    let r = match reg!(a) {
                        Value::Int(x) => x == imm,
                        Value::Float(f) => f == imm as f64,
                        _ => false,
                    };
                    jump_if!(r, i.k());
                }
                OpCode::LtI | OpCode::LeI | OpCode::GtI | OpCode::GeI => {
                    let imm = i.sb();
                    let r = match *rref!(a) {
                        Value::Int(x) => match op {
                            OpCode::LtI => x < imm,
                            OpCode::LeI => x <= imm,
                            OpCode::GtI => x > imm,
                            _ => x >= imm,
                        },
                        Value::Float(f) => {
                            let g = imm as f64;
                            match op {
                                OpCode::LtI => f < g,
                                OpCode::LeI => f <= g,
                                OpCode::GtI => f > g,
                                _ => f >= g,
                            }
                        }
                        v => {
                            savepc!();
                            let iv = if i.c() != 0 {
                                Value::Float(imm as f64)
                            } else {
                                Value::Int(imm)
                            };
                            let o = match op {
                                OpCode::LtI => self.compare_slow(v, iv, false)?,
                                OpCode::LeI => self.compare_slow(v, iv, true)?,
                                OpCode::GtI => self.compare_slow(iv, v, false)?,
                                _ => self.compare_slow(iv, v, true)?,
                            };
                            match o {
                                Outcome::Value(b) => b.truthy(),
                                Outcome::Meta(tm, p, q) => {
                                    let f = self.call_meta(tm, p, q, None)?;
                                    flow!(f)
                                }
                            }
                        }
                    };
                    jump_if!(r, i.k());
                }
                OpCode::Test => {
                    let r = rref!(a).truthy();
                    jump_if!(r, i.k());
                }
                OpCode::TestSet => {
                    let v = reg!(i.b());
                    if v.truthy() != i.k() {
                        // SAFETY: TESTSET is always followed by a JMP to a valid instruction.
                        ip = unsafe { ip.add(1) };
                    } else {
                        setreg!(a, v);
                        // SAFETY: as above.
                        ip = unsafe { ip.offset(1 + (*ip).sj_field() as isize) };
                    }
                }
                OpCode::Call => {
                    let func = base + a;
                    let b = i.b();
                    let d = th.data();
                    let top = if b != 0 { func + b } else { d.top };
                    d.stack.truncate(top);
                    savepc!();
                    let depth = d.frames.len();
                    let f = self.precall(func, i.c() as i32 - 1, RetMode::Normal, false)?;
                    let c = i.c();
                    after_call!(f, depth, if c == 0 { th.data().top } else { func + c - 1 });
                }
                OpCode::TailCall => {
                    let func = base + a;
                    let b = i.b();
                    savepc!();
                    if i.k() {
                        self.close_level(base)?;
                    }
                    let d = th.data();
                    let top = if b != 0 { func + b } else { d.top };
                    d.stack.truncate(top);
                    if !matches!(d.stack[func], Value::LuaFn(_)) {
                        // Natives (and __call objects) are called normally, keeping this frame
                        // for error messages as PUC does; the RETURN that follows every
                        // TAILCALL returns their results.
                        let depth = d.frames.len();
                        let f = self.precall(func, -1, RetMode::Normal, false)?;
                        after_call!(f, depth, th.data().top);
                    }
                    let fr = d.frames.pop().unwrap();
                    let n = top - func;
                    d.stack.copy_within(func..top, fr.func);
                    d.stack.truncate(fr.func + n);
                    let f = self.precall(fr.func, fr.nresults, fr.ret, true)?;
                    flow!(f);
                }
                OpCode::Return => {
                    let b = i.b();
                    let fr = th.data().frames.last_mut().unwrap();
                    let n = if b != 0 {
                        b - 1
                    } else if fr.aux != 0 {
                        // Executed again after a `__close` handler: the count saved below.
                        fr.aux - 1
                    } else {
                        th.data().top - (base + a)
                    };
                    savepc!();
                    if i.k() {
                        // Each `__close` handler runs above the results and executes this
                        // RETURN again when it returns (it may yield meanwhile).
                        let fr = th.data().frames.last_mut().unwrap();
                        fr.aux = n + 1;
                        let keep = fr.top.max(base + a + n);
                        if let Some(f) = self.close_next(base, keep)? {
                            flow!(f);
                        }
                        th.data().frames.last_mut().unwrap().aux = 0;
                    }
                    let f = self.post_call(base + a, n)?;
                    flow!(f);
                }
                OpCode::Return0 | OpCode::Return1 => {
                    let n = (op == OpCode::Return1) as usize;
                    savepc!();
                    let f = self.post_call(base + a, n)?;
                    flow!(f);
                }
                // FORPREP leaves integer or float state; code that jumps into a loop body
                // without it (possible in a binary chunk) gets an error.
                OpCode::ForLoop => match *rref!(a + 2) {
                    Value::Int(step) => {
                        let Value::Int(count) = *rref!(a + 1) else {
                            savepc!();
                            return Err(self.rt_error("'for' loop state is not a number"));
                        };
                        if count as u64 > 0 {
                            let Value::Int(idx) = *rref!(a) else {
                                savepc!();
                                return Err(self.rt_error("'for' loop state is not a number"));
                            };
                            let idx = idx.wrapping_add(step);
                            setreg!(a + 1, Value::Int((count as u64 - 1) as i64));
                            setreg!(a, Value::Int(idx));
                            setreg!(a + 3, Value::Int(idx));
                            // SAFETY: the loop body start is a valid instruction.
                            ip = unsafe { ip.sub(i.bx()) };
                            if crate::vm::hook::edge_events()
                                && self.loop_edge_event(cl.proto, pcidx!())
                            {
                                return self.raise_interrupt(pcidx!());
                            }
                        }
                    }
                    Value::Float(step) => {
                        let (Value::Float(idx), Value::Float(limit)) = (*rref!(a), *rref!(a + 1))
                        else {
                            savepc!();
                            return Err(self.rt_error("'for' loop state is not a number"));
                        };
                        let idx = idx + step;
                        let cont = if step > 0.0 {
                            idx <= limit
                        } else {
                            limit <= idx
                        };
                        if cont {
                            setreg!(a, Value::Float(idx));
                            setreg!(a + 3, Value::Float(idx));
                            // SAFETY: the loop body start is a valid instruction.
                            ip = unsafe { ip.sub(i.bx()) };
                            if crate::vm::hook::edge_events()
                                && self.loop_edge_event(cl.proto, pcidx!())
                            {
                                return self.raise_interrupt(pcidx!());
                            }
                        }
                    }
                    _ => {
                        savepc!();
                        return Err(self.rt_error("'for' loop state is not a number"));
                    }
                },
                OpCode::ForPrep => {
                    savepc!();
                    if self.for_prep(base + a)? {
                        // SAFETY: the loop exit is a valid instruction.
                        ip = unsafe { ip.add(i.bx() + 1) };
                    }
                }
                OpCode::TForPrep => {
                    let v = reg!(a + 3);
                    if v.truthy() {
                        if self.get_tm(v, Tm::Close).is_nil() {
                            savepc!();
                            return Err(
                                self.rt_error("variable '(for state)' got a non-closable value")
                            );
                        }
                        th.data().tbc.push(base + a + 3);
                    }
                    // SAFETY: the TFORCALL target is a valid instruction.
                    ip = unsafe { ip.add(i.bx()) };
                }
                OpCode::TForCall => {
                    let d = th.data();
                    let s = base + a;
                    d.stack[s + 4] = d.stack[s];
                    d.stack[s + 5] = d.stack[s + 1];
                    d.stack[s + 6] = d.stack[s + 2];
                    d.stack.truncate(s + 7);
                    savepc!();
                    let f = self.precall(s + 4, i.c() as i32, RetMode::Normal, false)?;
                    flow!(f);
                }
                OpCode::TForLoop => {
                    let v = reg!(a + 4);
                    if !v.is_nil() {
                        setreg!(a + 2, v);
                        // SAFETY: the loop body start is a valid instruction.
                        ip = unsafe { ip.sub(i.bx()) };
                        if crate::vm::hook::edge_events()
                            && self.loop_edge_event(cl.proto, pcidx!())
                        {
                            return self.raise_interrupt(pcidx!());
                        }
                    }
                }
                OpCode::SetList => {
                    let b = i.b();
                    let n = if b != 0 {
                        b
                    } else {
                        th.data().top - (base + a) - 1
                    };
                    let mut last = i.c();
                    if i.k() {
                        // SAFETY: SETLIST with k is followed by EXTRAARG.
                        last += unsafe { *ip }.ax_field() * 256;
                        // SAFETY: skipping the EXTRAARG stays within the code.
                        ip = unsafe { ip.add(1) };
                    }
                    let Value::Table(t) = reg!(a) else {
                        // Only a binary chunk can get here (verified, but not type-checked).
                        savepc!();
                        return Err(self.rt_error("table constructor target is not a table"));
                    };
                    for j in 1..=n {
                        t.set_int((last + j) as i64, reg!(a + j));
                    }
                }
                OpCode::Closure => {
                    let ncl = self.make_closure(cl, i.bx(), base);
                    setreg!(a, Value::LuaFn(ncl));
                    gc_check!(base + a + 1);
                }
                OpCode::Vararg => {
                    let d = th.data();
                    let FrameKind::Lua { nextra, .. } = d.frames.last().unwrap().kind else {
                        unreachable!()
                    };
                    let nextra = nextra as usize;
                    let src = base - 1 - nextra;
                    let c = i.c();
                    if c == 0 {
                        let need = base + a + nextra;
                        if need + 1 >= self.limits.stack {
                            savepc!();
                            return Err(self.rt_error("stack overflow"));
                        }
                        d.ensure_len(need);
                        d.stack.copy_within(src..src + nextra, base + a);
                        d.top = base + a + nextra;
                        // SAFETY: as above.
                        regs = unsafe { d.stack.as_mut_ptr().add(base) };
                    } else {
                        let wanted = c - 1;
                        for j in 0..wanted {
                            let v = if j < nextra {
                                d.stack[src + j]
                            } else {
                                Value::Nil
                            };
                            d.stack[base + a + j] = v;
                        }
                    }
                }
                OpCode::VarargPrep => {}
                OpCode::ExtraArg => {}
            }
        }
    }

    /// CLOSURE: a closure of child prototype `child` of `cl`, capturing the running frame's
    /// locals (registers from stack index `base`) and `cl`'s upvalues.
    #[inline(never)]
    pub(crate) fn make_closure(
        &mut self,
        cl: Gc<LuaClosure>,
        child: usize,
        base: usize,
    ) -> Gc<LuaClosure> {
        let th = self.current;
        let child = cl.proto.children[child];
        let heap = &mut self.heap;
        let ups = child.proto.upvalues.iter().map(|u| {
            if u.in_stack {
                th.data()
                    .find_upval(th, base + u.index as usize, &mut |uv| heap.alloc(uv))
            } else {
                cl.upval(u.index as usize)
            }
        });
        let new_cl = LuaClosure::new(child, ups);
        self.heap.alloc(new_cl)
    }

    /// FORPREP: validates and prepares a numeric loop at stack index `ra`. Returns `true` when
    /// the loop must be skipped. Numeric strings are accepted, as arithmetic accepts them.
    #[cold]
    #[inline(never)]
    fn for_prep(&mut self, ra: usize) -> LuaResult<bool> {
        let d = self.current.data();
        let (init, limit, step) = (d.stack[ra], d.stack[ra + 1], d.stack[ra + 2]);
        if let (Value::Int(i0), Value::Int(st)) = (init, step) {
            if st == 0 {
                return Err(self.rt_error("'for' step is zero"));
            }
            self.current.data().stack[ra + 3] = Value::Int(i0);
            let lim = match self.to_number(limit) {
                Some(Value::Int(l)) => l,
                Some(Value::Float(f)) => {
                    let conv = if st > 0 {
                        float_floor_to_int(f)
                    } else {
                        float_ceil_to_int(f)
                    };
                    match conv {
                        Some(l) => l,
                        // Out of the integer range (or NaN): clip, or skip when even the
                        // clipped limit cannot be reached.
                        None if f > 0.0 => {
                            if st < 0 {
                                return Ok(true);
                            }
                            i64::MAX
                        }
                        None => {
                            if st > 0 {
                                return Ok(true);
                            }
                            i64::MIN
                        }
                    }
                }
                _ => return Err(self.for_error(limit, "limit")),
            };
            if (st > 0 && i0 > lim) || (st < 0 && i0 < lim) {
                return Ok(true);
            }
            let count = if st > 0 {
                (lim as u64).wrapping_sub(i0 as u64) / (st as u64)
            } else {
                let s = (-(st + 1)) as u64 + 1;
                (i0 as u64).wrapping_sub(lim as u64) / s
            };
            self.current.data().stack[ra + 1] = Value::Int(count as i64);
            return Ok(false);
        }
        let fl = |st: &State, v: Value| st.to_number(v).and_then(|n| n.as_float());
        let Some(l) = fl(self, limit) else {
            return Err(self.for_error(limit, "limit"));
        };
        let Some(s) = fl(self, step) else {
            return Err(self.for_error(step, "step"));
        };
        let Some(i0) = fl(self, init) else {
            return Err(self.for_error(init, "initial value"));
        };
        if s == 0.0 {
            return Err(self.rt_error("'for' step is zero"));
        }
        // NaN comparisons are false: such a loop runs its first iteration, as in PUC Lua.
        if (s > 0.0 && l < i0) || (s <= 0.0 && i0 < l) {
            return Ok(true);
        }
        let d = self.current.data();
        d.stack[ra] = Value::Float(i0);
        d.stack[ra + 1] = Value::Float(l);
        d.stack[ra + 2] = Value::Float(s);
        d.stack[ra + 3] = Value::Float(i0);
        Ok(false)
    }

    #[cold]
    #[inline(never)]
    fn for_error(&mut self, v: Value, what: &str) -> LuaError {
        let t = self.type_name_for_msg(v);
        self.rt_error(&format!("bad 'for' {} (number expected, got {})", what, t))
    }

    /// Closes upvalues and runs `__close` of to-be-closed variables at stack index `>= level`
    /// (normal exit: the error argument is nil).
    #[cold]
    #[inline(never)]
    fn close_level(&mut self, level: usize) -> LuaResult<()> {
        self.current.data().close_upvals(level);
        while let Some((tm, v)) = self.pop_tbc(level)? {
            self.call_value(tm, &[v, Value::Nil], 0)?;
        }
        Ok(())
    }

    /// CONCAT: concatenates registers `a .. a+n-1` (continuing an interrupted concatenation if
    /// the frame's `aux` says so).
    #[cold]
    #[inline(never)]
    fn concat(&mut self, a: usize, b: usize, base: usize) -> LuaResult<Flow> {
        let th = self.current;
        let mut n = {
            let fr = th.data().frames.last_mut().unwrap();
            let n = if fr.aux != 0 { fr.aux } else { b };
            fr.aux = 0;
            n
        };
        let is_sn = |v: &Value| matches!(v, Value::Str(_) | Value::Int(_) | Value::Float(_));
        while n > 1 {
            let d = th.data();
            let top = base + a + n;
            let x = d.stack[top - 2];
            let y = d.stack[top - 1];
            if is_sn(&x) && is_sn(&y) {
                let mut k = 2;
                while k < n && is_sn(&d.stack[top - k - 1]) {
                    k += 1;
                }
                // Built in a reusable scratch buffer, then copied once into the new string.
                let mut buf = std::mem::take(&mut self.scratch);
                buf.clear();
                for j in (top - k)..top {
                    match d.stack[j] {
                        Value::Str(s) => buf.extend_from_slice(s.as_bytes()),
                        Value::Int(v) => crate::number::fmt_int(v, &mut buf),
                        Value::Float(v) => crate::number::fmt_float(v, &mut buf),
                        _ => unreachable!(),
                    }
                }
                let s = self.intern(&buf);
                if buf.capacity() <= 1 << 16 {
                    self.scratch = buf;
                }
                th.data().stack[top - k] = Value::Str(s);
                n -= k - 1;
            } else {
                let tm = self.get_tm(x, Tm::Concat);
                let tm = if tm.is_nil() {
                    self.get_tm(y, Tm::Concat)
                } else {
                    tm
                };
                if tm.is_nil() {
                    let (bad, reg) = if is_sn(&x) {
                        (y, top - 1 - base)
                    } else {
                        (x, top - 2 - base)
                    };
                    let vi = self.var_info(reg);
                    return Err(self.type_error_msg(bad, "concatenate", vi));
                }
                th.data().frames.last_mut().unwrap().aux = n;
                return self.call_meta(tm, x, y, None);
            }
        }
        Ok(Flow::Continue)
    }
}
