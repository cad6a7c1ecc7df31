//! The fast dispatch loop: the interpreter's common case, used whenever no debug hook is set.
//!
//! It executes the frequent cases of the hot opcodes inline — register moves, integer and
//! float arithmetic, comparisons and jumps, numeric `for` loops, table reads that hit, table
//! writes to plain tables, Lua-to-Lua calls and returns — and hands every other instruction
//! (metamethods, natives, errors, allocation, closing) to the complete interpreter in
//! [`super::exec`], which executes exactly that one instruction and returns. The split keeps
//! this loop small and free of calls on its fast paths, so the compiler keeps the loop state
//! (`ip`, `regs`, `kst`, `cl`) in registers instead of spilling it around every instruction.
//!
//! Invariants are those of [`super::exec`]: while a Lua frame runs, the thread's stack holds at
//! least `base + max_stack` slots, every register operand is below `max_stack` and every
//! constant operand indexes the constant table (compiler and binary-chunk verifier), jumps
//! target instructions of the same function, and `regs` is re-derived after anything that can
//! resize the stack. A fast path never raises an error: any unusual case takes the slow path,
//! which re-executes the instruction from its start, so a fast path must not write anything
//! before it is sure to complete.

use crate::func::{LuaClosure, NativeClosure, NativeCode};
use crate::opcode::{Instr, OpCode};
use crate::table::Table;
use crate::thread::ThreadData;
use crate::value::Value;
use crate::vm::exec::Flow;
use crate::vm::frame::{Frame, FrameKind, RetMode};
use crate::vm::meta::{float_arith, int_idiv, int_mod, shift_left, ArOp};
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State, Tm};
use rua_gc::Gc;
use std::mem::MaybeUninit;

