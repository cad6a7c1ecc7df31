//! Coroutine switching: resuming a suspended thread (`coroutine.resume`, the function made by
//! `coroutine.wrap`), yielding, and handing a coroutine's outcome (yielded values, results of
//! its body, or its error) back to its resumer.
//!
//! The natives of the coroutine library only return [`Action::Resume`] or [`Action::Yield`];
//! the dispatch loop carries them out here, so a switch never nests Rust calls. A switch
//! moves the transferred values straight from one thread's stack to the other's (no buffer in
//! between), makes the other thread current, and completes the native frame waiting on that
//! side — the `yield` of the resumed coroutine, or the `resume` of the resumer — as an
//! ordinary return of that frame. The resumer's waiting native frame records in
//! [`FrameKind::Native::resume`] how it wants the outcome (`true`-prefixed values or errors
//! as values for `resume`, plain values and re-raised errors for `wrap`).
//!
//! [`Action::Resume`]: crate::vm::native::Action::Resume
//! [`Action::Yield`]: crate::vm::native::Action::Yield

use crate::string::StrExt;
use crate::thread::{Thread, ThreadStatus};
use crate::value::Value;
use crate::vm::debughook::HOOK_RET;
use crate::vm::exec::Flow;
use crate::vm::frame::{FrameKind, ResumeKind, RetMode};
use crate::vm::{LuaError, LuaResult, State, MAX_C_DEPTH};
use rua_gc::Gc;

impl State {
    /// Resumes `co` with the last `nargs` values of the current thread's stack, for the native
    /// frame on top of the current thread (`coroutine.resume` or a `wrap` function).
    pub(crate) fn do_resume(
        &mut self,
        co: Gc<Thread>,
        nargs: usize,
        kind: ResumeKind,
    ) -> LuaResult<Flow> {
        let me = self.current;
        let depth = me.data().resume_depth + 1;
        let resumable = !Gc::ptr_eq(co, me)
            && co.status() == ThreadStatus::Suspended
            && depth + self.c_depth < MAX_C_DEPTH;
        if !resumable {
            return self.resume_refused(co, nargs, kind);
        }
        let md = me.data();
        let cd = co.data();
        let from = md.stack.len() - nargs;
        if let Some(FrameKind::Native { resume, .. }) = md.frames.last_mut().map(|f| &mut f.kind) {
            *resume = Some(kind);
        }
        if md.status == ThreadStatus::Running {
            md.status = ThreadStatus::Normal;
        }
        cd.status = ThreadStatus::Running;
        cd.resumer = Some(me);
        cd.resume_depth = depth;
        self.set_current(co);
        if cd.started && self.return_here(co, None, &md.stack[from..]) {
            // The pending `yield` returned the resume arguments.
            Self::vacate(me, from);
            return Ok(Flow::Continue);
        }
        // `co` is not `me`: two distinct stacks.
        cd.stack.extend_from_slice(&md.stack[from..]);
        md.stack.truncate(from);
        self.c_depth += 1;
        let r = if !cd.started {
            cd.started = true;
            self.precall(0, -1, RetMode::CoBase, false)
        } else {
            // Return from the pending `yield` (a continuation, a metamethod, under hooks).
            let len = cd.stack.len();
            self.post_call(len - nargs, nargs)
        };
        self.c_depth -= 1;
        r
    }

    /// The common case of completing the native frame on top of the thread `th` (just made
    /// current) with the values `prefix, vals...`: the frame was called by a Lua `CALL` and no
    /// return hook is active. Does the return as [`State::post_call`] would and answers
    /// `true`, or does nothing and answers `false`. `vals` is on another thread's stack.
    #[inline]
    fn return_here(&mut self, th: Gc<Thread>, prefix: Option<Value>, vals: &[Value]) -> bool {
        let d = th.data();
        let nframes = d.frames.len();
        let Some(fr) = d.frames.last() else {
            return false;
        };
        if fr.ret != RetMode::Normal || self.hook_mask & HOOK_RET != 0 {
            return false;
        }
        let dst = fr.func;
        let wanted = fr.nresults;
        // (`Frame` is `Copy`: nothing to drop.)
        d.frames.truncate(nframes - 1);
        let n = vals.len() + prefix.is_some() as usize;
        let count = if wanted < 0 { n } else { wanted as usize };
        let end = dst + count;
        let caller_top = d.frames.last().map_or(end, |c| c.top);
        d.ensure_len(end.max(caller_top));
        let mut out = d.stack[dst..end].iter_mut();
        if let Some(p) = prefix {
            if let Some(slot) = out.next() {
                *slot = p;
            }
        }
        for v in vals {
            match out.next() {
                Some(slot) => *slot = *v,
                None => break,
            }
        }
        for slot in out {
            *slot = Value::Nil;
        }
        d.top = end;
        true
    }

    /// Removes the values at `stack[from..]` of `th` that were just moved to another thread.
    /// The slots up to the `top` of the Lua frame under the waiting native frame stay (as
    /// nil), so that the return into that frame does not have to grow the stack again.
    #[inline]
    fn vacate(th: Gc<Thread>, from: usize) {
        let d = th.data();
        let nframes = d.frames.len();
        let lua_top = match nframes.checked_sub(2) {
            Some(i) => d.frames[i].top,
            None => 0,
        };
        let cut = lua_top.max(from).min(d.stack.len());
        for slot in &mut d.stack[from.min(cut)..cut] {
            *slot = Value::Nil;
        }
        d.stack.truncate(cut);
    }

