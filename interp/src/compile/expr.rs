//! Compilation of AST expressions into expression descriptors: names (locals, upvalues,
//! globals through `_ENV`), constants, operators, indexing, calls, table constructors and
//! function literals.
//!
//! Chains that the grammar allows to be arbitrarily long are compiled iteratively so that the
//! Rust stack depth stays bounded: left-associative binary chains (`a + b + c ...`), the
//! right-nested `..` chains, unary operator chains and suffix chains (`a.b.c(d):e()...`).

use super::desc::{ExpDesc, ExpKind, MULTRET};
use super::{CResult, Compiler, VarRef};
use crate::ast::{BinOp, Expr, ExprKind, FuncBody, Line, TableField, UnOp};
use crate::opcode::{Instr, OpCode, MAX_AX, MAX_BX, MAX_C};

/// Positional table items flushed per `SETLIST` (PUC's `LFIELDS_PER_FLUSH`).
const FIELDS_PER_FLUSH: u32 = 50;

impl Compiler {
    /// Compiles an expression into a descriptor (no code is emitted for its final step yet,
    /// where possible).
    ///
    /// Instructions get the line of the last token PUC's parser would have consumed when
    /// emitting them, approximated by the greatest node line seen so far in the statement.
    /// Operators and suffixes carry the line of a token that follows their first operand, so
    /// their line is only taken into account when that token is reached.
    pub(super) fn expr(&mut self, e: &Expr) -> CResult<ExpDesc> {
        // A constructor's `NEWTABLE` is emitted before its `{` is read.
        if !matches!(
            e.kind,
            ExprKind::Binary(..)
                | ExprKind::Index(..)
                | ExprKind::Call(..)
                | ExprKind::MethodCall(..)
                | ExprKind::Table(..)
        ) {
            self.advance_line(e.line);
        }
        let desc = match &e.kind {
            ExprKind::Nil => ExpDesc::new(ExpKind::Nil),
            ExprKind::True => ExpDesc::new(ExpKind::True),
            ExprKind::False => ExpDesc::new(ExpKind::False),
            ExprKind::Int(i) => ExpDesc::new(ExpKind::KInt(*i)),
            ExprKind::Float(f) => ExpDesc::new(ExpKind::KFlt(*f)),
            ExprKind::Str(s) => ExpDesc::new(ExpKind::KStr(s.clone())),
            ExprKind::Vararg => {
                if !self.fs.is_vararg {
                    return Err(self
                        .fs
                        .error("cannot use '...' outside a vararg function near '...'"));
                }
                ExpDesc::new(ExpKind::Vararg(self.fs.emit_abc(OpCode::Vararg, 0, 0, 1)))
            }
            ExprKind::Function(body) => self.function_expr(body)?,
            ExprKind::Table(fields) => self.constructor(fields, e.end_line)?,
            ExprKind::Binary(BinOp::Concat, ..) => self.concat_chain(e)?,
            ExprKind::Binary(..) => self.binary_chain(e)?,
            ExprKind::Unary(..) => self.unary_chain(e)?,
            ExprKind::Name(name) => self.single_var(name)?,
            ExprKind::Index(..) | ExprKind::Call(..) | ExprKind::MethodCall(..) => {
                self.suffixed(e)?
            }
            ExprKind::Paren(inner) => {
                let mut v = self.expr(inner)?;
                // Truncates calls and `...` to one value.
                self.fs.discharge_vars(&mut v);
                v
            }
        };
        Ok(desc)
    }

    /// Moves the current line forward to `line` (never backward).
    pub(super) fn advance_line(&mut self, line: Line) {
        self.fs.line = self.fs.line.max(line);
    }

    /// Compiles an expression list, putting all but the last expression in consecutive
    /// registers; returns the number of expressions and the (pending) last one.
    pub(super) fn explist(&mut self, exprs: &[Expr]) -> CResult<(usize, ExpDesc)> {
        let Some((last, init)) = exprs.split_last() else {
            return Ok((0, ExpDesc::new(ExpKind::Void)));
        };
        for e in init {
            let mut v = self.expr(e)?;
            self.fs.exp2nextreg(&mut v)?;
        }
        Ok((exprs.len(), self.expr(last)?))
    }