impl State {
    /// Runs the current thread's top Lua frame until something needs the outer run loop (see
    /// [`State::execute`]). `FUEL`: an async task's edge slice is armed, so back-edges and
    /// calls count against it (the instance without it pays nothing for slicing).
    pub(crate) fn execute_fast<const FUEL: bool>(&mut self) -> LuaResult<Flow> {
        let mut cl: Gc<LuaClosure>;
        // The next instruction to execute. (The function's first instruction is not kept in a
        // variable of its own: `savepc!` reads it from `cl`, and the register it took was
        // missed by the dispatch.)
        let mut ip: *const Instr;
        // The current frame's register 0.
        let mut regs: *mut Value;
        let mut kst: *const Value;

        macro_rules! load {
            () => {{
                let d = self.current.data();
                let fr = d.frames.last().unwrap();
                let FrameKind::Lua { cl: c, .. } = fr.kind else {
                    unreachable!("execute_fast: top frame is not a Lua frame")
                };
                cl = c;
                // SAFETY: the running frame's base is below stack.len() (module invariant).
                regs = unsafe { d.stack.as_mut_ptr().add(fr.base) };
                // SAFETY: a saved pc is within the frame's code.
                ip = unsafe { c.proto.code.add(fr.pc as usize) };
                kst = c.proto.consts.as_ptr();
            }};
        }
        macro_rules! savepc {
            () => {{
                // SAFETY: `ip` points into the running function's code.
                let pc = unsafe { ip.offset_from(cl.proto.code) } as u32;
                // SAFETY: the running Lua frame is on the frame stack, so it is not empty.
                unsafe { self.current.data().frames.last_mut().unwrap_unchecked() }.pc = pc;
            }};
        }
        // Counts a unit of an async task's fuel slice (see `vm::limits`): at loop back-edges,
        // Lua calls and after slow-path instructions. `ip` must be the next instruction.
        macro_rules! fuel_tick {
            () => {{
                if FUEL {
                    let f = self.sandbox.edge_fuel;
                    if f != 0 {
                        self.sandbox.edge_fuel = f - 1;
                    } else if self.edge_fuel_out() {
                        savepc!();
                        // As in the hooked loop: keep the whole stack alive while suspended.
                        let d = self.current.data();
                        d.gc_top = Some(d.stack.len());
                        return Ok(Flow::Preempt);
                    }
                }
            }};
        }
        // After a step that ran outside the fast loop: on `Continue`, reload the running frame
        // (then `$then`) and go on dispatching, or return to the driver when a hook needs the
        // complete interpreter; any other flow goes to the driver.
        macro_rules! continue_or_return {
            ($flow:ident; $($then:tt)*) => {{
                match $flow {
                    Flow::Continue => {
                        // (Owns nothing: see the native call below.)
                        std::mem::forget($flow);
                        if self.hook_mask != 0 {
                            return Ok(Flow::Continue);
                        }
                        load!();
                        $($then)*
                        continue;
                    }
                    other => return Ok(other),
                }
            }};
        }
        // Runs the current instruction (already fetched) in the complete interpreter.
        macro_rules! slow {
            () => {{
                // SAFETY: `ip` is one past the instruction being executed. (`black_box`: with
                // `ip - 1` visible to the optimiser, the register allocator gave up the
                // register holding the dispatch table's address, one more instruction per
                // dispatch: mandelbrot +2.5% instructions.)
                ip = unsafe { std::hint::black_box(ip).sub(1) };
                savepc!();
                let flow = self.execute_step()?;
                continue_or_return!(flow; fuel_tick!(););
            }};
        }
        macro_rules! rref {
            ($i:expr) => {
                // SAFETY: register operands are below max_stack (module invariant).
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
                // SAFETY: as for `rref!`.
                unsafe { *regs.add($i) = v }
            }};
        }
        macro_rules! upval {
            ($i:expr) => {
                // SAFETY: upvalue operands are below the closure's upvalue count (compiler and
                // verifier invariant, see `LuaClosure::upval_unchecked`).
                unsafe { cl.upval_unchecked($i) }
            };
        }
        macro_rules! konst {
            ($i:expr) => {
                // SAFETY: constant operands index the constant table (module invariant).
                unsafe { &*kst.add($i) }
            };
        }
        // A comparison's outcome: skip the following JMP, or take it.
        macro_rules! jump_if {
            ($cond:expr, $k:expr) => {{
                // SAFETY: a comparison or test is always followed by a JMP to a valid target.
                unsafe {
                    if $cond != $k {
                        ip = ip.add(1);
                    } else {
                        ip = ip.offset(1 + (*ip).sj_field() as isize);
                    }
                }
            }};
        }
        // Backward jumps feed the JIT's hot-loop counters when a trace hook is installed and
        // notice interrupt requests (see `vm::hook`): `edge_check!` at the start of a loop
        // instruction hands it to the complete interpreter, which does both, when there is
        // such an event. (Handled here, after the jump, that path called out and rejoined
        // the back-edge, and the compiler routed every back-edge through a shared dispatch
        // block with register copies: 6 instructions more per loop iteration.)
        macro_rules! edge_check {
            () => {{
                if crate::vm::hook::edge_events() {
                    slow!()
                }
            }};
        }
        // A taken back-edge counts against an async task's fuel slice.
        macro_rules! loop_edge {
            () => {{
                fuel_tick!();
            }};
        }
        // Arithmetic with a constant operand (the k bit marks it as the first operand).
        macro_rules! arith_k {
            ($i:ident, $aop:expr) => {{
                let i = $i;
                let (x, y) = if i.k() {
                    (konst!(i.c()), rref!(i.b()))
                } else {
                    (rref!(i.b()), konst!(i.c()))
                };
                match arith_fast($aop, x, y) {
                    Some(r) => setreg!(i.a(), r),
                    None => slow!(),
                }
            }};
        }
        macro_rules! arith_r {
            ($i:ident, $aop:expr) => {{
                let i = $i;
                match arith_fast($aop, rref!(i.b()), rref!(i.c())) {
                    Some(r) => setreg!(i.a(), r),
                    None => slow!(),
                }
            }};
        }
        // Comparison of a register with an immediate integer operand.
        macro_rules! cmp_imm {
            ($i:ident, $cmp:tt) => {{
                let i = $i;
                let imm = i.sb();
                let r = match *rref!(i.a()) {
                    Value::Int(x) => x $cmp imm,
                    Value::Float(f) => f $cmp imm as f64,
                    _ => slow!(),
                };
                jump_if!(r, i.k());
            }};
        }
        // Calls the value in register `$f` with the registers up to (not including) `$top` as
        // arguments, wanting `$nres` results (-1: all). Lua functions with fixed parameters get
        // a frame here; natives run here; everything else takes the slow path.
        macro_rules! call {
            ($f:expr, $top:expr, $nres:expr) => {{
                let (f, top, nres): (usize, usize, i32) = ($f, $top, $nres);
                match *rref!(f) {
                    Value::LuaFn(ncl) => {
                        let d = self.current.data();
                        // SAFETY: `regs` points into the stack (module invariant).
                        let base = unsafe { regs.offset_from(d.stack.as_ptr()) } as usize;
                        let func = base + f;
                        let fp = ncl.proto;
                        let ntop = func + 1 + fp.max_stack as usize;
                        if fp.is_vararg
                            || ntop >= self.limits.stack
                            || d.frames.len() >= self.limits.frames
                        {
                            slow!()
                        }
                        savepc!();
                        d.ensure_len(ntop);
                        // Missing parameters become nil (`num_params <= max_stack`: compiler
                        // and binary-chunk verifier).
                        let np = fp.num_params as usize;
                        let stack0 = d.stack.as_mut_ptr();
                        for k in top - f - 1..np {
                            // SAFETY: func + 1 + k < func + 1 + max_stack = ntop <= stack.len().
                            unsafe { *stack0.add(func + 1 + k) = Value::Nil };
                        }
                        d.frames.push(Frame::lua(
                            func,
                            func + 1,
                            ntop,
                            nres,
                            RetMode::Normal,
                            ncl,
                            0,
                            false,
                        ));
                        cl = ncl;
                        // SAFETY: func + 1 < ntop <= stack.len().
                        regs = unsafe { stack0.add(func + 1) };
                        ip = fp.code;
                        kst = fp.consts.as_ptr();
                        fuel_tick!();
                    }
                    Value::NativeFn(ncl) => {
                        if let Some(fast) = ncl.fast {
                            // SAFETY: the arguments are registers `f + 1 .. top` of this frame,
                            // within the stack (`top` is at most the stack's length).
                            let args =
                                unsafe { std::slice::from_raw_parts(regs.add(f + 1), top - f - 1) };
                            if let Some(v) = fast(args) {
                                setreg!(f, v);
                                if nres < 0 {
                                    // SAFETY: `regs` points into the stack (module invariant).
                                    let d = self.current.data();
                                    let base = unsafe { regs.offset_from(d.stack.as_ptr()) };
                                    d.top = base as usize + f + 1;
                                } else {
                                    for k in 1..nres as usize {
                                        setreg!(f + k, Value::Nil);
                                    }
                                }
                                continue;
                            }
                        }
                        if self.current.data().frames.len() >= self.limits.frames {
                            slow!()
                        }
                        savepc!();
                        // SAFETY: `regs` points into the stack (module invariant).
                        let base = unsafe { regs.offset_from(self.current.data().stack.as_ptr()) };
                        let base = base as usize;
                        let outcome = self.call_native(ncl, base + f, base + top, nres)?;
                        match outcome {
                            // Finished right here: only the stack may have moved.
                            None => {
                                // SAFETY: the frame's base is below stack.len().
                                regs = unsafe { self.current.data().stack.as_mut_ptr().add(base) };
                            }
                            Some(Flow::Continue) => {
                                // `Continue` owns nothing; forgetting it saves the call of
                                // `Flow`'s out-of-line drop glue that the compiler emits here
                                // (after every coroutine switch and continuation return).
                                std::mem::forget(outcome);
                                if self.hook_mask != 0 {
                                    return Ok(Flow::Continue);
                                }
                                load!();
                                fuel_tick!();
                            }
                            Some(other) => return Ok(other),
                        }
                    }
                    _ => slow!(),
                }
            }};
        }
        // A return of `$n` values from register `$a` to something other than a calling Lua
        // frame (a continuation, a metamethod's instruction, Rust or a resumer): the general
        // return, as the complete interpreter does it.
        macro_rules! general_return {
            ($a:expr, $n:expr) => {{
                savepc!();
                // SAFETY: `regs` points into the stack (module invariant).
                let base = unsafe { regs.offset_from(self.current.data().stack.as_ptr()) };
                let flow = self.post_call(base as usize + $a, $n)?;
                continue_or_return!(flow;);
            }};
        }
        // The end of a `Normal` return of the running frame (thread data `$d`) whose results
        // end at stack index `$end`: pops the frame, sets the top, makes the stack reach both
        // `$end` and the caller's top (a native called meanwhile may have shrunk it), resumes
        // the calling Lua frame and yields the stack's base pointer, for the caller to store
        // the results (the returning frame's registers are still in place).
        macro_rules! pop_to_caller {
            ($d:expr, $end:expr) => {{
                let d = $d;
                let end: usize = $end;
                // SAFETY: the frame stack is not empty (the running frame is on it).
                unsafe { d.frames.set_len(d.frames.len() - 1) };
                d.top = end;
                // SAFETY: a `Normal` frame was pushed by the CALL of a frame below it, which
                // is still there.
                let caller = unsafe { d.frames.last().unwrap_unchecked() };
                let (need, cbase, cpc) = (caller.top.max(end), caller.base, caller.pc);
                let FrameKind::Lua { cl: c, .. } = caller.kind else {
                    unreachable!("Normal returns go to Lua frames")
                };
                if d.stack.len() < need {
                    d.ensure_len(need);
                }
                let stack0 = d.stack.as_mut_ptr();
                cl = c;
                // SAFETY: the caller's base is below its top <= stack.len().
                regs = unsafe { stack0.add(cbase) };
                // SAFETY: the caller's saved pc is within its code.
                ip = unsafe { c.proto.code.add(cpc as usize) };
                kst = c.proto.consts.as_ptr();
                stack0
            }};
        }
        // RETURN0 (`$n` = 0) and RETURN1 (`$n` = 1) of instruction `$i`. Two arms rather than
        // one testing the opcode: that test kept the opcode live across every dispatch.
        macro_rules! return0or1 {
            ($i:expr, $n:expr) => {{
                let d = self.current.data();
                // SAFETY: the running Lua frame is on the frame stack.
                let fr = unsafe { d.frames.last().unwrap_unchecked() };
                let n: usize = $n;
                if fr.ret != RetMode::Normal {
                    general_return!($i.a(), n);
                }
                let (dst, nresults) = (fr.func, fr.nresults);
                // SAFETY: `regs` points into the stack (module invariant).
                let src = unsafe { regs.offset_from(d.stack.as_ptr()) } as usize + $i.a();
                let wanted = if nresults < 0 { n } else { nresults as usize };
                let stack0 = pop_to_caller!(d, dst + wanted);
                // SAFETY: the returning frame's registers (src < its top) are still in
                // the stack, which `pop_to_caller!` made reach dst + wanted; dst < src.
                unsafe {
                    if wanted > 0 {
                        if n == 1 {
                            copy_value(stack0.add(src), stack0.add(dst));
                        } else {
                            *stack0.add(dst) = Value::Nil;
                        }
                    }
                    for k in 1..wanted {
                        *stack0.add(dst + k) = Value::Nil;
                    }
                }
            }};
        }
        // SETTABUP, SETFIELD, SETI and SETTABLE (`$op`, a constant): one arm per opcode, as
        // an arm testing the opcode would keep it live across every dispatch.
        macro_rules! set_table {
            ($i:ident, $op:expr) => {{
                let i = $i;
                let op: OpCode = $op;
                // Both operands are read before anything else, so that the compiler, merging
                // the common rest of the four arms, does not branch on the opcode there. Only
                // the table pointer is taken out: merging the two sources as values made the
                // compiler move them in pieces (see `Table::get_str_ref`).
                let t = if op == OpCode::SetTabUp {
                    match upval!(i.a()).get_ref() {
                        Value::Table(t) => Some(*t),
                        _ => None,
                    }
                } else {
                    match rref!(i.a()) {
                        Value::Table(t) => Some(*t),
                        _ => None,
                    }
                };
                let key = match op {
                    OpCode::SetI => Value::Int(i.b() as i64),
                    OpCode::SetTable => reg!(i.b()),
                    _ => *konst!(i.b()),
                };
                if let Some(tab) = t {
                    // A raw store is right when there is no `__newindex` to consult: no
                    // metatable, the key already present, or a metatable without it.
                    if matches!(key, Value::Str(_) | Value::Int(_))
                        && match tab.metatable() {
                            None => true,
                            Some(mt) => {
                                !tab.get(key).is_nil()
                                    || self.tm_from_meta(mt, Tm::NewIndex).is_nil()
                            }
                        }
                    {
                        let v = if i.k() { *konst!(i.c()) } else { reg!(i.c()) };
                        match key {
                            Value::Int(n) => tab.set_int(n, v),
                            Value::Str(s) => tab.set_str(s, v),
                            _ => unreachable!(),
                        }
                        continue;
                    }
                }
                slow!()
            }};
        }
        // BAND, BOR, BXOR, SHL and SHR (`$op`, a constant) on registers.
        macro_rules! bitwise {
            ($i:ident, $op:expr) => {{
                let i = $i;
                let op: OpCode = $op;
                match (rref!(i.b()), rref!(i.c())) {
                    (Value::Int(p), Value::Int(q)) => {
                        let r = match op {
                            OpCode::BAnd => p & q,
                            OpCode::BOr => p | q,
                            OpCode::BXor => p ^ q,
                            OpCode::Shl => shift_left(*p, *q),
                            _ => shift_left(*p, q.wrapping_neg()),
                        };
                        setreg!(i.a(), Value::Int(r));
                    }
                    _ => slow!(),
                }
            }};
        }
        // LT (`$le` false) and LE (`$le` true) on registers.
        macro_rules! less {
            ($i:ident, $le:expr) => {{
                let i = $i;
                let le: bool = $le;
                let r = match (rref!(i.a()), rref!(i.b())) {
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
                    _ => slow!(),
                };
                jump_if!(r, i.k());
            }};
        }
        // Whether the `k` bit of RETURN or TAILCALL (instruction `$i`) leaves a `__close`
        // handler to call for the running frame (registers from stack index `$base`, thread
        // data `$d`): that is the slow path's work. Otherwise the fast path closes the open
        // upvalues itself (`ThreadData::close_upvals`).
        macro_rules! tbc_pending {
            ($i:expr, $d:expr, $base:expr) => {
                $i.k() && $d.tbc.last().is_some_and(|&slot| slot >= $base)
            };
        }
        load!();
        loop {
            // SAFETY: every path through a function ends in a RETURN, so `ip` stays in the code.
            let i = unsafe { *ip };
            // SAFETY: one past an instruction is within the code or one past its end.
            ip = unsafe { ip.add(1) };
            let raw = i.op_raw();
            // SAFETY: opcodes in compiled or verified code are valid; telling the compiler so
            // lets the dispatch jump table go without a range check.
            let op = unsafe {
                std::hint::assert_unchecked((raw as usize) < OpCode::COUNT);
                std::mem::transmute::<u8, OpCode>(raw)
            };
            match op {
                // SAFETY: register operands are below max_stack (module invariant).
                OpCode::Move => unsafe { copy_value(regs.add(i.b()), regs.add(i.a())) },
                OpCode::LoadI => setreg!(i.a(), Value::Int(i.sbx())),
                OpCode::LoadF => setreg!(i.a(), Value::Float(i.sbx() as f64)),
                OpCode::LoadK => setreg!(i.a(), *konst!(i.bx())),
                OpCode::LoadFalse => setreg!(i.a(), Value::Bool(false)),
                OpCode::LFalseSkip => {
                    setreg!(i.a(), Value::Bool(false));
                    // SAFETY: LFALSESKIP is followed by an instruction.
                    ip = unsafe { ip.add(1) };
                }
                OpCode::LoadTrue => setreg!(i.a(), Value::Bool(true)),
                OpCode::LoadNil => {
                    let a = i.a();
                    for j in 0..=i.b() {
                        setreg!(a + j, Value::Nil);
                    }
                }
                OpCode::GetUpval => {
                    let src = upval!(i.b()).value_ptr();
                    // SAFETY: `src` is valid (nothing ran since `value_ptr`), and register
                    // operands are below max_stack (module invariant).
                    unsafe { copy_value(src, regs.add(i.a())) }
                }
                OpCode::SetUpval => upval!(i.b()).set(reg!(i.a())),
                OpCode::GetTabUp => {
                    if let (Value::Table(tab), Value::Str(s)) =
                        (upval!(i.b()).get_ref(), konst!(i.c()))
                    {
                        // (By reference: see `Table::get_str_ref`.)
                        let v = tab.get_str_ref(*s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(i.a(), *v);
                            continue;
                        }
                        if let Some(v) = self.index_chain(*tab, Value::Str(*s)) {
                            setreg!(i.a(), v);
                            continue;
                        }
                    }
                    slow!()
                }
                OpCode::GetField => {
                    if let (Value::Table(tab), Value::Str(s)) = (rref!(i.b()), konst!(i.c())) {
                        let v = tab.get_str_ref(*s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(i.a(), *v);
                            continue;
                        }
                        if let Some(v) = self.index_chain(*tab, Value::Str(*s)) {
                            setreg!(i.a(), v);
                            continue;
                        }
                    }
                    slow!()
                }
                OpCode::GetI => {
                    if let Value::Table(tab) = rref!(i.b()) {
                        let v = tab.get_int_ref(i.c() as i64);
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(i.a(), *v);
                            continue;
                        }
                        if let Some(v) = self.index_chain(*tab, Value::Int(i.c() as i64)) {
                            setreg!(i.a(), v);
                            continue;
                        }
                    }
                    slow!()
                }
                OpCode::GetTable => {
                    if let Value::Table(tab) = rref!(i.b()) {
                        let got;
                        let v = match rref!(i.c()) {
                            Value::Int(n) => tab.get_int_ref(*n),
                            Value::Str(s) => tab.get_str_ref(*s),
                            k => {
                                got = tab.get(*k);
                                &got
                            }
                        };
                        if !v.is_nil() || tab.metatable().is_none() {
                            setreg!(i.a(), *v);
                            continue;
                        }
                        if let key @ (Value::Int(_) | Value::Str(_)) = *rref!(i.c()) {
                            if let Some(v) = self.index_chain(*tab, key) {
                                setreg!(i.a(), v);
                                continue;
                            }
                        }
                    }
                    slow!()
                }
                OpCode::SelfOp => {
                    let obj = reg!(i.b());
                    let key = if i.k() { *konst!(i.c()) } else { reg!(i.c()) };
                    if let (Value::Table(tab), Value::Str(s)) = (obj, key) {
                        let a = i.a();
                        let v = tab.get_str_ref(s);
                        if !v.is_nil() || tab.metatable().is_none() {
                            // (`v` points into the table, not into the registers.)
                            setreg!(a, *v);
                            setreg!(a + 1, obj);
                            continue;
                        }
                        if let Some(found) = self.index_chain(tab, key) {
                            setreg!(a, found);
                            setreg!(a + 1, obj);
                            continue;
                        }
                    }
                    slow!()
                }
                OpCode::SetTabUp => set_table!(i, OpCode::SetTabUp),
                OpCode::SetField => set_table!(i, OpCode::SetField),
                OpCode::SetI => set_table!(i, OpCode::SetI),
                OpCode::SetTable => set_table!(i, OpCode::SetTable),
                OpCode::AddI => match rref!(i.b()) {
                    Value::Int(x) => setreg!(i.a(), Value::Int(x.wrapping_add(i.sc()))),
                    Value::Float(x) => setreg!(i.a(), Value::Float(x + i.sc() as f64)),
                    _ => slow!(),
                },
                OpCode::AddK => arith_k!(i, ArOp::Add),
                OpCode::SubK => arith_k!(i, ArOp::Sub),
                OpCode::MulK => arith_k!(i, ArOp::Mul),
                OpCode::ModK => arith_k!(i, ArOp::Mod),
                OpCode::PowK => arith_k!(i, ArOp::Pow),
                OpCode::DivK => arith_k!(i, ArOp::Div),
                OpCode::IDivK => arith_k!(i, ArOp::IDiv),
                OpCode::Add => arith_r!(i, ArOp::Add),
                OpCode::Sub => arith_r!(i, ArOp::Sub),
                OpCode::Mul => arith_r!(i, ArOp::Mul),
                OpCode::Div => arith_r!(i, ArOp::Div),
                OpCode::Mod => arith_r!(i, ArOp::Mod),
                OpCode::IDiv => arith_r!(i, ArOp::IDiv),
                OpCode::Pow => arith_r!(i, ArOp::Pow),
                OpCode::BAnd => bitwise!(i, OpCode::BAnd),
                OpCode::BOr => bitwise!(i, OpCode::BOr),
                OpCode::BXor => bitwise!(i, OpCode::BXor),
                OpCode::Shl => bitwise!(i, OpCode::Shl),
                OpCode::Shr => bitwise!(i, OpCode::Shr),
                OpCode::Unm => match rref!(i.b()) {
                    Value::Int(x) => setreg!(i.a(), Value::Int(x.wrapping_neg())),
                    Value::Float(x) => setreg!(i.a(), Value::Float(-x)),
                    _ => slow!(),
                },
                OpCode::Not => setreg!(i.a(), Value::Bool(!rref!(i.b()).truthy())),
                OpCode::Len => match rref!(i.b()) {
                    Value::Str(s) => setreg!(i.a(), Value::Int(s.len() as i64)),
                    Value::Table(t) if t.metatable().is_none() => {
                        setreg!(i.a(), Value::Int(t.len() as i64))
                    }
                    _ => slow!(),
                },
                OpCode::Jmp => {
                    let off = i.sj_field();
                    if off < 0 {
                        edge_check!();
                    }
                    // SAFETY: jump targets are valid instructions.
                    ip = unsafe { ip.offset(off as isize) };
                    if off < 0 {
                        loop_edge!();
                    }
                }
                OpCode::Eq => {
                    let r = match (rref!(i.a()), rref!(i.b())) {
                        (Value::Int(p), Value::Int(q)) => p == q,
                        (Value::Table(_), Value::Table(_))
                        | (Value::UserData(_), Value::UserData(_)) => slow!(),
                        (x, y) => x.raw_eq(y),
                    };
                    jump_if!(r, i.k());
                }
                OpCode::Lt => less!(i, false),
                OpCode::Le => less!(i, true),
                OpCode::EqK => {
                    // A comparison with nil inline (`x == nil`), others in `raw_eq`.
                    let (x, k) = (rref!(i.a()), konst!(i.b()));
                    let r = if k.is_nil() { x.is_nil() } else { x.raw_eq(k) };
                    jump_if!(r, i.k());
                }
                OpCode::EqI => {
                    let imm = i.sb();
                    let r = match *rref!(i.a()) {
                        Value::Int(x) => x == imm,
                        Value::Float(f) => f == imm as f64,
                        _ => false,
                    };
                    jump_if!(r, i.k());
                }
                OpCode::LtI => cmp_imm!(i, <),
                OpCode::LeI => cmp_imm!(i, <=),
                OpCode::GtI => cmp_imm!(i, >),
                OpCode::GeI => cmp_imm!(i, >=),
                OpCode::Test => {
                    let r = rref!(i.a()).truthy();
                    jump_if!(r, i.k());
                }
                OpCode::TestSet => {
                    let v = reg!(i.b());
                    if v.truthy() != i.k() {
                        // SAFETY: TESTSET is always followed by a JMP.
                        ip = unsafe { ip.add(1) };
                    } else {
                        setreg!(i.a(), v);
                        // SAFETY: as above; the JMP targets a valid instruction.
                        ip = unsafe { ip.offset(1 + (*ip).sj_field() as isize) };
                    }
                }
                OpCode::Call => {
                    let a = i.a();
                    let top = if i.b() != 0 {
                        a + i.b()
                    } else {
                        // SAFETY: `regs` points into the stack (module invariant).
                        let base = unsafe { regs.offset_from(self.current.data().stack.as_ptr()) };
                        self.current.data().top - base as usize
                    };
                    call!(a, top, i.c() as i32 - 1);
                }
                OpCode::TForCall => {
                    let a = i.a();
                    // `ipairs` and `next` (from `pairs`) over tables run inline. Only the
                    // library's own functions qualify, and for `ipairs` only tables without a
                    // metatable (so the raw get is what `ipairs` would read).
                    if let (Value::NativeFn(f), Value::Table(t)) = (*rref!(a), *rref!(a + 1)) {
                        let it = self.iterators;
                        let wanted = i.c();
                        if it.ipairs_aux.is_some_and(|g| Gc::ptr_eq(f, g))
                            && t.metatable().is_none()
                        {
                            if let Value::Int(k) = *rref!(a + 2) {
                                let k = k.wrapping_add(1);
                                let v = t.get_int_ref(k);
                                if v.is_nil() {
                                    setreg!(a + 4, Value::Nil);
                                } else {
                                    setreg!(a + 4, Value::Int(k));
                                    if wanted >= 2 {
                                        // (`v` points into the table, not the registers.)
                                        setreg!(a + 5, *v);
                                    }
                                }
                                for j in 2..wanted {
                                    setreg!(a + 4 + j, Value::Nil);
                                }
                                continue;
                            }
                        } else if it.next.is_some_and(|g| Gc::ptr_eq(f, g)) {
                            if let Ok(r) = t.next(*rref!(a + 2)) {
                                match r {
                                    Some((k, v)) => {
                                        setreg!(a + 4, k);
                                        if wanted >= 2 {
                                            setreg!(a + 5, v);
                                        }
                                    }
                                    None => setreg!(a + 4, Value::Nil),
                                }
                                for j in 2..wanted {
                                    setreg!(a + 4 + j, Value::Nil);
                                }
                                continue;
                            }
                        }
                    }
                    setreg!(a + 4, reg!(a));
                    setreg!(a + 5, reg!(a + 1));
                    setreg!(a + 6, reg!(a + 2));
                    call!(a + 4, a + 7, i.c() as i32);
                }
                OpCode::Closure => {
                    // SAFETY: `regs` points into the stack (module invariant).
                    let base = unsafe { regs.offset_from(self.current.data().stack.as_ptr()) };
                    let base = base as usize;
                    let ncl = self.make_closure(cl, i.bx(), base);
                    setreg!(i.a(), Value::LuaFn(ncl));
                    if self.gc.should_collect(&mut self.heap) {
                        // A safepoint with the registers live up to the new closure.
                        savepc!();
                        self.collect_at(base + i.a() + 1)?;
                        if self.hook_mask != 0 {
                            return Ok(Flow::Continue);
                        }
                        load!();
                    }
                }
                OpCode::TailCall => {
                    // Tail calls of fixed-parameter Lua functions with no pending `__close`
                    // reuse the frame here.
                    let Value::LuaFn(ncl) = *rref!(i.a()) else {
                        slow!()
                    };
                    let fp = ncl.proto;
                    if fp.is_vararg {
                        slow!()
                    }
                    let d = self.current.data();
                    let stack0 = d.stack.as_mut_ptr();
                    // SAFETY: `regs` points into the stack (module invariant).
                    let base = unsafe { regs.offset_from(stack0) } as usize;
                    let func = base + i.a();
                    let top = if i.b() != 0 { func + i.b() } else { d.top };
                    // SAFETY: the running Lua frame is on the frame stack.
                    let fr = unsafe { d.frames.last().unwrap_unchecked() };
                    let dst = fr.func;
                    let ntop = dst + 1 + fp.max_stack as usize;
                    if ntop >= self.limits.stack
                        || top <= func
                        || top > d.stack.len()
                        || tbc_pending!(i, d, base)
                    {
                        slow!()
                    }
                    if i.k() {
                        close_upvals_from(d, base);
                    }
                    // The callee's activation replaces the caller's (same `func`, results
                    // and return mode), field by field: fewer stores than a whole new frame.
                    // SAFETY: the running Lua frame is on the frame stack.
                    let fr = unsafe { d.frames.last_mut().unwrap_unchecked() };
                    fr.base = dst + 1;
                    fr.top = ntop;
                    fr.kind = FrameKind::Lua { cl: ncl, nextra: 0 };
                    fr.pc = 0;
                    fr.aux = 0;
                    fr.tail = true;
                    fr.hook_line = 0;
                    d.stack.copy_within(func..top, dst);
                    d.ensure_len(ntop);
                    // (`num_params <= max_stack`, as for CALL.)
                    let np = fp.num_params as usize;
                    let stack0 = d.stack.as_mut_ptr();
                    for k in top - func - 1..np {
                        // SAFETY: dst + 1 + k < dst + 1 + max_stack = ntop <= stack.len().
                        unsafe { *stack0.add(dst + 1 + k) = Value::Nil };
                    }
                    cl = ncl;
                    // SAFETY: dst + 1 < ntop <= stack.len().
                    regs = unsafe { stack0.add(dst + 1) };
                    ip = fp.code;
                    kst = fp.consts.as_ptr();
                    fuel_tick!();
                }
                OpCode::Return0 => return0or1!(i, 0),
                OpCode::Return1 => return0or1!(i, 1),
                OpCode::Return => {
                    // Returns with several values (or up to top) from functions with nothing
                    // to close, to a calling Lua frame.
                    let (a, b) = (i.a(), i.b());
                    let d = self.current.data();
                    // SAFETY: the running Lua frame is on the frame stack.
                    let fr = unsafe { d.frames.last().unwrap_unchecked() };
                    if i.k() || (b == 0 && fr.aux != 0) {
                        slow!()
                    }
                    // SAFETY: `regs` points into the stack (module invariant).
                    let src = unsafe { regs.offset_from(d.stack.as_ptr()) } as usize + a;
                    // Up to top: the verifier makes top >= src for RETURN (the instruction
                    // before produced the values from a register at or above A). An explicit
                    // check here, however written, made the register allocator split the loop
                    // state (numeric_loop +5% instructions), so it is left to that invariant.
                    let n = if b != 0 {
                        b - 1
                    } else {
                        d.top.wrapping_sub(src)
                    };
                    if src + n > d.stack.len() {
                        slow!()
                    }
                    if fr.ret != RetMode::Normal {
                        general_return!(a, n);
                    }
                    let (dst, nresults) = (fr.func, fr.nresults);
                    let wanted = if nresults < 0 { n } else { nresults as usize };
                    let stack0 = pop_to_caller!(d, dst + wanted);
                    let copied = n.min(wanted);
                    // SAFETY: src + n was within the stack, which only grows here, and
                    // `pop_to_caller!` made it reach dst + wanted; the ranges may overlap
                    // (dst < src), hence `copy`.
                    unsafe {
                        std::ptr::copy(stack0.add(src), stack0.add(dst), copied);
                        for k in copied..wanted {
                            *stack0.add(dst + k) = Value::Nil;
                        }
                    }
                }
                OpCode::ForPrep => {
                    // Integer loops with an integer limit run inline; every other case (float
                    // loops, coercions, errors) takes the general step.
                    let a = i.a();
                    if let (Value::Int(i0), Value::Int(lim), Value::Int(st)) =
                        (*rref!(a), *rref!(a + 1), *rref!(a + 2))
                    {
                        if st != 0 {
                            if (st > 0 && i0 > lim) || (st < 0 && i0 < lim) {
                                // SAFETY: the loop exit is a valid instruction.
                                ip = unsafe { ip.add(i.bx() + 1) };
                                continue;
                            }
                            let count = if st > 0 {
                                (lim as u64).wrapping_sub(i0 as u64) / (st as u64)
                            } else {
                                let s = (-(st + 1)) as u64 + 1;
                                (i0 as u64).wrapping_sub(lim as u64) / s
                            };
                            setreg!(a + 1, Value::Int(count as i64));
                            setreg!(a + 3, Value::Int(i0));
                            continue;
                        }
                    }
                    slow!()
                }
                OpCode::ForLoop => {
                    edge_check!();
                    let a = i.a();
                    // The counter and the index are updated through references to their
                    // numbers, which stores only the payload words: the tags stay.
                    // SAFETY: as for `rref!`; the slots are distinct, so are the references.
                    let (x, y) = unsafe { (&mut *regs.add(a), &mut *regs.add(a + 1)) };
                    match (x, y, rref!(a + 2)) {
                        (Value::Int(idx), Value::Int(count), Value::Int(step)) => {
                            if *count as u64 > 0 {
                                *count = (*count as u64 - 1) as i64;
                                *idx = idx.wrapping_add(*step);
                                setreg!(a + 3, Value::Int(*idx));
                                // SAFETY: the loop body start is a valid instruction.
                                ip = unsafe { ip.sub(i.bx()) };
                                loop_edge!();
                            }
                        }
                        (Value::Float(idx), Value::Float(limit), Value::Float(step)) => {
                            let next = *idx + step;
                            let cont = if *step > 0.0 {
                                next <= *limit
                            } else {
                                *limit <= next
                            };
                            if cont {
                                *idx = next;
                                setreg!(a + 3, Value::Float(next));
                                // SAFETY: the loop body start is a valid instruction.
                                ip = unsafe { ip.sub(i.bx()) };
                                loop_edge!();
                            }
                        }
                        _ => slow!(),
                    }
                }
                OpCode::TForLoop => {
                    edge_check!();
                    let a = i.a();
                    // (By reference: a `Value` local tested and then stored moves in pieces
                    // through the stack; see `Table::get_str_ref`.)
                    let v = rref!(a + 4);
                    if !v.is_nil() {
                        setreg!(a + 2, *v);
                        // SAFETY: the loop body start is a valid instruction.
                        ip = unsafe { ip.sub(i.bx()) };
                        loop_edge!();
                    }
                }
                // Listed exhaustively (no `_`), so the dispatch table needs no range check.
                OpCode::BAndK
                | OpCode::BNot
                | OpCode::BOrK
                | OpCode::BXorK
                | OpCode::Close
                | OpCode::Concat
                | OpCode::ExtraArg
                | OpCode::LoadKX
                | OpCode::NewTable
                | OpCode::SetList
                | OpCode::ShlI
                | OpCode::ShrI
                | OpCode::TForPrep
                | OpCode::Tbc
                | OpCode::Vararg
                | OpCode::VarargPrep => slow!(),
            }
        }
    }
}