    /// A resume that cannot happen: `resume` returns `false` and the message, `wrap` raises.
    #[cold]
    #[inline(never)]
    fn resume_refused(
        &mut self,
        co: Gc<Thread>,
        nargs: usize,
        kind: ResumeKind,
    ) -> LuaResult<Flow> {
        let me = self.current;
        let msg = if Gc::ptr_eq(co, me) {
            "cannot resume non-suspended coroutine"
        } else {
            match co.status() {
                ThreadStatus::Suspended => "C stack overflow",
                ThreadStatus::Dead => "cannot resume dead coroutine",
                _ => "cannot resume non-suspended coroutine",
            }
        };
        let d = me.data();
        let len = d.stack.len();
        d.stack.truncate(len - nargs);
        let m = self.error_str(msg);
        match kind {
            ResumeKind::Resume => {
                let d = me.data();
                d.stack.push(Value::Bool(false));
                d.stack.push(m.value());
                let len = d.stack.len();
                self.post_call(len - 2, 2)
            }
            ResumeKind::Wrap => {
                let msg = format!("{}{}", self.where_(1), msg);
                Err(self.error_str(&msg))
            }
        }
    }

    /// Yields the last `n` values of the current thread's stack to its resumer.
    pub(crate) fn do_yield(&mut self, n: usize) -> LuaResult<Flow> {
        let co = self.current;
        let d = co.data();
        if d.resumer.is_none() {
            return Err(self.rt_error("attempt to yield from outside a coroutine"));
        }
        if d.yield_blocked() {
            return Err(self.rt_error("attempt to yield across a C-call boundary"));
        }
        d.status = ThreadStatus::Suspended;
        let from = d.stack.len() - n;
        self.deliver_to_resumer(co, from, from, None)
    }

    /// The body function of coroutine `th` returned its results at `stack[from..]`: the
    /// coroutine dies and its resumer gets them.
    pub(crate) fn coroutine_returned(&mut self, th: Gc<Thread>, from: usize) -> LuaResult<Flow> {
        let d = th.data();
        d.status = ThreadStatus::Dead;
        d.close_upvals(0);
        self.deliver_to_resumer(th, from, 0, None)
    }

    /// Switches from `co` back to its resumer and completes the resumer's pending resume with
    /// `co`'s values at `stack[from..]` (success) or with `err`. `co`'s stack is cut to `keep`
    /// slots (the values are moved, not copied).
    pub(crate) fn deliver_to_resumer(
        &mut self,
        co: Gc<Thread>,
        from: usize,
        keep: usize,
        err: Option<LuaError>,
    ) -> LuaResult<Flow> {
        let cd = co.data();
        let resumer = cd.resumer.take().expect("coroutine has a resumer");
        self.set_current(resumer);
        let rd = resumer.data();
        rd.status = ThreadStatus::Running;
        let kind = match rd.frames.last_mut().map(|f| &mut f.kind) {
            Some(FrameKind::Native { resume, .. }) => resume.take(),
            _ => None,
        };
        let kind = kind.unwrap_or(ResumeKind::Resume);
        match err {
            None => {
                let prefix = match kind {
                    ResumeKind::Resume => Some(Value::Bool(true)),
                    ResumeKind::Wrap => None,
                };
                if self.return_here(resumer, prefix, &cd.stack[from..]) {
                    // A yield (`keep == from`) leaves the suspended frames their slots. (A
                    // finished coroutine has no frames left, so `vacate` also empties its
                    // stack should its results start at 0.)
                    if keep == from {
                        Self::vacate(co, from);
                    } else {
                        cd.stack.truncate(keep);
                    }
                    return Ok(Flow::Continue);
                }
                // `co` is not the resumer: two distinct stacks.
                let n = cd.stack.len() - from;
                let prefix = match kind {
                    ResumeKind::Resume => {
                        rd.stack.push(Value::Bool(true));
                        1
                    }
                    ResumeKind::Wrap => 0,
                };
                rd.stack.extend_from_slice(&cd.stack[from..]);
                cd.stack.truncate(keep);
                let len = rd.stack.len();
                self.post_call(len - n - prefix, n + prefix)
            }
            Some(e) => {
                cd.stack.truncate(keep);
                self.resume_failed(e, kind)
            }
        }
    }

    /// Completes the current thread's pending resume with the error `e` of the coroutine it
    /// resumed.
    #[cold]
    #[inline(never)]
    fn resume_failed(&mut self, mut e: LuaError, kind: ResumeKind) -> LuaResult<Flow> {
        if e.is_uncatchable() {
            // Not a result of the resume: keep unwinding in the resumer.
            return Err(e);
        }
        match kind {
            ResumeKind::Resume => {
                let d = self.current.data();
                d.stack.push(Value::Bool(false));
                d.stack.push(e.value());
                let len = d.stack.len();
                self.post_call(len - 2, 2)
            }
            ResumeKind::Wrap => {
                // As `coroutine.wrap` in PUC: string errors get the position of the caller of
                // the wrapping function prepended.
                if let Value::Str(s) = e.value() {
                    let msg = format!("{}{}", self.where_(1), s.to_str_lossy());
                    let v = self.error_str(&msg).value();
                    e.set_value(v);
                }
                Err(e)
            }
        }
    }
}
