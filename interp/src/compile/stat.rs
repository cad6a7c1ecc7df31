//! Compilation of statements and blocks: local declarations (with `<const>`/`<close>`),
//! assignments, calls, control structures (`if`, `while`, `repeat`, numeric and generic `for`),
//! function statements, `return`, `break`, `goto` and labels.

use super::desc::{ExpDesc, ExpKind, MULTRET};
use super::{CResult, Compiler, VarKind};
use crate::ast::{Attrib, Block, Expr, ExprKind, FuncBody, IfArm, Line, Name, Return, Stat};
use crate::opcode::OpCode;

impl Compiler {
    /// Compiles a block in its own scope.
    pub(super) fn block(&mut self, block: &Block) -> CResult<()> {
        self.fs.enter_block(false);
        self.statlist(&block.stats, block.ret.as_ref(), false)?;
        self.fs.line = block.end_line;
        self.fs.leave_block()
    }

    /// Compiles statements (and a final `return`) in the current scope. `in_repeat`: the list is
    /// the body of a `repeat` (its `until` condition still sees the locals, so a label at the end
    /// is not "last").
    pub(super) fn statlist(
        &mut self,
        stats: &[Stat],
        ret: Option<&Return>,
        in_repeat: bool,
    ) -> CResult<()> {
        let mut i = 0;
        while i < stats.len() {
            if matches!(stats[i], Stat::Label { .. }) {
                // A run of labels is declared last to first (as PUC's parser does), all at the
                // same position.
                let end = stats[i..]
                    .iter()
                    .position(|s| !matches!(s, Stat::Label { .. }))
                    .map_or(stats.len(), |n| i + n);
                let last = end == stats.len() && ret.is_none() && !in_repeat;
                for stat in stats[i..end].iter().rev() {
                    if let Stat::Label { name, line } = stat {
                        self.fs.line = *line;
                        self.label_stat(name, *line, last)?;
                    }
                }
                if let Some(Stat::Label { line, .. }) = stats.get(end - 1) {
                    self.fs.line = *line;
                }
                i = end;
                continue;
            }
            self.statement(&stats[i])?;
            i += 1;
        }
        if let Some(ret) = ret {
            self.ret_stat(ret)?;
        }
        Ok(())
    }

    fn statement(&mut self, stat: &Stat) -> CResult<()> {
        match stat {
            Stat::Call(e) => {
                self.fs.line = first_line(e);
                let v = self.expr(e)?;
                let ExpKind::Call(pc) = v.kind else {
                    return Err(self.fs.error("syntax error"));
                };
                // A call statement uses no results.
                self.fs.code[pc] = self.fs.code[pc].with_c(1);
            }
            Stat::Local {
                names,
                exprs,
                line,
                end_line,
            } => {
                self.fs.line = *line;
                self.local_stat(names, exprs, *end_line)?;
            }
            Stat::Assign {
                targets,
                exprs,
                line,
                end_line,
            } => {
                self.fs.line = *line;
                self.assign_stat(targets, exprs, *end_line)?;
            }
            Stat::Do(block) => self.block(block)?,
            Stat::While {
                cond,
                body,
                line,
                cond_line,
                end_line,
            } => {
                self.fs.line = *line;
                self.while_stat(cond, *cond_line, body, *end_line)?;
            }
            Stat::Repeat {
                body,
                cond,
                line,
                cond_line,
            } => {
                self.fs.line = *line;
                self.repeat_stat(body, cond, *cond_line)?;
            }
            Stat::If {
                arms,
                else_block,
                line,
            } => {
                self.fs.line = *line;
                self.if_stat(arms, else_block.as_ref())?;
            }
            Stat::NumFor {
                var,
                start,
                limit,
                step,
                body,
                line,
                do_line,
                end_line,
            } => {
                self.fs.line = *line;
                let lines = ForLines {
                    loop_line: *line,
                    do_line: *do_line,
                    end_line: *end_line,
                };
                self.numeric_for(var, start, limit, step.as_ref(), body, lines)?;
            }
            Stat::GenFor {
                names,
                exprs,
                body,
                line,
                iter_line,
                do_line,
                end_line,
            } => {
                self.fs.line = *line;
                let lines = ForLines {
                    loop_line: *iter_line,
                    do_line: *do_line,
                    end_line: *end_line,
                };
                self.generic_for(names, exprs, body, lines)?;
            }
            Stat::Function {
                path,
                method,
                func,
                line,
            } => {
                self.fs.line = *line;
                self.function_stat(path, method.as_deref(), func, *line)?;
            }
            Stat::LocalFunction { name, func, line } => {
                self.fs.line = *line;
                self.local_function(name, func)?;
            }
            Stat::Break { line } => {
                self.fs.line = *line;
                let j = self.fs.jump();
                self.fs.new_goto("break", *line, Some(j));
            }
            Stat::Goto { label, line } => {
                self.fs.line = *line;
                self.goto_stat(label, *line)?;
            }
            Stat::Label { name, line } => self.label_stat(name, *line, false)?,
        }
        // Free the temporaries of the statement.
        debug_assert!(self.fs.free_reg >= self.fs.nvarstack());
        self.fs.free_reg = self.fs.nvarstack();
        Ok(())
    }