impl State {
    /// Calls native `ncl` at stack index `func` with the values up to `top` as arguments, for
    /// a CALL or TFORCALL of the running Lua frame (whose pc is saved), wanting `nres` results.
    #[inline(never)]
    fn call_native(
        &mut self,
        ncl: Gc<NativeClosure>,
        func: usize,
        top: usize,
        nres: i32,
    ) -> LuaResult<Option<Flow>> {
        let th = self.current;
        let d = th.data();
        let depth = d.frames.len();
        d.stack.truncate(top);
        d.frames
            .push(Frame::native(func, nres, RetMode::Normal, ncl, false));
        // (Matched as the `Result` it is: unwrapping it first made a copy of the action whose
        // reads stalled on the callee's narrower stores.)
        let outcome = {
            let mut ctx = Ctx {
                st: self,
                base: func + 1,
                nargs: top - func - 1,
            };
            match &ncl.code {
                NativeCode::Fn(nf) => nf(&mut ctx),
                NativeCode::Boxed(bf) => bf(&mut ctx),
            }
        };
        let flow = match outcome {
            Err(e) => return Err(e),
            Ok(Action::Return(n)) if self.hook_mask == 0 && Gc::ptr_eq(self.current, th) => {
                // The common case, as `post_call` does it for a `Normal` return without hooks:
                // results to `func`, adjusted to `nres`, and back to the calling Lua frame.
                let d = th.data();
                d.frames.pop();
                let src = d.stack.len() - n;
                let wanted = if nres < 0 { n } else { nres as usize };
                d.stack.copy_within(src..src + n.min(wanted), func);
                let end = func + wanted;
                let caller_top = d.frames.last().map_or(end, |c| c.top).max(end);
                if d.stack.len() < caller_top {
                    d.ensure_len(caller_top);
                }
                for k in n..wanted {
                    d.stack[func + k] = Value::Nil;
                }
                d.top = end;
                if self.gc.should_collect(&mut self.heap) {
                    self.collect_at(end)?;
                }
                return Ok(None);
            }
            Ok(Action::Return(n)) => {
                let len = self.current.data().stack.len();
                self.post_call(len - n, n)?
            }
            // Coroutine switches go straight to `vm::switch`.
            Ok(Action::Resume { co, nargs, kind }) => self.do_resume(co, nargs, kind)?,
            Ok(Action::Yield(n)) => self.do_yield(n)?,
            Ok(other) => self.handle_action(other)?,
        };
        if let Flow::Continue = flow {
            let d = th.data();
            if Gc::ptr_eq(self.current, th)
                && d.frames.len() == depth
                && self.gc.should_collect(&mut self.heap)
            {
                // The native finished on this thread: a safepoint, with the registers live
                // up to the call's results.
                let live = if nres < 0 {
                    d.top
                } else {
                    func + nres as usize
                };
                self.collect_at(live)?;
            }
        }
        Ok(Some(flow))
    }

