//! Expression descriptors ([`ExpDesc`]) and the code generation that operates on them:
//! discharging a descriptor into a register, a constant operand or a conditional jump;
//! indexing, stores and method lookup; unary and binary operators (with constant folding,
//! immediate and constant operands, and jump-based comparisons and `and`/`or`/`not`).

use super::code::{fits_c, set_opcode, NO_REG};
use super::fold::{self, Num};
use super::{CResult, FuncState};
use crate::ast::{BinOp, UnOp};
use crate::opcode::{OpCode, MAX_C, OFFSET_SC};
use crate::proto::Constant;

/// `nresults` meaning "all results" (a C or B field of 0).
pub(super) const MULTRET: i32 = -1;

/// Where the value of an expression is (or how to get it).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ExpKind {
    /// No value (an empty expression list).
    Void,
    Nil,
    True,
    False,
    /// An integer constant, not yet in the constant table.
    KInt(i64),
    /// A float constant, not yet in the constant table.
    KFlt(f64),
    /// A string constant, not yet in the constant table.
    KStr(Box<[u8]>),
    /// Constant number `.0` of the constant table.
    K(u32),
    /// The value is in this register.
    NonReloc(u32),
    /// A local variable in this register.
    Local(u32),
    /// Upvalue number `.0`.
    Upval(u32),
    /// `R[t][R[key]]`
    Indexed {
        t: u32,
        key: u32,
    },
    /// `Up[t][K[key]]` with a string constant key.
    IndexUp {
        t: u32,
        key: u32,
    },
    /// `R[t][idx]` with an integer key in `0..=255`.
    IndexInt {
        t: u32,
        idx: u32,
    },
    /// `R[t][K[key]]` with a string constant key.
    IndexStr {
        t: u32,
        key: u32,
    },
    /// A test or comparison: the position of its `JMP` (taken when the condition holds).
    Jmp(usize),
    /// The instruction at `.0` computes the value; its A register is still to be set.
    Reloc(usize),
    /// The `CALL` at `.0` (open: its number of results can still be set).
    Call(usize),
    /// The `VARARG` at `.0` (open: its number of results can still be set).
    Vararg(usize),
}

/// An expression descriptor: its kind plus jump lists to patch when the expression is known to
/// be true (`t`) or false (`f`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExpDesc {
    pub(super) kind: ExpKind,
    pub(super) t: Option<usize>,
    pub(super) f: Option<usize>,
}

impl ExpDesc {
    pub(super) fn new(kind: ExpKind) -> ExpDesc {
        ExpDesc {
            kind,
            t: None,
            f: None,
        }
    }

    /// The descriptor of a constant value.
    pub(super) fn constant(k: &Constant) -> ExpDesc {
        ExpDesc::new(match k {
            Constant::Nil => ExpKind::Nil,
            Constant::Bool(true) => ExpKind::True,
            Constant::Bool(false) => ExpKind::False,
            Constant::Int(i) => ExpKind::KInt(*i),
            Constant::Float(f) => ExpKind::KFlt(*f),
            Constant::Str(s) => ExpKind::KStr(s.clone()),
        })
    }

    pub(super) fn has_jumps(&self) -> bool {
        self.t.is_some() || self.f.is_some()
    }

    /// An open call or `...` (can produce several values).
    pub(super) fn is_multi(&self) -> bool {
        matches!(self.kind, ExpKind::Call(_) | ExpKind::Vararg(_))
    }

    /// A table field or global (an assignable non-local).
    pub(super) fn is_indexed(&self) -> bool {
        matches!(
            self.kind,
            ExpKind::Indexed { .. }
                | ExpKind::IndexUp { .. }
                | ExpKind::IndexInt { .. }
                | ExpKind::IndexStr { .. }
        )
    }

    /// The numeric constant, if this is one (without jumps).
    fn numeral(&self) -> Option<Num> {
        if self.has_jumps() {
            return None;
        }
        match self.kind {
            ExpKind::KInt(i) => Some(Num::Int(i)),
            ExpKind::KFlt(f) => Some(Num::Flt(f)),
            _ => None,
        }
    }

    /// An integer constant fitting a signed sC operand.
    fn is_sc_int(&self) -> bool {
        matches!(self.kind, ExpKind::KInt(i) if !self.has_jumps() && fits_sc(i))
    }

    /// A number usable as a signed immediate: its encoding and whether it was a float.
    fn sc_number(&self) -> Option<(u32, bool)> {
        let (i, is_float) = match self.numeral()? {
            Num::Int(i) => (i, false),
            Num::Flt(f) => (fold::float_to_int(f)?, true),
        };
        fits_sc(i).then(|| (encode_sc(i), is_float))
    }