    /// `local n1 <attr>, n2 = e1, e2`
    fn local_stat(
        &mut self,
        names: &[(Name, Attrib)],
        exprs: &[Expr],
        end_line: Line,
    ) -> CResult<()> {
        let first = self.fs.nactvar;
        let mut to_close = None;
        for (i, (name, attrib)) in names.iter().enumerate() {
            let kind = match attrib {
                Attrib::None => VarKind::Regular,
                Attrib::Const => VarKind::Const,
                Attrib::Close => {
                    if to_close.is_some() {
                        return Err(self
                            .fs
                            .error("multiple to-be-closed variables in local list"));
                    }
                    to_close = Some(first + i);
                    VarKind::Close
                }
            };
            self.fs.new_local(name, kind)?;
        }
        let nvars = names.len();
        let (nexps, e) = self.explist(exprs)?;
        self.fs.line = end_line;
        let last = first + nvars - 1;
        let constant = if nvars == nexps && self.fs.actvars[last].kind == VarKind::Const {
            e.to_constant()
        } else {
            None
        };
        if let Some(k) = constant {
            // The last variable is a compile-time constant: it needs no register.
            self.fs.actvars[last].kind = VarKind::CompileTimeConst(k);
            self.fs.adjust_local_vars(nvars - 1);
            self.fs.nactvar += 1;
        } else {
            self.adjust_assign(nvars, nexps, e)?;
            self.fs.adjust_local_vars(nvars);
        }
        if let Some(vidx) = to_close {
            self.fs.mark_to_be_closed();
            let reg = self.fs.reg_level(vidx);
            self.fs.emit_abc(OpCode::Tbc, reg, 0, 0);
        }
        Ok(())
    }

    /// Adjusts the values of an expression list (`nexps` values, the last one `e` still
    /// pending) to exactly `nvars` values in consecutive registers.
    fn adjust_assign(&mut self, nvars: usize, nexps: usize, mut e: ExpDesc) -> CResult<()> {
        let needed = nvars as i64 - nexps as i64;
        if needed > 0 {
            self.fs.check_stack(needed as u32)?;
        }
        if e.is_multi() {
            let extra = (needed + 1).max(0);
            self.fs.set_returns(&mut e, extra as i32)?;
        } else {
            if e.kind != ExpKind::Void {
                self.fs.exp2nextreg(&mut e)?;
            }
            if needed > 0 {
                self.fs.load_nil(self.fs.free_reg, needed as u32);
            }
        }
        if needed > 0 {
            self.fs.reserve_regs(needed as u32)?;
        } else {
            self.fs.free_reg = (self.fs.free_reg as i64 + needed) as u32;
        }
        Ok(())
    }

    /// `t1, t2 = e1, e2`
    fn assign_stat(&mut self, targets: &[Expr], exprs: &[Expr], end_line: Line) -> CResult<()> {
        let mut lhs: Vec<ExpDesc> = Vec::with_capacity(targets.len());
        for target in targets {
            let v = self.assign_target(target)?;
            if !v.is_indexed() {
                self.fs.check_conflict(&mut lhs, &v)?;
            }
            lhs.push(v);
        }
        let nvars = lhs.len();
        let (nexps, mut e) = self.explist(exprs)?;
        self.fs.line = end_line;
        if nexps == nvars {
            // The last value goes straight to the last target.
            self.fs.set_one_ret(&mut e);
            if let Some(var) = lhs.pop() {
                self.fs.store_var(&var, e)?;
            }
        } else {
            self.adjust_assign(nvars, nexps, e)?;
        }
        // The other values are on the stack, last on top.
        while let Some(var) = lhs.pop() {
            let reg = self.fs.free_reg - 1;
            self.fs
                .store_var(&var, ExpDesc::new(ExpKind::NonReloc(reg)))?;
        }
        Ok(())
    }

