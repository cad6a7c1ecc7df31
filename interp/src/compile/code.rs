//! Instruction emission for a [`FuncState`]: the code buffer and its line table, jump lists and
//! their patching, the constant table, register allocation, and the final fix-up pass that turns
//! a finished function into a [`Proto`].
//!
//! A jump list is the position of its first `JMP`; each `JMP`'s offset links to the next one and
//! the offset `NO_JUMP` (-1, a jump to itself, never a real target while lists are open) ends it.

use super::{CResult, FuncState};
use crate::opcode::{Instr, OpCode, MAX_A, MAX_AX, MAX_BX, MAX_C, OFFSET_SBX, OFFSET_SJ};
use crate::proto::{Constant, Proto, UpvalDesc};

/// "No register": the A field of a `TESTSET` whose destination is not known yet.
pub(super) const NO_REG: u32 = MAX_A;

/// Link offset that ends a jump list.
const NO_JUMP: i64 = -1;

/// Registers available per function (PUC's `MAXREGS`): usable registers are `0..MAX_REGS - 1`.
const MAX_REGS: u32 = 255;

/// Key of the constant table's index (floats by bit pattern, so `1` and `1.0` stay distinct).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ConstKey {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(Box<[u8]>),
}

impl ConstKey {
    fn of(k: &Constant) -> ConstKey {
        match k {
            Constant::Nil => ConstKey::Nil,
            Constant::Bool(b) => ConstKey::Bool(*b),
            Constant::Int(i) => ConstKey::Int(*i),
            Constant::Float(f) => ConstKey::Float(f.to_bits()),
            Constant::Str(s) => ConstKey::Str(s.clone()),
        }
    }
}

/// Whether `op` is a test (its next instruction is the `JMP` it controls).
fn is_test_op(op: Option<OpCode>) -> bool {
    use OpCode::*;
    matches!(
        op,
        Some(Eq | Lt | Le | EqK | EqI | LtI | LeI | GtI | GeI | Test | TestSet)
    )
}

/// Replaces the opcode of an instruction, keeping its operands.
pub(super) fn set_opcode(i: Instr, op: OpCode) -> Instr {
    Instr((i.0 & !0x7f) | op as u32)
}

impl FuncState {
    /// Position of the next instruction.
    pub(super) fn pc(&self) -> usize {
        self.code.len()
    }

    /// Appends an instruction with the current line; returns its position.
    pub(super) fn emit(&mut self, i: Instr) -> usize {
        self.code.push(i);
        self.lines.push(self.line);
        self.code.len() - 1
    }

    pub(super) fn emit_abc(&mut self, op: OpCode, a: u32, b: u32, c: u32) -> usize {
        self.emit(Instr::abc(op, a, b, c, false))
    }

    pub(super) fn emit_abck(&mut self, op: OpCode, a: u32, b: u32, c: u32, k: bool) -> usize {
        self.emit(Instr::abc(op, a, b, c, k))
    }

    pub(super) fn emit_abx(&mut self, op: OpCode, a: u32, bx: u32) -> usize {
        self.emit(Instr::abx(op, a, bx))
    }

    fn emit_asbx(&mut self, op: OpCode, a: u32, sbx: i32) -> usize {
        self.emit(Instr::asbx(op, a, sbx))
    }

    pub(super) fn emit_extra_arg(&mut self, ax: u32) -> CResult<usize> {
        if ax > MAX_AX {
            return Err(self.error("control structure too long"));
        }
        Ok(self.emit(Instr::ax(OpCode::ExtraArg, ax)))
    }

    /// Changes the line of the last emitted instruction.
    pub(super) fn fix_line(&mut self, line: u32) {
        if let Some(l) = self.lines.last_mut() {
            *l = line;
        }
    }

    pub(super) fn remove_last_instruction(&mut self) {
        self.code.pop();
        self.lines.pop();
    }

    /// Marks the current position as a jump target and returns it.
    pub(super) fn get_label(&mut self) -> usize {
        self.last_target = self.pc();
        self.last_target
    }

    /// The previous instruction, if it may be merged with the next one (no jump lands between).
    pub(super) fn previous_instruction(&mut self) -> Option<&mut Instr> {
        if self.pc() > self.last_target {
            self.code.last_mut()
        } else {
            None
        }
    }