    /// A collection at a safepoint of the running Lua frame whose live registers end at stack
    /// index `live`.
    #[cold]
    #[inline(never)]
    fn collect_at(&mut self, live: usize) -> LuaResult<()> {
        let th = self.current;
        th.data().gc_top = Some(live);
        let r = self.collect_step();
        th.data().gc_top = None;
        r
    }

    /// `tab[key]` (integer or string key, already missed in `tab` itself) along a chain of
    /// `__index` tables. `None` when the complete interpreter must take over (an `__index`
    /// function or non-table, or a long chain, which it reports if it loops). Out of line: it
    /// runs after a miss, and inlined it crowds the dispatch loop's registers (oop +7%).
    #[inline(never)]
    fn index_chain(&self, mut tab: Gc<Table>, key: Value) -> Option<Value> {
        for _ in 0..16 {
            let Some(mt) = tab.metatable() else {
                return Some(Value::Nil);
            };
            match self.tm_from_meta(mt, Tm::Index) {
                Value::Nil => return Some(Value::Nil),
                Value::Table(next) => {
                    // (The callers' keys are integers or strings: the typed lookups.)
                    let v = match key {
                        Value::Str(s) => next.get_str_ref(s),
                        Value::Int(n) => next.get_int_ref(n),
                        _ => return None,
                    };
                    if !v.is_nil() {
                        return Some(*v);
                    }
                    tab = next;
                }
                _ => return None,
            }
        }
        None
    }
}