    /// The value, if this is a compile-time constant (for `<const>` locals).
    pub(super) fn to_constant(&self) -> Option<Constant> {
        if self.has_jumps() {
            return None;
        }
        Some(match &self.kind {
            ExpKind::Nil => Constant::Nil,
            ExpKind::True => Constant::Bool(true),
            ExpKind::False => Constant::Bool(false),
            ExpKind::KInt(i) => Constant::Int(*i),
            ExpKind::KFlt(f) => Constant::Float(*f),
            ExpKind::KStr(s) => Constant::Str(s.clone()),
            _ => return None,
        })
    }
}

fn fits_sc(i: i64) -> bool {
    (-(OFFSET_SC as i64)..=(MAX_C as i64 - OFFSET_SC as i64)).contains(&i)
}

fn encode_sc(i: i64) -> u32 {
    (i + OFFSET_SC as i64) as u32
}

/// The register-register opcode of an arithmetic or bitwise operator.
fn binop_opcode(op: BinOp) -> OpCode {
    match op {
        BinOp::Add => OpCode::Add,
        BinOp::Sub => OpCode::Sub,
        BinOp::Mul => OpCode::Mul,
        BinOp::Div => OpCode::Div,
        BinOp::IDiv => OpCode::IDiv,
        BinOp::Mod => OpCode::Mod,
        BinOp::Pow => OpCode::Pow,
        BinOp::BAnd => OpCode::BAnd,
        BinOp::BOr => OpCode::BOr,
        BinOp::BXor => OpCode::BXor,
        BinOp::Shl => OpCode::Shl,
        _ => OpCode::Shr,
    }
}

/// The constant-operand opcode of an arithmetic or bitwise operator.
fn binop_k_opcode(op: BinOp) -> Option<OpCode> {
    Some(match op {
        BinOp::Add => OpCode::AddK,
        BinOp::Sub => OpCode::SubK,
        BinOp::Mul => OpCode::MulK,
        BinOp::Div => OpCode::DivK,
        BinOp::IDiv => OpCode::IDivK,
        BinOp::Mod => OpCode::ModK,
        BinOp::Pow => OpCode::PowK,
        BinOp::BAnd => OpCode::BAndK,
        BinOp::BOr => OpCode::BOrK,
        BinOp::BXor => OpCode::BXorK,
        _ => return None,
    })
}

impl FuncState {
    // ----- discharging -----

    /// Frees the register of a temporary value.
    pub(super) fn free_exp(&mut self, e: &ExpDesc) {
        if let ExpKind::NonReloc(r) = e.kind {
            self.free_register(r);
        }
    }

    /// Frees the registers of two temporaries in the right order.
    fn free_exps(&mut self, e1: &ExpDesc, e2: &ExpDesc) {
        match (&e1.kind, &e2.kind) {
            (ExpKind::NonReloc(r1), ExpKind::NonReloc(r2)) => self.free_registers(*r1, *r2),
            _ => {
                self.free_exp(e1);
                self.free_exp(e2);
            }
        }
    }

    /// Turns variables and open calls into values (registers or relocatable instructions).
    pub(super) fn discharge_vars(&mut self, e: &mut ExpDesc) {
        e.kind = match e.kind {
            ExpKind::Local(reg) => ExpKind::NonReloc(reg),
            ExpKind::Upval(idx) => ExpKind::Reloc(self.emit_abc(OpCode::GetUpval, 0, idx, 0)),
            ExpKind::IndexUp { t, key } => {
                ExpKind::Reloc(self.emit_abc(OpCode::GetTabUp, 0, t, key))
            }
            ExpKind::IndexInt { t, idx } => {
                self.free_register(t);
                ExpKind::Reloc(self.emit_abc(OpCode::GetI, 0, t, idx))
            }
            ExpKind::IndexStr { t, key } => {
                self.free_register(t);
                ExpKind::Reloc(self.emit_abc(OpCode::GetField, 0, t, key))
            }
            ExpKind::Indexed { t, key } => {
                self.free_registers(t, key);
                ExpKind::Reloc(self.emit_abc(OpCode::GetTable, 0, t, key))
            }
            ExpKind::Call(_) | ExpKind::Vararg(_) => {
                self.set_one_ret(e);
                return;
            }
            _ => return,
        };
    }