    // ----- jumps -----

    /// Emits a `JMP` to be patched later; returns its position (a one-element jump list).
    pub(super) fn jump(&mut self) -> usize {
        self.emit(Instr::sj(OpCode::Jmp, NO_JUMP as i32))
    }

    /// Emits a jump to `target`.
    pub(super) fn jump_to(&mut self, target: usize) -> CResult<()> {
        let j = self.jump();
        self.patch_list(Some(j), target)
    }

    /// Next element of a jump list.
    fn next_jump(&self, pc: usize) -> Option<usize> {
        let offset = self.code[pc].sj_field();
        if offset == NO_JUMP {
            None
        } else {
            Some((pc as i64 + 1 + offset) as usize)
        }
    }

    /// Makes the jump at `pc` go to `dest`.
    pub(super) fn fix_jump(&mut self, pc: usize, dest: usize) -> CResult<()> {
        let offset = dest as i64 - (pc as i64 + 1);
        if offset < -(OFFSET_SJ as i64) || offset > (MAX_AX as i64 - OFFSET_SJ as i64) {
            return Err(self.error("control structure too long"));
        }
        self.code[pc] = self.code[pc].with_sj(offset as i32);
        Ok(())
    }

    /// Appends jump list `l2` to `l1`. Walks both lists in step and links the tail of the
    /// shorter one (the order of a list is irrelevant), so long `or`/`and` chains stay linear.
    pub(super) fn concat_jumps(
        &mut self,
        l1: &mut Option<usize>,
        l2: Option<usize>,
    ) -> CResult<()> {
        let (Some(a), Some(b)) = (*l1, l2) else {
            if l1.is_none() {
                *l1 = l2;
            }
            return Ok(());
        };
        let (mut x, mut y) = (a, b);
        loop {
            match self.next_jump(x) {
                Some(n) => x = n,
                None => {
                    self.fix_jump(x, b)?;
                    *l1 = Some(a);
                    return Ok(());
                }
            }
            match self.next_jump(y) {
                Some(n) => y = n,
                None => {
                    self.fix_jump(y, a)?;
                    *l1 = Some(b);
                    return Ok(());
                }
            }
        }
    }

    /// Position of the instruction controlling the jump at `pc` (its test, if any).
    fn jump_control(&self, pc: usize) -> usize {
        if pc >= 1 && is_test_op(self.code[pc - 1].opcode()) {
            pc - 1
        } else {
            pc
        }
    }

    /// Negates the condition of the test controlling the jump at `pc`.
    pub(super) fn negate_condition(&mut self, pc: usize) {
        let c = self.jump_control(pc);
        self.code[c] = self.code[c].with_k(!self.code[c].k());
    }

    /// If the jump at `node` is controlled by a `TESTSET`, makes it store into `reg` (or turns it
    /// into a plain `TEST` when there is no register or the value is already there).
    fn patch_test_reg(&mut self, node: usize, reg: u32) -> bool {
        let c = self.jump_control(node);
        let i = self.code[c];
        if i.opcode() != Some(OpCode::TestSet) {
            return false;
        }
        self.code[c] = if reg != NO_REG && reg as usize != i.b() {
            i.with_a(reg)
        } else {
            Instr::abc(OpCode::Test, i.b() as u32, 0, 0, i.k())
        };
        true
    }

    /// Turns every `TESTSET` of a list into a `TEST` (the values are not needed).
    pub(super) fn remove_values(&mut self, mut list: Option<usize>) {
        while let Some(pc) = list {
            self.patch_test_reg(pc, NO_REG);
            list = self.next_jump(pc);
        }
    }

    /// Whether some jump of the list is not a `TESTSET` (so it carries no value).
    pub(super) fn need_value(&self, mut list: Option<usize>) -> bool {
        while let Some(pc) = list {
            if self.code[self.jump_control(pc)].opcode() != Some(OpCode::TestSet) {
                return true;
            }
            list = self.next_jump(pc);
        }
        false
    }