/// Closes the open upvalues of `d` from stack index `base` up, out of line: inlined into the
/// dispatch loop, its loop made the register allocator shuffle the loop state around
/// unrelated instructions.
#[inline(never)]
fn close_upvals_from(d: &mut ThreadData, base: usize) {
    d.close_upvals(base);
}

/// Copies the value at `src` to `dst` (which may be the same slot) as its tag byte and its
/// 8-byte payload: the way instructions store values (a byte and a word), so the loads here
/// are served from those stores when the value was just written (a 16-byte load spanning
/// two smaller stores cannot be forwarded and stalls). Copying through a `Value` temporary
/// instead makes the compiler move bytes 1..16 as two overlapping words, often through the
/// Rust stack.
///
/// # Safety
/// `src` must be valid for reads of an initialised `Value` and `dst` for writes of one.
#[inline(always)]
unsafe fn copy_value(src: *const Value, dst: *mut Value) {
    // `Value` is `repr(C, u8)`: the tag is byte 0 and every payload lies within bytes 8..16
    // (the union of the variants' fields is 8-aligned); bytes 1..8 are padding.
    const _: () = assert!(std::mem::size_of::<Value>() == 16);
    // SAFETY: guaranteed by the caller; the payload word may be partly uninitialised (nil,
    // booleans), which `MaybeUninit` carries over unchanged, and the tag byte with the same
    // payload bytes makes the same valid value at `dst`.
    unsafe {
        let tag = src.cast::<u8>().read();
        let payload = src.cast::<MaybeUninit<u64>>().add(1).read();
        dst.cast::<u8>().write(tag);
        dst.cast::<MaybeUninit<u64>>().add(1).write(payload);
    }
}

/// Arithmetic on two numbers, or `None` when the complete interpreter must handle it
/// (non-numbers, coercions, integer division by zero).
#[inline(always)]
fn arith_fast(op: ArOp, x: &Value, y: &Value) -> Option<Value> {
    let (a, b) = match (x, y) {
        (Value::Float(a), Value::Float(b)) => return Some(Value::Float(float_arith(op, *a, *b))),
        (Value::Int(a), Value::Int(b)) => {
            let (a, b) = (*a, *b);
            return match op {
                ArOp::Add => Some(Value::Int(a.wrapping_add(b))),
                ArOp::Sub => Some(Value::Int(a.wrapping_sub(b))),
                ArOp::Mul => Some(Value::Int(a.wrapping_mul(b))),
                ArOp::Mod => int_mod(a, b).map(Value::Int),
                ArOp::IDiv => int_idiv(a, b).map(Value::Int),
                _ => Some(Value::Float(float_arith(op, a as f64, b as f64))),
            };
        }
        (Value::Int(a), Value::Float(b)) => (*a as f64, *b),
        (Value::Float(a), Value::Int(b)) => (*a, *b as f64),
        _ => return None,
    };
    Some(Value::Float(float_arith(op, a, b)))
}