    /// Compiles an expression into the next free register.
    pub(super) fn expr_to_next_reg(&mut self, e: &Expr) -> CResult<u32> {
        let mut v = self.expr(e)?;
        self.fs.exp2nextreg(&mut v)
    }

    /// A name: local, upvalue, compile-time constant or global (`_ENV.name`).
    pub(super) fn single_var(&mut self, name: &str) -> CResult<ExpDesc> {
        let var = self.resolve(name)?;
        self.var_desc(name, var)
    }

    /// The descriptor of a resolved name.
    pub(super) fn var_desc(&mut self, name: &str, var: VarRef) -> CResult<ExpDesc> {
        Ok(match var {
            VarRef::Local { reg, .. } => ExpDesc::new(ExpKind::Local(reg)),
            VarRef::Upval { idx, .. } => ExpDesc::new(ExpKind::Upval(idx)),
            VarRef::Const(k) => ExpDesc::constant(&k),
            VarRef::Global => {
                let mut env = match self.resolve("_ENV")? {
                    VarRef::Global => {
                        return Err(self.fs.error("internal error: no _ENV in scope"));
                    }
                    env => self.var_desc("_ENV", env)?,
                };
                self.fs.exp2anyregup(&mut env)?;
                let key = ExpDesc::new(ExpKind::KStr(name.as_bytes().into()));
                self.fs.indexed(&mut env, key)?;
                env
            }
        })
    }

    /// A left-associative chain of binary operators (any but `..`), compiled iteratively
    /// along its left spine.
    fn binary_chain(&mut self, e: &Expr) -> CResult<ExpDesc> {
        let mut spine: Vec<(BinOp, &Expr, Line)> = Vec::new();
        let mut cur = e;
        while let ExprKind::Binary(op, lhs, rhs) = &cur.kind {
            if *op == BinOp::Concat {
                break;
            }
            spine.push((*op, rhs, cur.line));
            cur = lhs;
        }
        let mut v = self.expr(cur)?;
        for &(op, rhs, line) in spine.iter().rev() {
            self.advance_line(line);
            self.fs.infix(op, &mut v)?;
            let v2 = self.expr(rhs)?;
            self.fs.posfix(op, &mut v, v2, line)?;
        }
        Ok(v)
    }

    /// A right-nested chain `a .. b .. c ...`: operands go to consecutive registers and a single
    /// `CONCAT` joins them.
    fn concat_chain(&mut self, e: &Expr) -> CResult<ExpDesc> {
        let mut operands = Vec::new();
        let mut lines = Vec::new();
        let mut cur = e;
        while let ExprKind::Binary(BinOp::Concat, lhs, rhs) = &cur.kind {
            operands.push(&**lhs);
            lines.push(cur.line);
            cur = rhs;
        }
        operands.push(cur);
        let mut regs = Vec::with_capacity(operands.len());
        for (i, operand) in operands.into_iter().enumerate() {
            let mut v = self.expr(operand)?;
            if let Some(&line) = lines.get(i) {
                // The operator after this operand has been read.
                self.advance_line(line);
            }
            regs.push(self.fs.exp2nextreg(&mut v)?);
        }
        // Join from the right, as nested binary operations would; the instruction gets the
        // line of the innermost operator.
        let line = lines.last().copied().unwrap_or(e.line);
        let mut right = regs.pop().unwrap_or_default();
        while let Some(left) = regs.pop() {
            self.fs.code_concat(left, right, line);
            right = left;
        }
        Ok(ExpDesc::new(ExpKind::NonReloc(right)))
    }

    /// A chain of unary operators, applied innermost first.
    fn unary_chain(&mut self, e: &Expr) -> CResult<ExpDesc> {
        let mut ops: Vec<(UnOp, Line)> = Vec::new();
        let mut cur = e;
        while let ExprKind::Unary(op, operand) = &cur.kind {
            ops.push((*op, cur.line));
            cur = operand;
        }
        let mut v = self.expr(cur)?;
        for &(op, line) in ops.iter().rev() {
            self.fs.prefix(op, &mut v, line)?;
        }
        Ok(v)
    }