    /// An assignment target: a (writable) variable or a table field.
    fn assign_target(&mut self, target: &Expr) -> CResult<ExpDesc> {
        match &target.kind {
            ExprKind::Name(name) => {
                let var = self.resolve(name)?;
                if var.readonly() {
                    return Err(self
                        .fs
                        .error(format!("attempt to assign to const variable '{name}'")));
                }
                self.var_desc(name, var)
            }
            ExprKind::Index(..) => self.expr(target),
            _ => Err(self.fs.error("syntax error")),
        }
    }

    /// `function a.b.c:m() body end`
    fn function_stat(
        &mut self,
        path: &[Name],
        method: Option<&str>,
        func: &FuncBody,
        line: Line,
    ) -> CResult<()> {
        let Some((first, fields)) = path.split_first() else {
            return Err(self.fs.error("syntax error"));
        };
        let var = self.resolve(first)?;
        let readonly = var.readonly();
        let mut v = self.var_desc(first, var)?;
        for name in fields.iter().map(|n| &**n).chain(method) {
            self.fs.exp2anyregup(&mut v)?;
            let key = ExpDesc::new(ExpKind::KStr(name.as_bytes().into()));
            self.fs.indexed(&mut v, key)?;
        }
        let b = self.function_expr(func)?;
        if readonly && fields.is_empty() && method.is_none() {
            return Err(self.fs.error_at(
                line,
                format!("attempt to assign to const variable '{first}'"),
            ));
        }
        self.fs.store_var(&v, b)?;
        // The definition "happens" on the first line.
        self.fs.fix_line(line);
        Ok(())
    }

    /// `local function f() body end` (`f` is visible in its own body).
    fn local_function(&mut self, name: &str, func: &FuncBody) -> CResult<()> {
        let vidx = self.fs.nactvar;
        self.fs.new_local(name, VarKind::Regular)?;
        self.fs.adjust_local_vars(1);
        self.function_expr(func)?;
        // Debug information only sees the variable after the closure is built.
        let pidx = self.fs.actvars[vidx].pidx;
        self.fs.locvars[pidx].start_pc = self.fs.pc() as u32;
        Ok(())
    }

    /// `return explist` (a single call becomes a tail call outside to-be-closed scopes).
    fn ret_stat(&mut self, ret: &Return) -> CResult<()> {
        self.fs.line = ret.line;
        let mut first = self.fs.nvarstack();
        let (nexps, mut e) = self.explist(&ret.exprs)?;
        self.fs.line = ret.end_line;
        let nret = if nexps == 0 {
            0
        } else if e.is_multi() {
            self.fs.set_returns(&mut e, MULTRET)?;
            if matches!(e.kind, ExpKind::Call(_)) && nexps == 1 && !self.fs.inside_tbc() {
                self.fs.make_tail_call(&e);
            }
            MULTRET
        } else if nexps == 1 {
            first = self.fs.exp2anyreg(&mut e)?;
            1
        } else {
            self.fs.exp2nextreg(&mut e)?;
            nexps as i32
        };
        self.fs.ret(first, nret);
        Ok(())
    }

    /// `goto label`: a backward jump is resolved now, a forward one stays pending.
    fn goto_stat(&mut self, label: &str, line: Line) -> CResult<()> {
        if let Some(lb) = self.fs.find_label(label) {
            let (pc, nactvar) = (lb.pc, lb.nactvar);
            let level = self.fs.reg_level(nactvar);
            if self.fs.nvarstack() > level {
                // Leaving the scope of some variable: close it.
                self.fs.emit_abc(OpCode::Close, level, 0, 0);
            }
            self.fs.jump_to(pc)
        } else {
            let j = self.fs.jump();
            self.fs.new_goto(label, line, Some(j));
            Ok(())
        }
    }