    /// Patches a list: `TESTSET` jumps store into `reg` and go to `vtarget`, the others go to
    /// `dtarget`.
    pub(super) fn patch_list_aux(
        &mut self,
        mut list: Option<usize>,
        vtarget: usize,
        reg: u32,
        dtarget: usize,
    ) -> CResult<()> {
        while let Some(pc) = list {
            let next = self.next_jump(pc);
            if self.patch_test_reg(pc, reg) {
                self.fix_jump(pc, vtarget)?;
            } else {
                self.fix_jump(pc, dtarget)?;
            }
            list = next;
        }
        Ok(())
    }

    /// Makes every jump of the list go to `target`.
    pub(super) fn patch_list(&mut self, list: Option<usize>, target: usize) -> CResult<()> {
        self.patch_list_aux(list, target, NO_REG, target)
    }

    /// Makes every jump of the list go to the current position.
    pub(super) fn patch_to_here(&mut self, list: Option<usize>) -> CResult<()> {
        let here = self.get_label();
        self.patch_list(list, here)
    }

    /// Sets the Bx offset of a `FORPREP/FORLOOP/TFORPREP/TFORLOOP` at `pc` jumping to `dest`.
    pub(super) fn fix_for_jump(&mut self, pc: usize, dest: usize, back: bool) -> CResult<()> {
        let mut offset = dest as i64 - (pc as i64 + 1);
        if back {
            offset = -offset;
        }
        if !(0..=MAX_BX as i64).contains(&offset) {
            return Err(self.error("control structure too long"));
        }
        self.code[pc] = self.code[pc].with_bx(offset as u32);
        Ok(())
    }

    // ----- registers -----

    /// Ensures `n` more registers above the first free one are available.
    pub(super) fn check_stack(&mut self, n: u32) -> CResult<()> {
        let new_stack = self.free_reg + n;
        if new_stack > self.max_stack {
            if new_stack >= MAX_REGS {
                return Err(self.error("function or expression needs too many registers"));
            }
            self.max_stack = new_stack;
        }
        Ok(())
    }

    /// Reserves `n` registers.
    pub(super) fn reserve_regs(&mut self, n: u32) -> CResult<()> {
        self.check_stack(n)?;
        self.free_reg += n;
        Ok(())
    }

    /// Frees `reg` if it is a temporary (registers are freed in stack order).
    pub(super) fn free_register(&mut self, reg: u32) {
        if reg >= self.nvarstack() {
            debug_assert_eq!(reg + 1, self.free_reg, "registers freed out of order");
            self.free_reg -= 1;
        }
    }

    /// Frees two temporaries in the right order.
    pub(super) fn free_registers(&mut self, r1: u32, r2: u32) {
        if r1 > r2 {
            self.free_register(r1);
            self.free_register(r2);
        } else {
            self.free_register(r2);
            self.free_register(r1);
        }
    }

    // ----- constants -----

    /// Index of constant `k`, adding it to the table if new.
    pub(super) fn add_constant(&mut self, k: Constant) -> CResult<u32> {
        let key = ConstKey::of(&k);
        if let Some(&i) = self.const_index.get(&key) {
            return Ok(i);
        }
        let i = self.constants.len();
        if i > MAX_AX as usize {
            return Err(self.limit_error(MAX_AX as usize, "constants"));
        }
        self.constants.push(k);
        self.const_index.insert(key, i as u32);
        Ok(i as u32)
    }

    /// Loads constant `k` into `reg` (`LOADK`, or `LOADKX` for large indices).
    pub(super) fn load_constant(&mut self, reg: u32, k: u32) -> CResult<()> {
        if k <= MAX_BX {
            self.emit_abx(OpCode::LoadK, reg, k);
        } else {
            self.emit_abx(OpCode::LoadKX, reg, 0);
            self.emit_extra_arg(k)?;
        }
        Ok(())
    }

    /// Loads an integer (`LOADI` when it fits sBx).
    pub(super) fn load_int(&mut self, reg: u32, i: i64) -> CResult<()> {
        if fits_sbx(i) {
            self.emit_asbx(OpCode::LoadI, reg, i as i32);
            Ok(())
        } else {
            let k = self.add_constant(Constant::Int(i))?;
            self.load_constant(reg, k)
        }
    }