    /// A primary expression followed by a chain of `[k]`/`.k`, calls and method calls.
    fn suffixed(&mut self, e: &Expr) -> CResult<ExpDesc> {
        let mut chain = Vec::new();
        let mut cur = e;
        while let ExprKind::Index(obj, _) | ExprKind::Call(obj, _) | ExprKind::MethodCall(obj, ..) =
            &cur.kind
        {
            chain.push(cur);
            cur = obj;
        }
        let mut v = self.expr(cur)?;
        for node in chain.iter().rev() {
            match &node.kind {
                ExprKind::Index(_, key) => {
                    self.fs.exp2anyregup(&mut v)?;
                    if !matches!(key.kind, ExprKind::Str(_)) {
                        // An upvalue table indexed by anything but a string constant goes to
                        // a register; do it before the key's code, which may contain jumps
                        // (`_ENV[1 < 2]`, the 5.4.7 bug).
                        self.fs.exp2anyreg(&mut v)?;
                    }
                    self.advance_line(node.line);
                    let mut k = self.expr(key)?;
                    self.fs.exp2val(&mut k)?;
                    self.fs.indexed(&mut v, k)?;
                }
                ExprKind::Call(_, args) => {
                    self.fs.exp2nextreg(&mut v)?;
                    self.advance_line(node.line);
                    self.call_args(&mut v, args, node)?;
                }
                ExprKind::MethodCall(_, name, args) => {
                    self.advance_line(node.line);
                    let key = ExpDesc::new(ExpKind::KStr(name.as_bytes().into()));
                    self.fs.self_op(&mut v, key)?;
                    self.call_args(&mut v, args, node)?;
                }
                _ => {}
            }
        }
        Ok(v)
    }

    /// Compiles the arguments of the call `call` whose function (and `self`) are already in
    /// registers from `f`'s register on, and emits the `CALL` (one result, adjustable later).
    fn call_args(&mut self, f: &mut ExpDesc, args: &[Expr], call: &Expr) -> CResult<()> {
        let ExpKind::NonReloc(base) = f.kind else {
            return Err(self.fs.error("internal error: call of a non-register"));
        };
        let line = call.line;
        let (_, mut last) = self.explist(args)?;
        // The last argument is completed after the closing token.
        self.advance_line(call.end_line);
        let nparams = if last.is_multi() {
            self.fs.set_returns(&mut last, MULTRET)?;
            MULTRET
        } else {
            if last.kind != ExpKind::Void {
                self.fs.exp2nextreg(&mut last)?;
            }
            (self.fs.free_reg - (base + 1)) as i32
        };
        let pc = self
            .fs
            .emit_abc(OpCode::Call, base, (nparams + 1) as u32, 2);
        self.fs.fix_line(line);
        f.kind = ExpKind::Call(pc);
        self.fs.free_reg = base + 1;
        Ok(())
    }

    /// A function literal: compiles the nested function and emits its `CLOSURE` into the next
    /// register.
    pub(super) fn function_expr(&mut self, body: &FuncBody) -> CResult<ExpDesc> {
        let proto = self.child_proto(body)?;
        let idx = self.fs.protos.len();
        if idx > MAX_BX as usize {
            return Err(self.fs.limit_error(MAX_BX as usize, "functions"));
        }
        self.fs.protos.push(std::rc::Rc::new(proto));
        self.advance_line(body.end_line);
        let pc = self.fs.emit_abx(OpCode::Closure, 0, idx as u32);
        let mut e = ExpDesc::new(ExpKind::Reloc(pc));
        self.fs.exp2nextreg(&mut e)?;
        Ok(e)
    }