    /// `::name::`
    fn label_stat(&mut self, name: &str, line: Line, last: bool) -> CResult<()> {
        if let Some(lb) = self.fs.find_label(name) {
            let msg = format!("label '{name}' already defined on line {}", lb.line);
            return Err(self.fs.error_at(line, msg));
        }
        self.fs.create_label(name, line, last)?;
        Ok(())
    }

    /// A loop condition whose last token is on `end_line`: falls through when true; returns
    /// the jumps taken when false.
    fn cond(&mut self, e: &Expr, end_line: Line) -> CResult<Option<usize>> {
        let mut v = self.expr(e)?;
        self.fs.line = end_line;
        if v.kind == ExpKind::Nil {
            v.kind = ExpKind::False;
        }
        self.fs.go_if_true(&mut v)?;
        Ok(v.f)
    }

    /// `while cond do body end`
    fn while_stat(
        &mut self,
        cond: &Expr,
        cond_line: Line,
        body: &Block,
        end_line: Line,
    ) -> CResult<()> {
        let init = self.fs.get_label();
        let exit = self.cond(cond, cond_line)?;
        self.fs.enter_block(true);
        self.block(body)?;
        self.fs.jump_to(init)?;
        self.fs.line = end_line;
        self.fs.leave_block()?;
        self.fs.patch_to_here(exit)
    }

    /// `repeat body until cond` (the condition is inside the body's scope).
    fn repeat_stat(&mut self, body: &Block, cond: &Expr, cond_line: Line) -> CResult<()> {
        let init = self.fs.get_label();
        self.fs.enter_block(true);
        self.fs.enter_block(false);
        self.statlist(&body.stats, body.ret.as_ref(), true)?;
        let mut exit = self.cond(cond, cond_line)?;
        let (upval, nactvar) = self
            .fs
            .blocks
            .last()
            .map_or((false, 0), |b| (b.upval, b.nactvar));
        self.fs.leave_block()?;
        if upval {
            // Repeating must close the body's upvalues too: the false exits go through a CLOSE.
            let normal_exit = self.fs.jump();
            self.fs.patch_to_here(exit)?;
            let level = self.fs.reg_level(nactvar);
            self.fs.emit_abc(OpCode::Close, level, 0, 0);
            exit = Some(self.fs.jump());
            self.fs.patch_to_here(Some(normal_exit))?;
        }
        self.fs.patch_list(exit, init)?;
        self.fs.leave_block()
    }

    /// `if c1 then b1 elseif c2 then b2 else b3 end`
    fn if_stat(&mut self, arms: &[IfArm], else_block: Option<&Block>) -> CResult<()> {
        let mut escape = None;
        for (i, arm) in arms.iter().enumerate() {
            let followed = i + 1 < arms.len() || else_block.is_some();
            self.test_then_block(arm, followed, &mut escape)?;
        }
        if let Some(block) = else_block {
            self.block(block)?;
        }
        self.fs.patch_to_here(escape)
    }

    /// `[else]if cond then block`; `followed`: an `elseif`/`else` part comes next, reached by
    /// jumping over this one's end through `escape`.
    fn test_then_block(
        &mut self,
        arm: &IfArm,
        followed: bool,
        escape: &mut Option<usize>,
    ) -> CResult<()> {
        let block = &arm.block;
        let mut v = self.expr(&arm.cond)?;
        // The test comes after `then`.
        self.fs.line = arm.then_line;
        let false_jumps;
        let rest: &[Stat];
        if let Some(Stat::Break { line }) = block.stats.first() {
            // `if cond then break`: jump straight out of the loop when the condition holds.
            self.fs.go_if_false(&mut v)?;
            self.fs.enter_block(false);
            self.fs.new_goto("break", *line, v.t);
            self.fs.line = *line;
            if block.stats.len() == 1 && block.ret.is_none() {
                return self.fs.leave_block();
            }
            false_jumps = Some(self.fs.jump());
            rest = &block.stats[1..];
        } else {
            self.fs.go_if_true(&mut v)?;
            self.fs.enter_block(false);
            false_jumps = v.f;
            rest = &block.stats;
        }
        self.statlist(rest, block.ret.as_ref(), false)?;
        self.fs.line = block.end_line;
        self.fs.leave_block()?;
        if followed {
            let j = self.fs.jump();
            self.fs.concat_jumps(escape, Some(j))?;
        }
        self.fs.patch_to_here(false_jumps)
    }