    /// Loads a float (`LOADF` when it is integral and fits sBx).
    pub(super) fn load_float(&mut self, reg: u32, f: f64) -> CResult<()> {
        match super::fold::float_to_int(f) {
            Some(i) if fits_sbx(i) => {
                self.emit_asbx(OpCode::LoadF, reg, i as i32);
                Ok(())
            }
            _ => {
                let k = self.add_constant(Constant::Float(f))?;
                self.load_constant(reg, k)
            }
        }
    }

    /// Sets `n` registers from `from` to nil, merging with a preceding `LOADNIL` when possible.
    pub(super) fn load_nil(&mut self, from: u32, n: u32) {
        let last = from + n - 1;
        if let Some(prev) = self.previous_instruction() {
            if prev.opcode() == Some(OpCode::LoadNil) {
                let pfrom = prev.a() as u32;
                let plast = pfrom + prev.b() as u32;
                if (pfrom <= from && from <= plast + 1) || (from <= pfrom && pfrom <= last + 1) {
                    let from = from.min(pfrom);
                    let last = last.max(plast);
                    *prev = prev.with_a(from).with_b(last - from);
                    return;
                }
            }
        }
        self.emit_abc(OpCode::LoadNil, from, n - 1, 0);
    }

    // ----- returns and the final pass -----

    /// Emits a return of `nret` values starting at `first` (`nret < 0`: up to top).
    pub(super) fn ret(&mut self, first: u32, nret: i32) {
        let op = match nret {
            0 => OpCode::Return0,
            1 => OpCode::Return1,
            _ => OpCode::Return,
        };
        self.emit_abc(op, first, (nret + 1) as u32, 0);
    }

    /// Final pass: sets the k (close upvalues) and C (vararg) fields of returns, turning
    /// `RETURN0/RETURN1` into `RETURN` where those are needed, and threads jumps to jumps.
    pub(super) fn finish(&mut self) -> CResult<()> {
        for pc in 0..self.code.len() {
            let i = self.code[pc];
            match i.opcode() {
                Some(
                    op @ (OpCode::Return0 | OpCode::Return1 | OpCode::Return | OpCode::TailCall),
                ) => {
                    let plain = matches!(op, OpCode::Return0 | OpCode::Return1);
                    if plain && !(self.need_close || self.is_vararg) {
                        continue;
                    }
                    let op = if plain { OpCode::Return } else { op };
                    let c = if self.is_vararg {
                        self.num_params as u32 + 1
                    } else {
                        i.c() as u32
                    };
                    let k = self.need_close || i.k();
                    self.code[pc] = Instr::abc(op, i.a() as u32, i.b() as u32, c, k);
                }
                Some(OpCode::Jmp) => {
                    let target = self.final_target(pc);
                    self.fix_jump(pc, target)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Final destination of the jump at `pc`, following chains of jumps.
    fn final_target(&self, mut pc: usize) -> usize {
        for _ in 0..100 {
            match self.code.get(pc) {
                Some(i) if i.opcode() == Some(OpCode::Jmp) => {
                    pc = (pc as i64 + 1 + i.sj_field()) as usize;
                }
                _ => break,
            }
        }
        pc
    }

    /// The finished prototype.
    pub(super) fn into_proto(self) -> Proto {
        Proto {
            code: self.code,
            lines: self.lines,
            constants: self.constants,
            protos: self.protos,
            upvalues: self
                .upvalues
                .into_iter()
                .map(|u| UpvalDesc {
                    name: u.name,
                    in_stack: u.in_stack,
                    index: u.index as u8,
                })
                .collect(),
            locvars: self.locvars,
            num_params: self.num_params,
            is_vararg: self.is_vararg,
            max_stack: self.max_stack as u8,
            line_defined: self.line_defined,
            last_line_defined: self.last_line_defined,
            source: self.source,
        }
    }
}

/// Whether `i` fits the sBx field.
fn fits_sbx(i: i64) -> bool {
    (-(OFFSET_SBX as i64)..=(MAX_BX as i64 - OFFSET_SBX as i64)).contains(&i)
}

/// Whether `i` fits the (unsigned) C field.
pub(super) fn fits_c(i: i64) -> bool {
    (0..=MAX_C as i64).contains(&i)
}