    /// Puts the value of `e` (jumps aside) into `reg`.
    fn discharge_to_reg(&mut self, e: &mut ExpDesc, reg: u32) -> CResult<()> {
        self.discharge_vars(e);
        match std::mem::replace(&mut e.kind, ExpKind::Void) {
            ExpKind::Nil => self.load_nil(reg, 1),
            ExpKind::False => {
                self.emit_abc(OpCode::LoadFalse, reg, 0, 0);
            }
            ExpKind::True => {
                self.emit_abc(OpCode::LoadTrue, reg, 0, 0);
            }
            ExpKind::KStr(s) => {
                let k = self.add_constant(Constant::Str(s))?;
                self.load_constant(reg, k)?;
            }
            ExpKind::K(k) => self.load_constant(reg, k)?,
            ExpKind::KFlt(f) => self.load_float(reg, f)?,
            ExpKind::KInt(i) => self.load_int(reg, i)?,
            ExpKind::Reloc(pc) => self.code[pc] = self.code[pc].with_a(reg),
            ExpKind::NonReloc(r) => {
                if r != reg {
                    self.emit_abc(OpCode::Move, reg, r, 0);
                }
            }
            other => {
                // A jump (its value is produced by `exp2reg`) or nothing at all.
                e.kind = other;
                return Ok(());
            }
        }
        e.kind = ExpKind::NonReloc(reg);
        Ok(())
    }

    /// Puts the value of `e` (jumps aside) into some register.
    fn discharge_to_any_reg(&mut self, e: &mut ExpDesc) -> CResult<()> {
        if !matches!(e.kind, ExpKind::NonReloc(_)) {
            self.reserve_regs(1)?;
            self.discharge_to_reg(e, self.free_reg - 1)?;
        }
        Ok(())
    }

    /// Emits `op reg` at a jump target (for boolean materialisation); returns its position.
    fn code_load_bool(&mut self, reg: u32, op: OpCode) -> usize {
        self.get_label();
        self.emit_abc(op, reg, 0, 0)
    }

    /// Puts the complete value of `e` (including its jump lists) into `reg`.
    pub(super) fn exp2reg(&mut self, e: &mut ExpDesc, reg: u32) -> CResult<()> {
        self.discharge_to_reg(e, reg)?;
        if let ExpKind::Jmp(pc) = e.kind {
            self.concat_jumps(&mut e.t, Some(pc))?;
        }
        if e.has_jumps() {
            let mut p_f = None;
            let mut p_t = None;
            if self.need_value(e.t) || self.need_value(e.f) {
                let fj = if matches!(e.kind, ExpKind::Jmp(_)) {
                    None
                } else {
                    Some(self.jump())
                };
                p_f = Some(self.code_load_bool(reg, OpCode::LFalseSkip));
                p_t = Some(self.code_load_bool(reg, OpCode::LoadTrue));
                self.patch_to_here(fj)?;
            }
            let end = self.get_label();
            // Without a load position every jump carries its value (all are TESTSETs).
            self.patch_list_aux(e.f, end, reg, p_f.unwrap_or(end))?;
            self.patch_list_aux(e.t, end, reg, p_t.unwrap_or(end))?;
        }
        e.t = None;
        e.f = None;
        e.kind = ExpKind::NonReloc(reg);
        Ok(())
    }

    /// Puts the value of `e` into the next free register; returns it.
    pub(super) fn exp2nextreg(&mut self, e: &mut ExpDesc) -> CResult<u32> {
        self.discharge_vars(e);
        self.free_exp(e);
        self.reserve_regs(1)?;
        let reg = self.free_reg - 1;
        self.exp2reg(e, reg)?;
        Ok(reg)
    }

    /// Puts the value of `e` into some register (its own if it already has one); returns it.
    pub(super) fn exp2anyreg(&mut self, e: &mut ExpDesc) -> CResult<u32> {
        self.discharge_vars(e);
        if let ExpKind::NonReloc(reg) = e.kind {
            if !e.has_jumps() {
                return Ok(reg);
            }
            if reg >= self.nvarstack() {
                // A temporary: the jumps can put their values there too.
                self.exp2reg(e, reg)?;
                return Ok(reg);
            }
            // A local must not be overwritten by the jump values: use a new register.
        }
        self.exp2nextreg(e)
    }

    /// Makes `e` a register or an upvalue (an indexable base).
    pub(super) fn exp2anyregup(&mut self, e: &mut ExpDesc) -> CResult<()> {
        if !matches!(e.kind, ExpKind::Upval(_)) || e.has_jumps() {
            self.exp2anyreg(e)?;
        }
        Ok(())
    }