    /// `for var = start, limit [, step] do body end`
    fn numeric_for(
        &mut self,
        var: &str,
        start: &Expr,
        limit: &Expr,
        step: Option<&Expr>,
        body: &Block,
        lines: ForLines,
    ) -> CResult<()> {
        self.fs.enter_block(true);
        let base = self.fs.free_reg;
        for _ in 0..3 {
            self.fs.new_local("(for state)", VarKind::Regular)?;
        }
        self.fs.new_local(var, VarKind::Regular)?;
        self.expr_to_next_reg(start)?;
        self.expr_to_next_reg(limit)?;
        match step {
            Some(step) => {
                self.expr_to_next_reg(step)?;
            }
            None => {
                self.fs.load_int(self.fs.free_reg, 1)?;
                self.fs.reserve_regs(1)?;
            }
        }
        self.fs.adjust_local_vars(3);
        self.for_body(base, lines, 1, false, body)?;
        self.fs.line = lines.end_line;
        self.fs.leave_block()
    }

    /// `for n1, n2 in explist do body end`
    fn generic_for(
        &mut self,
        names: &[Name],
        exprs: &[Expr],
        body: &Block,
        lines: ForLines,
    ) -> CResult<()> {
        self.fs.enter_block(true);
        let base = self.fs.free_reg;
        for _ in 0..4 {
            self.fs.new_local("(for state)", VarKind::Regular)?;
        }
        for name in names {
            self.fs.new_local(name, VarKind::Regular)?;
        }
        let (nexps, e) = self.explist(exprs)?;
        self.adjust_assign(4, nexps, e)?;
        self.fs.adjust_local_vars(4);
        // The closing value (4th state variable) must be closed when the loop ends.
        self.fs.mark_to_be_closed();
        // Room to call the iterator.
        self.fs.check_stack(3)?;
        self.for_body(base, lines, names.len(), true, body)?;
        self.fs.line = lines.end_line;
        self.fs.leave_block()
    }

    /// The body of a `for` with its prep and loop instructions; `nvars` user variables start
    /// at `base + 3` (numeric) or `base + 4` (generic).
    fn for_body(
        &mut self,
        base: u32,
        lines: ForLines,
        nvars: usize,
        generic: bool,
        body: &Block,
    ) -> CResult<()> {
        let line = lines.loop_line;
        let (prep_op, loop_op) = if generic {
            (OpCode::TForPrep, OpCode::TForLoop)
        } else {
            (OpCode::ForPrep, OpCode::ForLoop)
        };
        self.fs.line = lines.do_line;
        let prep = self.fs.emit_abx(prep_op, base, 0);
        self.fs.enter_block(false);
        self.fs.adjust_local_vars(nvars);
        self.fs.reserve_regs(nvars as u32)?;
        self.block(body)?;
        self.fs.leave_block()?;
        let here = self.fs.get_label();
        self.fs.fix_for_jump(prep, here, false)?;
        if generic {
            self.fs.emit_abc(OpCode::TForCall, base, 0, nvars as u32);
            self.fs.fix_line(line);
        }
        let end = self.fs.emit_abx(loop_op, base, 0);
        self.fs.fix_line(line);
        self.fs.fix_for_jump(end, prep + 1, true)
    }
}

/// Source lines of a `for` statement.
#[derive(Clone, Copy)]
struct ForLines {
    /// Line given to the loop instructions (`FORLOOP`, `TFORCALL`, `TFORLOOP`).
    loop_line: Line,
    /// Line of `do`, where the prep instruction goes.
    do_line: Line,
    /// Line of `end`, where the loop's scope is left.
    end_line: Line,
}

/// Line of the first token of an expression (the start of its leftmost operand).
fn first_line(e: &Expr) -> Line {
    let mut cur = e;
    loop {
        match &cur.kind {
            ExprKind::Index(obj, _)
            | ExprKind::Call(obj, _)
            | ExprKind::MethodCall(obj, ..)
            | ExprKind::Binary(_, obj, _) => cur = obj,
            _ => return cur.line,
        }
    }
}