    /// A table constructor: `NEWTABLE` + `EXTRAARG` (sizes patched at the end), named and keyed
    /// fields stored as they come, positional items flushed with `SETLIST` every 50.
    fn constructor(&mut self, fields: &[TableField], end_line: Line) -> CResult<ExpDesc> {
        let pc = self.fs.emit_abc(OpCode::NewTable, 0, 0, 0);
        self.fs.emit_extra_arg(0)?;
        let table = self.fs.free_reg;
        self.fs.reserve_regs(1)?;
        let mut array_size: usize = 0;
        let mut hash_size: usize = 0;
        let mut to_store: u32 = 0;
        let mut pending: Option<ExpDesc> = None;
        for field in fields {
            if let Some(mut v) = pending.take() {
                self.fs.exp2nextreg(&mut v)?;
                if to_store == FIELDS_PER_FLUSH {
                    self.set_list(table, array_size, to_store as i32)?;
                    array_size += to_store as usize;
                    to_store = 0;
                }
            }
            match field {
                TableField::Pos(e) => {
                    pending = Some(self.expr(e)?);
                    to_store += 1;
                }
                TableField::Named(name, value) => {
                    hash_size += 1;
                    self.record_field(table, None, name, value)?;
                }
                TableField::Keyed(key, value) => {
                    hash_size += 1;
                    self.record_field(table, Some(key), "", value)?;
                }
            }
        }
        // The last item is completed after the closing `}`.
        self.advance_line(end_line);
        if to_store > 0 {
            match pending {
                Some(mut v) if v.is_multi() => {
                    self.fs.set_returns(&mut v, MULTRET)?;
                    self.set_list(table, array_size, MULTRET)?;
                    // The open item is not counted.
                    array_size += to_store as usize - 1;
                }
                other => {
                    if let Some(mut v) = other {
                        self.fs.exp2nextreg(&mut v)?;
                    }
                    self.set_list(table, array_size, to_store as i32)?;
                    array_size += to_store as usize;
                }
            }
        }
        self.set_table_size(pc, table, array_size, hash_size);
        Ok(ExpDesc::new(ExpKind::NonReloc(table)))
    }

    /// `[key] = value` (`key` given) or `name = value` inside a constructor.
    fn record_field(
        &mut self,
        table: u32,
        key: Option<&Expr>,
        name: &str,
        value: &Expr,
    ) -> CResult<()> {
        let reg = self.fs.free_reg;
        let key = match key {
            Some(key) => {
                let mut k = self.expr(key)?;
                self.fs.exp2val(&mut k)?;
                k
            }
            None => ExpDesc::new(ExpKind::KStr(name.as_bytes().into())),
        };
        let mut tab = ExpDesc::new(ExpKind::NonReloc(table));
        self.fs.indexed(&mut tab, key)?;
        let v = self.expr(value)?;
        self.fs.store_var(&tab, v)?;
        self.fs.free_reg = reg;
        Ok(())
    }

    /// `SETLIST base to_store nelems` (`to_store == MULTRET`: up to top).
    fn set_list(&mut self, base: u32, nelems: usize, to_store: i32) -> CResult<()> {
        let b = if to_store == MULTRET {
            0
        } else {
            to_store as u32
        };
        if nelems <= MAX_C as usize {
            self.fs.emit_abc(OpCode::SetList, base, b, nelems as u32);
        } else {
            let extra = nelems / (MAX_C as usize + 1);
            if extra > MAX_AX as usize {
                return Err(self.fs.error("too many items in a constructor"));
            }
            let c = nelems % (MAX_C as usize + 1);
            self.fs.emit_abck(OpCode::SetList, base, b, c as u32, true);
            self.fs.emit_extra_arg(extra as u32)?;
        }
        self.fs.free_reg = base + 1;
        Ok(())
    }

    /// Patches the `NEWTABLE` at `pc` (and its `EXTRAARG`) with the final size hints.
    fn set_table_size(&mut self, pc: usize, reg: u32, array_size: usize, hash_size: usize) {
        let b = if hash_size == 0 {
            0
        } else {
            ceil_log2(hash_size) + 1
        };
        let extra = (array_size / (MAX_C as usize + 1)).min(MAX_AX as usize) as u32;
        let c = (array_size % (MAX_C as usize + 1)) as u32;
        self.fs.code[pc] = Instr::abc(OpCode::NewTable, reg, b, c, extra > 0);
        self.fs.code[pc + 1] = Instr::ax(OpCode::ExtraArg, extra);
    }
}

/// `ceil(log2(x))` for `x >= 1`.
fn ceil_log2(x: usize) -> u32 {
    usize::BITS - (x - 1).leading_zeros()
}