    /// Makes `e` a value: a register if it has jumps, otherwise anything discharged.
    pub(super) fn exp2val(&mut self, e: &mut ExpDesc) -> CResult<()> {
        if e.has_jumps() {
            self.exp2anyreg(e)?;
        } else {
            self.discharge_vars(e);
        }
        Ok(())
    }

    /// Turns a constant into a constant-table operand (`K`) if its index fits the C field.
    fn exp2k(&mut self, e: &mut ExpDesc) -> CResult<bool> {
        if e.has_jumps() {
            return Ok(false);
        }
        let k = match &e.kind {
            ExpKind::True => Constant::Bool(true),
            ExpKind::False => Constant::Bool(false),
            ExpKind::Nil => Constant::Nil,
            ExpKind::KInt(i) => Constant::Int(*i),
            ExpKind::KFlt(f) => Constant::Float(*f),
            ExpKind::KStr(s) => Constant::Str(s.clone()),
            ExpKind::K(_) => return Ok(true),
            _ => return Ok(false),
        };
        let idx = self.add_constant(k)?;
        if idx <= MAX_C {
            e.kind = ExpKind::K(idx);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// An RK operand: `(true, constant index)` or `(false, register)`.
    pub(super) fn exp2rk(&mut self, e: &mut ExpDesc) -> CResult<(bool, u32)> {
        if self.exp2k(e)? {
            if let ExpKind::K(k) = e.kind {
                return Ok((true, k));
            }
        }
        Ok((false, self.exp2anyreg(e)?))
    }

    /// Emits `op A B RK(C)`.
    fn code_abrk(&mut self, op: OpCode, a: u32, b: u32, ec: &mut ExpDesc) -> CResult<()> {
        let (k, c) = self.exp2rk(ec)?;
        self.emit_abck(op, a, b, c, k);
        Ok(())
    }

    // ----- multiple results -----

    /// Fixes the number of results of an open call or `...` (`MULTRET`: all of them).
    pub(super) fn set_returns(&mut self, e: &mut ExpDesc, nresults: i32) -> CResult<()> {
        let c = nresults + 1;
        if c as u32 > MAX_C {
            return Err(self.error("function or expression needs too many registers"));
        }
        match e.kind {
            ExpKind::Call(pc) => self.code[pc] = self.code[pc].with_c(c as u32),
            ExpKind::Vararg(pc) => {
                self.code[pc] = self.code[pc].with_c(c as u32).with_a(self.free_reg);
                self.reserve_regs(1)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Truncates an open call or `...` to exactly one result.
    pub(super) fn set_one_ret(&mut self, e: &mut ExpDesc) {
        match e.kind {
            ExpKind::Call(pc) => e.kind = ExpKind::NonReloc(self.code[pc].a() as u32),
            ExpKind::Vararg(pc) => {
                self.code[pc] = self.code[pc].with_c(2);
                e.kind = ExpKind::Reloc(pc);
            }
            _ => {}
        }
    }

    // ----- tables, stores, methods -----

    /// Makes `t` (a register, local or upvalue) the indexed expression `t[k]`.
    pub(super) fn indexed(&mut self, t: &mut ExpDesc, mut k: ExpDesc) -> CResult<()> {
        if let ExpKind::KStr(_) = k.kind {
            self.exp2k(&mut k)?;
        }
        let k_str = match k.kind {
            ExpKind::K(idx) if !k.has_jumps() && self.is_string_constant(idx) => Some(idx),
            _ => None,
        };
        if let (ExpKind::Upval(up), Some(key)) = (&t.kind, k_str) {
            t.kind = ExpKind::IndexUp { t: *up, key };
            return Ok(());
        }
        let base = match t.kind {
            ExpKind::Local(r) | ExpKind::NonReloc(r) if !t.has_jumps() => r,
            // An upvalue indexed by anything but a string constant goes to a register.
            _ => self.exp2anyreg(t)?,
        };
        t.kind = match (k_str, &k.kind) {
            (Some(key), _) => ExpKind::IndexStr { t: base, key },
            (None, ExpKind::KInt(i)) if !k.has_jumps() && fits_c(*i) => ExpKind::IndexInt {
                t: base,
                idx: *i as u32,
            },
            _ => ExpKind::Indexed {
                t: base,
                key: self.exp2anyreg(&mut k)?,
            },
        };
        Ok(())
    }

    fn is_string_constant(&self, idx: u32) -> bool {
        idx <= MAX_C && matches!(self.constants.get(idx as usize), Some(Constant::Str(_)))
    }

    /// Stores the value `ex` into the variable `var`.
    pub(super) fn store_var(&mut self, var: &ExpDesc, mut ex: ExpDesc) -> CResult<()> {
        match var.kind {
            ExpKind::Local(reg) => {
                self.free_exp(&ex);
                return self.exp2reg(&mut ex, reg);
            }
            ExpKind::Upval(idx) => {
                let e = self.exp2anyreg(&mut ex)?;
                self.emit_abc(OpCode::SetUpval, e, idx, 0);
            }
            ExpKind::IndexUp { t, key } => self.code_abrk(OpCode::SetTabUp, t, key, &mut ex)?,
            ExpKind::IndexInt { t, idx } => self.code_abrk(OpCode::SetI, t, idx, &mut ex)?,
            ExpKind::IndexStr { t, key } => self.code_abrk(OpCode::SetField, t, key, &mut ex)?,
            ExpKind::Indexed { t, key } => self.code_abrk(OpCode::SetTable, t, key, &mut ex)?,
            _ => return Err(self.error("syntax error")),
        }
        self.free_exp(&ex);
        Ok(())
    }

    /// In a multiple assignment, if an earlier target indexes the table or key held by the
    /// local or upvalue `v` being assigned now, copies `v` to a safe register first.
    pub(super) fn check_conflict(&mut self, prev: &mut [ExpDesc], v: &ExpDesc) -> CResult<()> {
        let extra = self.free_reg;
        let mut conflict = false;
        for lh in prev.iter_mut() {
            match (&mut lh.kind, &v.kind) {
                (ExpKind::IndexUp { t, key }, ExpKind::Upval(up)) if *t == *up => {
                    conflict = true;
                    lh.kind = ExpKind::IndexStr {
                        t: extra,
                        key: *key,
                    };
                }
                (
                    ExpKind::IndexInt { t, .. } | ExpKind::IndexStr { t, .. },
                    ExpKind::Local(reg),
                ) if *t == *reg => {
                    conflict = true;
                    *t = extra;
                }
                (ExpKind::Indexed { t, key }, ExpKind::Local(reg)) => {
                    if *t == *reg {
                        conflict = true;
                        *t = extra;
                    }
                    if *key == *reg {
                        conflict = true;
                        *key = extra;
                    }
                }
                _ => {}
            }
        }
        if conflict {
            match v.kind {
                ExpKind::Local(reg) => self.emit_abc(OpCode::Move, extra, reg, 0),
                ExpKind::Upval(up) => self.emit_abc(OpCode::GetUpval, extra, up, 0),
                _ => 0,
            };
            self.reserve_regs(1)?;
        }
        Ok(())
    }

    /// `SELF`: puts method `key` of `e` and `e` itself in two consecutive registers.
    pub(super) fn self_op(&mut self, e: &mut ExpDesc, mut key: ExpDesc) -> CResult<()> {
        let ereg = self.exp2anyreg(e)?;
        self.free_exp(e);
        let base = self.free_reg;
        e.kind = ExpKind::NonReloc(base);
        self.reserve_regs(2)?;
        self.code_abrk(OpCode::SelfOp, base, ereg, &mut key)?;
        self.free_exp(&key);
        Ok(())
    }

    // ----- conditions -----

    /// Emits a test instruction and its jump; returns the jump.
    fn cond_jump(&mut self, op: OpCode, a: u32, b: u32, c: u32, k: bool) -> usize {
        self.emit_abck(op, a, b, c, k);
        self.jump()
    }

    /// Emits a jump taken when `e` has truthiness `cond`.
    fn jump_on_cond(&mut self, e: &mut ExpDesc, cond: bool) -> CResult<usize> {
        if let ExpKind::Reloc(pc) = e.kind {
            let i = self.code[pc];
            if i.opcode() == Some(OpCode::Not) && pc + 1 == self.pc() {
                // `not x`: test x with the opposite condition instead.
                self.remove_last_instruction();
                return Ok(self.cond_jump(OpCode::Test, i.b() as u32, 0, 0, !cond));
            }
        }
        self.discharge_to_any_reg(e)?;
        self.free_exp(e);
        let ExpKind::NonReloc(reg) = e.kind else {
            return Err(self.error("internal error: test of a non-value"));
        };
        Ok(self.cond_jump(OpCode::TestSet, NO_REG, reg, 0, cond))
    }

    /// Falls through when `e` is true, jumps (via its false list) otherwise.
    pub(super) fn go_if_true(&mut self, e: &mut ExpDesc) -> CResult<()> {
        self.discharge_vars(e);
        let pc = match e.kind {
            ExpKind::Jmp(pc) => {
                self.negate_condition(pc);
                Some(pc)
            }
            ExpKind::K(_)
            | ExpKind::KFlt(_)
            | ExpKind::KInt(_)
            | ExpKind::KStr(_)
            | ExpKind::True => None,
            _ => Some(self.jump_on_cond(e, false)?),
        };
        self.concat_jumps(&mut e.f, pc)?;
        self.patch_to_here(e.t)?;
        e.t = None;
        Ok(())
    }

    /// Falls through when `e` is false, jumps (via its true list) otherwise.
    pub(super) fn go_if_false(&mut self, e: &mut ExpDesc) -> CResult<()> {
        self.discharge_vars(e);
        let pc = match e.kind {
            ExpKind::Jmp(pc) => Some(pc),
            ExpKind::Nil | ExpKind::False => None,
            _ => Some(self.jump_on_cond(e, true)?),
        };
        self.concat_jumps(&mut e.t, pc)?;
        self.patch_to_here(e.f)?;
        e.f = None;
        Ok(())
    }

    /// `not e`.
    fn code_not(&mut self, e: &mut ExpDesc) -> CResult<()> {
        match e.kind {
            ExpKind::Nil | ExpKind::False => e.kind = ExpKind::True,
            ExpKind::K(_)
            | ExpKind::KFlt(_)
            | ExpKind::KInt(_)
            | ExpKind::KStr(_)
            | ExpKind::True => e.kind = ExpKind::False,
            ExpKind::Jmp(pc) => self.negate_condition(pc),
            ExpKind::Reloc(_) | ExpKind::NonReloc(_) => {
                self.discharge_to_any_reg(e)?;
                self.free_exp(e);
                if let ExpKind::NonReloc(r) = e.kind {
                    e.kind = ExpKind::Reloc(self.emit_abc(OpCode::Not, 0, r, 0));
                }
            }
            _ => return Err(self.error("internal error: 'not' of a non-value")),
        }
        std::mem::swap(&mut e.t, &mut e.f);
        self.remove_values(e.f);
        self.remove_values(e.t);
        Ok(())
    }

    // ----- operators -----

    /// Applies a unary operator to `e`.
    pub(super) fn prefix(&mut self, op: UnOp, e: &mut ExpDesc, line: u32) -> CResult<()> {
        self.discharge_vars(e);
        match op {
            UnOp::Neg | UnOp::BNot => {
                if let Some(n) = e.numeral().and_then(|n| fold::fold_unary(op, n)) {
                    e.kind = num_kind(n);
                    return Ok(());
                }
                let opcode = if op == UnOp::Neg {
                    OpCode::Unm
                } else {
                    OpCode::BNot
                };
                self.code_unary(opcode, e, line)
            }
            UnOp::Len => self.code_unary(OpCode::Len, e, line),
            UnOp::Not => self.code_not(e),
        }
    }

    fn code_unary(&mut self, op: OpCode, e: &mut ExpDesc, line: u32) -> CResult<()> {
        let r = self.exp2anyreg(e)?;
        self.free_exp(e);
        e.kind = ExpKind::Reloc(self.emit_abc(op, 0, r, 0));
        self.fix_line(line);
        Ok(())
    }

    /// Prepares the first operand of a binary operator, before the second is compiled.
    pub(super) fn infix(&mut self, op: BinOp, v: &mut ExpDesc) -> CResult<()> {
        self.discharge_vars(v);
        match op {
            BinOp::And => self.go_if_true(v)?,
            BinOp::Or => self.go_if_false(v)?,
            BinOp::Concat => {
                self.exp2nextreg(v)?;
            }
            BinOp::Eq | BinOp::Ne => {
                // Keep numerals: they may become immediate operands.
                if v.numeral().is_none() {
                    self.exp2rk(v)?;
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if v.sc_number().is_none() {
                    self.exp2anyreg(v)?;
                }
            }
            _ => {
                // Arithmetic: keep numerals for folding and immediate/constant operands.
                if v.numeral().is_none() {
                    self.exp2anyreg(v)?;
                }
            }
        }
        Ok(())
    }

    /// Completes the binary operation `e1 op e2` into `e1`.
    pub(super) fn posfix(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        mut e2: ExpDesc,
        line: u32,
    ) -> CResult<()> {
        self.discharge_vars(&mut e2);
        if fold::is_foldable(op) {
            if let (Some(a), Some(b)) = (e1.numeral(), e2.numeral()) {
                if let Some(n) = fold::fold_binary(op, a, b) {
                    e1.kind = num_kind(n);
                    return Ok(());
                }
            }
        }
        match op {
            BinOp::And => {
                self.concat_jumps(&mut e2.f, e1.f)?;
                *e1 = e2;
            }
            BinOp::Or => {
                self.concat_jumps(&mut e2.t, e1.t)?;
                *e1 = e2;
            }
            BinOp::Concat => {
                let r2 = self.exp2nextreg(&mut e2)?;
                let ExpKind::NonReloc(r1) = e1.kind else {
                    return Err(self.error("internal error: concatenation operand"));
                };
                self.code_concat(r1, r2, line);
            }
            BinOp::Add | BinOp::Mul => self.code_commutative(op, e1, e2, line)?,
            BinOp::Sub | BinOp::Div | BinOp::IDiv | BinOp::Mod | BinOp::Pow => {
                self.code_arith(op, e1, e2, false, line)?
            }
            BinOp::BAnd | BinOp::BOr | BinOp::BXor => self.code_bitwise(op, e1, e2, line)?,
            BinOp::Shl => {
                if e1.is_sc_int() {
                    // I << x
                    std::mem::swap(e1, &mut e2);
                    self.code_bin_imm(OpCode::ShlI, e1, e2, line)?;
                } else {
                    self.code_bin_regs(OpCode::Shl, e1, e2, line)?;
                }
            }
            BinOp::Shr => {
                if e2.is_sc_int() {
                    self.code_bin_imm(OpCode::ShrI, e1, e2, line)?;
                } else {
                    self.code_bin_regs(OpCode::Shr, e1, e2, line)?;
                }
            }
            BinOp::Eq | BinOp::Ne => self.code_eq(op == BinOp::Eq, e1, e2)?,
            BinOp::Gt | BinOp::Ge => {
                // a > b  <=>  b < a;  a >= b  <=>  b <= a
                std::mem::swap(e1, &mut e2);
                self.code_order(op == BinOp::Gt, e1, e2)?;
            }
            BinOp::Lt | BinOp::Le => self.code_order(op == BinOp::Lt, e1, e2)?,
        }
        Ok(())
    }

    /// `CONCAT` of `r1 .. r2` (consecutive registers), merged into a following concatenation
    /// already emitted for `r2`.
    pub(super) fn code_concat(&mut self, r1: u32, r2: u32, line: u32) {
        if let Some(prev) = self.previous_instruction() {
            if prev.opcode() == Some(OpCode::Concat) && prev.a() as u32 == r1 + 1 {
                let n = prev.b() as u32;
                *prev = prev.with_a(r1).with_b(n + 1);
                self.free_register(r2);
                return;
            }
        }
        self.emit_abc(OpCode::Concat, r1, 2, 0);
        self.free_register(r2);
        self.fix_line(line);
    }

    /// `+` and `*`: a numeric constant first operand is swapped to become the K/immediate one.
    fn code_commutative(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        mut e2: ExpDesc,
        line: u32,
    ) -> CResult<()> {
        let mut flip = false;
        if e1.numeral().is_some() {
            std::mem::swap(e1, &mut e2);
            flip = true;
        }
        if op == BinOp::Add && e2.is_sc_int() {
            let ExpKind::KInt(i) = e2.kind else {
                unreachable!("is_sc_int checked the kind")
            };
            self.finish_bin(OpCode::AddI, e1, &e2, encode_sc(i), flip, line)
        } else {
            self.code_arith(op, e1, e2, flip, line)
        }
    }

    /// Arithmetic with a K operand when the second operand is a numeric constant.
    fn code_arith(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        mut e2: ExpDesc,
        flip: bool,
        line: u32,
    ) -> CResult<()> {
        if e2.numeral().is_some() && self.exp2k(&mut e2)? {
            self.code_bin_k(op, e1, e2, flip, line)
        } else {
            if flip {
                std::mem::swap(e1, &mut e2);
            }
            self.code_bin_regs(binop_opcode(op), e1, e2, line)
        }
    }

    /// `& | ~`: K operands only for integer constants.
    fn code_bitwise(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        mut e2: ExpDesc,
        line: u32,
    ) -> CResult<()> {
        let mut flip = false;
        if matches!(e1.kind, ExpKind::KInt(_)) {
            std::mem::swap(e1, &mut e2);
            flip = true;
        }
        if matches!(e2.kind, ExpKind::KInt(_)) && self.exp2k(&mut e2)? {
            self.code_bin_k(op, e1, e2, flip, line)
        } else {
            if flip {
                std::mem::swap(e1, &mut e2);
            }
            self.code_bin_regs(binop_opcode(op), e1, e2, line)
        }
    }

    fn code_bin_k(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        e2: ExpDesc,
        flip: bool,
        line: u32,
    ) -> CResult<()> {
        let (Some(opcode), ExpKind::K(k)) = (binop_k_opcode(op), &e2.kind) else {
            return Err(self.error("internal error: constant operand"));
        };
        self.finish_bin(opcode, e1, &e2, *k, flip, line)
    }

    fn code_bin_imm(
        &mut self,
        op: OpCode,
        e1: &mut ExpDesc,
        e2: ExpDesc,
        line: u32,
    ) -> CResult<()> {
        let ExpKind::KInt(i) = e2.kind else {
            return Err(self.error("internal error: immediate operand"));
        };
        self.finish_bin(op, e1, &e2, encode_sc(i), false, line)
    }

    fn code_bin_regs(
        &mut self,
        op: OpCode,
        e1: &mut ExpDesc,
        mut e2: ExpDesc,
        line: u32,
    ) -> CResult<()> {
        let v2 = self.exp2anyreg(&mut e2)?;
        self.finish_bin(op, e1, &e2, v2, false, line)
    }

    /// Emits `op A R[e1] v2 k` (A set later) and makes `e1` its result.
    fn finish_bin(
        &mut self,
        op: OpCode,
        e1: &mut ExpDesc,
        e2: &ExpDesc,
        v2: u32,
        flip: bool,
        line: u32,
    ) -> CResult<()> {
        let v1 = self.exp2anyreg(e1)?;
        let pc = self.emit_abck(op, 0, v1, v2, flip);
        self.free_exps(e1, e2);
        e1.kind = ExpKind::Reloc(pc);
        self.fix_line(line);
        Ok(())
    }

    /// `==` (`eq`) or `~=`.
    fn code_eq(&mut self, eq: bool, e1: &mut ExpDesc, mut e2: ExpDesc) -> CResult<()> {
        if !matches!(e1.kind, ExpKind::NonReloc(_)) {
            // e1 is a constant: use it as the second operand.
            std::mem::swap(e1, &mut e2);
        }
        let r1 = self.exp2anyreg(e1)?;
        let (op, r2, is_float) = if let Some((im, is_float)) = e2.sc_number() {
            (OpCode::EqI, im, is_float)
        } else {
            match self.exp2rk(&mut e2)? {
                (true, k) => (OpCode::EqK, k, false),
                (false, r) => (OpCode::Eq, r, false),
            }
        };
        self.free_exps(e1, &e2);
        e1.kind = ExpKind::Jmp(self.cond_jump(op, r1, r2, is_float as u32, eq));
        Ok(())
    }

    /// `<` (`lt`) or `<=`, with immediate operands when possible.
    fn code_order(&mut self, lt: bool, e1: &mut ExpDesc, mut e2: ExpDesc) -> CResult<()> {
        let (op, r1, r2, is_float) = if let Some((im, is_float)) = e2.sc_number() {
            let r1 = self.exp2anyreg(e1)?;
            (if lt { OpCode::LtI } else { OpCode::LeI }, r1, im, is_float)
        } else if let Some((im, is_float)) = e1.sc_number() {
            // I < x  <=>  x > I;  I <= x  <=>  x >= I
            let r1 = self.exp2anyreg(&mut e2)?;
            (if lt { OpCode::GtI } else { OpCode::GeI }, r1, im, is_float)
        } else {
            let r1 = self.exp2anyreg(e1)?;
            let r2 = self.exp2anyreg(&mut e2)?;
            (if lt { OpCode::Lt } else { OpCode::Le }, r1, r2, false)
        };
        self.free_exps(e1, &e2);
        e1.kind = ExpKind::Jmp(self.cond_jump(op, r1, r2, is_float as u32, true));
        Ok(())
    }

    /// Turns the `CALL` of `e` into a `TAILCALL`.
    pub(super) fn make_tail_call(&mut self, e: &ExpDesc) {
        if let ExpKind::Call(pc) = e.kind {
            self.code[pc] = set_opcode(self.code[pc], OpCode::TailCall);
        }
    }
}

fn num_kind(n: Num) -> ExpKind {
    match n {
        Num::Int(i) => ExpKind::KInt(i),
        Num::Flt(f) => ExpKind::KFlt(f),
    }
}
