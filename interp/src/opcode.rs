//! The register bytecode: instruction encoding and the opcode list with the exact semantics
//! that the compiler ([`crate::compile`]) emits and the VM ([`crate::vm`]) executes.
//!
//! # Encoding
//!
//! Every instruction is 32 bits. The opcode occupies the low 7 bits; the rest is one of:
//!
//! ```text
//!   iABC:  op:7 | A:8 | k:1 | B:8 | C:8
//!   iABx:  op:7 | A:8 | Bx:17            (unsigned)
//!   iAsBx: op:7 | A:8 | sBx:17           (signed, excess-65535)
//!   iAx:   op:7 | Ax:25                  (unsigned)
//!   isJ:   op:7 | sJ:25                  (signed, excess-16777215)
//! ```
//!
//! `sB`/`sC` are the B/C fields read as signed immediates with excess 127 (range -127..=128).
//!
//! # Notation
//!
//! `R[x]` is register x of the current frame, `K[x]` constant x, `Up[x]` upvalue x,
//! `RK(C)` is `K[C]` when the k bit is set and `R[C]` otherwise. "top" is the dynamic end of
//! the multiple values produced by the previous `CALL`/`VARARG` with `C == 0`; it is consumed by
//! the next instruction with a `B == 0` operand (`CALL`, `RETURN`, `SETLIST`).
//!
//! Arithmetic, bitwise, comparison, length, concatenation and indexing instructions try their
//! primitive fast path and fall back to metamethods themselves (there is no separate
//! metamethod instruction). For the `*K` and `*I` arithmetic forms the k bit set means the
//! operands were swapped in the source (`1 + x` compiled as `ADDI x 1`), so a metamethod must
//! receive them in source order; the compiler only swaps commutative operators.

use std::fmt;

/// Opcodes. The doc comment of each variant is its exact semantics.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `A B`: R[A] := R[B]
    Move,
    /// `A sBx`: R[A] := sBx (integer)
    LoadI,
    /// `A sBx`: R[A] := sBx converted to float
    LoadF,
    /// `A Bx`: R[A] := K[Bx]
    LoadK,
    /// `A`: R[A] := K[Ax of the following EXTRAARG]
    LoadKX,
    /// `A`: R[A] := false
    LoadFalse,
    /// `A`: R[A] := false; pc++ (skip next instruction)
    LFalseSkip,
    /// `A`: R[A] := true
    LoadTrue,
    /// `A B`: R[A], R[A+1], ..., R[A+B] := nil  (B+1 registers)
    LoadNil,
    /// `A B`: R[A] := Up[B]
    GetUpval,
    /// `A B`: Up[B] := R[A]
    SetUpval,
    /// `A B C`: R[A] := Up[B][K[C]]  (K[C] is a string)
    GetTabUp,
    /// `A B C`: R[A] := R[B][R[C]]
    GetTable,
    /// `A B C`: R[A] := R[B][C]  (C is an integer key 0..=255)
    GetI,
    /// `A B C`: R[A] := R[B][K[C]]  (K[C] is a string)
    GetField,
    /// `A B C k`: Up[A][K[B]] := RK(C)  (K[B] is a string)
    SetTabUp,
    /// `A B C k`: R[A][R[B]] := RK(C)
    SetTable,
    /// `A B C k`: R[A][B] := RK(C)  (B is an integer key 0..=255)
    SetI,
    /// `A B C k`: R[A][K[B]] := RK(C)  (K[B] is a string)
    SetField,
    /// `A B C k`: R[A] := {}. B is the hash-part size hint encoded as `log2(size)+1` (0 = none);
    /// C is the array-part size hint; when k is set, the following EXTRAARG holds the high
    /// part: array size = C + Ax * 256. The EXTRAARG is always emitted (possibly 0) and skipped.
    NewTable,
    /// `A B C k`: R[A+1] := R[B]; R[A] := R[B][RK(C)]  (RK(C) is a string)
    SelfOp,
    /// `A B sC k`: R[A] := R[B] + sC
    AddI,
    /// `A B C k`: R[A] := R[B] + K[C]  (K[C] is a number)
    AddK,
    /// `A B C k`: R[A] := R[B] - K[C]
    SubK,
    /// `A B C k`: R[A] := R[B] * K[C]
    MulK,
    /// `A B C k`: R[A] := R[B] % K[C]
    ModK,
    /// `A B C k`: R[A] := R[B] ^ K[C]
    PowK,
    /// `A B C k`: R[A] := R[B] / K[C]
    DivK,
    /// `A B C k`: R[A] := R[B] // K[C]
    IDivK,
    /// `A B C k`: R[A] := R[B] & K[C]  (K[C] is an integer)
    BAndK,
    /// `A B C k`: R[A] := R[B] | K[C]
    BOrK,
    /// `A B C k`: R[A] := R[B] ~ K[C]
    BXorK,
    /// `A B sC`: R[A] := R[B] >> sC
    ShrI,
    /// `A B sC`: R[A] := sC << R[B]
    ShlI,
    /// `A B C`: R[A] := R[B] + R[C]
    Add,
    /// `A B C`: R[A] := R[B] - R[C]
    Sub,
    /// `A B C`: R[A] := R[B] * R[C]
    Mul,
    /// `A B C`: R[A] := R[B] % R[C]
    Mod,
    /// `A B C`: R[A] := R[B] ^ R[C]
    Pow,
    /// `A B C`: R[A] := R[B] / R[C]
    Div,
    /// `A B C`: R[A] := R[B] // R[C]
    IDiv,
    /// `A B C`: R[A] := R[B] & R[C]
    BAnd,
    /// `A B C`: R[A] := R[B] | R[C]
    BOr,
    /// `A B C`: R[A] := R[B] ~ R[C]
    BXor,
    /// `A B C`: R[A] := R[B] << R[C]
    Shl,
    /// `A B C`: R[A] := R[B] >> R[C]
    Shr,
    /// `A B`: R[A] := -R[B]
    Unm,
    /// `A B`: R[A] := ~R[B]
    BNot,
    /// `A B`: R[A] := not R[B]
    Not,
    /// `A B`: R[A] := #R[B]
    Len,
    /// `A B`: R[A] := R[A] .. R[A+1] .. ... .. R[A+B-1]  (B >= 2; the other registers are
    /// clobbered)
    Concat,
    /// `A`: close upvalues and to-be-closed variables in registers >= A
    Close,
    /// `A`: mark R[A] as a to-be-closed variable (error if it has no `__close` and is not
    /// false/nil)
    Tbc,
    /// `sJ`: pc += sJ
    Jmp,
    /// `A B k`: if ((R[A] == R[B]) ~= k) then pc++. The next instruction is always a JMP.
    Eq,
    /// `A B k`: if ((R[A] < R[B]) ~= k) then pc++
    Lt,
    /// `A B k`: if ((R[A] <= R[B]) ~= k) then pc++
    Le,
    /// `A B k`: if ((R[A] == K[B]) ~= k) then pc++  (raw equality: K[B] is never a table)
    EqK,
    /// `A sB k C`: if ((R[A] == sB) ~= k) then pc++. C != 0: the immediate was written as a float.
    EqI,
    /// `A sB k C`: if ((R[A] < sB) ~= k) then pc++
    LtI,
    /// `A sB k C`: if ((R[A] <= sB) ~= k) then pc++
    LeI,
    /// `A sB k C`: if ((R[A] > sB) ~= k) then pc++
    GtI,
    /// `A sB k C`: if ((R[A] >= sB) ~= k) then pc++
    GeI,
    /// `A k`: if (not R[A] == k) then pc++   (i.e. skip the next JMP unless truthiness(R[A]) == k)
    Test,
    /// `A B k`: if (not R[B] == k) then pc++ else R[A] := R[B]
    TestSet,
    /// `A B C`: R[A], ..., R[A+C-2] := R[A](R[A+1], ..., R[A+B-1]).
    /// B == 0: arguments run up to top. C == 0: keep all results and set top.
    Call,
    /// `A B C k`: return R[A](R[A+1], ..., R[A+B-1]) as a tail call. B == 0: up to top.
    /// k: this function has open upvalues or to-be-closed variables to close first.
    /// C > 0: this function is vararg with C-1 fixed parameters.
    TailCall,
    /// `A B C k`: return R[A], ..., R[A+B-2]. B == 0: up to top. k and C as for TAILCALL.
    Return,
    /// return with no values (no upvalues to close, not vararg)
    Return0,
    /// `A`: return R[A] (no upvalues to close, not vararg)
    Return1,
    /// `A Bx`: numeric for loop step. R[A] internal state, R[A+1] limit/count, R[A+2] step,
    /// R[A+3] the visible control variable. If the loop continues: update R[A+3] and
    /// pc -= Bx (back to the first instruction of the body).
    ForLoop,
    /// `A Bx`: numeric for loop preparation: check R[A..A+3] (init, limit, step) and prepare the
    /// internal counters; if the loop runs zero times, pc += Bx + 1 (past the FORLOOP),
    /// otherwise set R[A+3] := init and continue into the body.
    ForPrep,
    /// `A Bx`: generic for preparation: mark R[A+3] as to-be-closed (if not nil); pc += Bx
    /// (jumps to the TFORCALL).
    TForPrep,
    /// `A C`: R[A+4], ..., R[A+3+C] := R[A](R[A+1], R[A+2])
    TForCall,
    /// `A Bx`: if R[A+4] ~= nil then { R[A+2] := R[A+4]; pc -= Bx }
    TForLoop,
    /// `A B C k`: R[A][C+i] := R[A+i] for 1 <= i <= B. B == 0: up to top. When k is set the
    /// following EXTRAARG extends C: C += Ax * 256 (the EXTRAARG is then skipped).
    SetList,
    /// `A Bx`: R[A] := closure(protos[Bx])
    Closure,
    /// `A C`: R[A], ..., R[A+C-2] := the vararg values. C == 0: all of them, set top.
    Vararg,
    /// `A`: adjust the frame of a vararg function with A fixed parameters (first instruction of
    /// every vararg function)
    VarargPrep,
    /// `Ax`: extra argument for the previous instruction
    ExtraArg,
}

impl OpCode {
    /// Number of opcodes.
    pub const COUNT: usize = OpCode::ExtraArg as usize + 1;

    /// Decodes an opcode number; `None` for invalid numbers.
    pub fn from_u8(n: u8) -> Option<OpCode> {
        if (n as usize) < Self::COUNT {
            // SAFETY: OpCode is repr(u8) with contiguous discriminants 0..COUNT.
            Some(unsafe { std::mem::transmute::<u8, OpCode>(n) })
        } else {
            None
        }
    }

    /// The instruction name as shown by the disassembler (upper case, PUC style).
    pub fn name(self) -> &'static str {
        OPNAMES[self as usize]
    }
}

const OPNAMES: [&str; OpCode::COUNT] = [
    "MOVE",
    "LOADI",
    "LOADF",
    "LOADK",
    "LOADKX",
    "LOADFALSE",
    "LFALSESKIP",
    "LOADTRUE",
    "LOADNIL",
    "GETUPVAL",
    "SETUPVAL",
    "GETTABUP",
    "GETTABLE",
    "GETI",
    "GETFIELD",
    "SETTABUP",
    "SETTABLE",
    "SETI",
    "SETFIELD",
    "NEWTABLE",
    "SELF",
    "ADDI",
    "ADDK",
    "SUBK",
    "MULK",
    "MODK",
    "POWK",
    "DIVK",
    "IDIVK",
    "BANDK",
    "BORK",
    "BXORK",
    "SHRI",
    "SHLI",
    "ADD",
    "SUB",
    "MUL",
    "MOD",
    "POW",
    "DIV",
    "IDIV",
    "BAND",
    "BOR",
    "BXOR",
    "SHL",
    "SHR",
    "UNM",
    "BNOT",
    "NOT",
    "LEN",
    "CONCAT",
    "CLOSE",
    "TBC",
    "JMP",
    "EQ",
    "LT",
    "LE",
    "EQK",
    "EQI",
    "LTI",
    "LEI",
    "GTI",
    "GEI",
    "TEST",
    "TESTSET",
    "CALL",
    "TAILCALL",
    "RETURN",
    "RETURN0",
    "RETURN1",
    "FORLOOP",
    "FORPREP",
    "TFORPREP",
    "TFORCALL",
    "TFORLOOP",
    "SETLIST",
    "CLOSURE",
    "VARARG",
    "VARARGPREP",
    "EXTRAARG",
];

/// Largest value of the A field.
pub const MAX_A: u32 = 0xff;
/// Largest value of the B and C fields.
pub const MAX_B: u32 = 0xff;
pub const MAX_C: u32 = 0xff;
/// Largest value of the Bx field.
pub const MAX_BX: u32 = (1 << 17) - 1;
/// Excess for sBx.
pub const OFFSET_SBX: i32 = (MAX_BX >> 1) as i32;
/// Largest value of Ax.
pub const MAX_AX: u32 = (1 << 25) - 1;
/// Excess for sJ.
pub const OFFSET_SJ: i32 = (MAX_AX >> 1) as i32;
/// Excess for sB / sC.
pub const OFFSET_SC: i32 = (MAX_C >> 1) as i32;

/// One 32-bit instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Instr(pub u32);

impl Instr {
    /// Builds an iABC instruction.
    #[inline]
    pub fn abc(op: OpCode, a: u32, b: u32, c: u32, k: bool) -> Instr {
        debug_assert!(a <= MAX_A && b <= MAX_B && c <= MAX_C);
        Instr((op as u32) | (a << 7) | ((k as u32) << 15) | (b << 16) | (c << 24))
    }
    /// Builds an iABx instruction.
    #[inline]
    pub fn abx(op: OpCode, a: u32, bx: u32) -> Instr {
        debug_assert!(a <= MAX_A && bx <= MAX_BX);
        Instr((op as u32) | (a << 7) | (bx << 15))
    }
    /// Builds an iAsBx instruction.
    #[inline]
    pub fn asbx(op: OpCode, a: u32, sbx: i32) -> Instr {
        Self::abx(op, a, (sbx + OFFSET_SBX) as u32)
    }
    /// Builds an iAx instruction.
    #[inline]
    pub fn ax(op: OpCode, ax: u32) -> Instr {
        debug_assert!(ax <= MAX_AX);
        Instr((op as u32) | (ax << 7))
    }
    /// Builds an isJ instruction.
    #[inline]
    pub fn sj(op: OpCode, sj: i32) -> Instr {
        Self::ax(op, (sj + OFFSET_SJ) as u32)
    }

    /// The opcode; `None` only for corrupted code (never produced by the compiler).
    #[inline]
    pub fn opcode(self) -> Option<OpCode> {
        OpCode::from_u8((self.0 & 0x7f) as u8)
    }
    #[inline]
    pub fn op_raw(self) -> u8 {
        (self.0 & 0x7f) as u8
    }
    #[inline]
    pub fn a(self) -> usize {
        ((self.0 >> 7) & 0xff) as usize
    }
    #[inline]
    pub fn k(self) -> bool {
        (self.0 >> 15) & 1 != 0
    }
    #[inline]
    pub fn b(self) -> usize {
        ((self.0 >> 16) & 0xff) as usize
    }
    #[inline]
    pub fn c(self) -> usize {
        (self.0 >> 24) as usize
    }
    /// B as a signed immediate.
    #[inline]
    pub fn sb(self) -> i64 {
        self.b() as i64 - OFFSET_SC as i64
    }
    /// C as a signed immediate.
    #[inline]
    pub fn sc(self) -> i64 {
        self.c() as i64 - OFFSET_SC as i64
    }
    #[inline]
    pub fn bx(self) -> usize {
        (self.0 >> 15) as usize
    }
    #[inline]
    pub fn sbx(self) -> i64 {
        self.bx() as i64 - OFFSET_SBX as i64
    }
    #[inline]
    pub fn ax_field(self) -> usize {
        (self.0 >> 7) as usize
    }
    #[inline]
    pub fn sj_field(self) -> i64 {
        self.ax_field() as i64 - OFFSET_SJ as i64
    }

    /// Returns a copy with the A field replaced.
    pub fn with_a(self, a: u32) -> Instr {
        Instr((self.0 & !(0xff << 7)) | (a << 7))
    }
    /// Returns a copy with the B field replaced.
    pub fn with_b(self, b: u32) -> Instr {
        Instr((self.0 & !(0xff << 16)) | (b << 16))
    }
    /// Returns a copy with the C field replaced.
    pub fn with_c(self, c: u32) -> Instr {
        Instr((self.0 & !(0xff << 24)) | (c << 24))
    }
    /// Returns a copy with the k bit replaced.
    pub fn with_k(self, k: bool) -> Instr {
        Instr((self.0 & !(1 << 15)) | ((k as u32) << 15))
    }
    /// Returns a copy with the Bx field replaced.
    pub fn with_bx(self, bx: u32) -> Instr {
        Instr((self.0 & 0x7fff) | (bx << 15))
    }
    /// Returns a copy with the sJ field replaced.
    pub fn with_sj(self, sj: i32) -> Instr {
        Instr((self.0 & 0x7f) | (((sj + OFFSET_SJ) as u32) << 7))
    }
}

impl fmt::Debug for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opcode() {
            Some(op) => write!(
                f,
                "{} a={} b={} c={} k={} bx={}",
                op.name(),
                self.a(),
                self.b(),
                self.c(),
                self.k() as u8,
                self.bx()
            ),
            None => write!(f, "<invalid {:#x}>", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let i = Instr::abc(OpCode::Add, 200, 17, 255, true);
        assert_eq!(i.opcode(), Some(OpCode::Add));
        assert_eq!((i.a(), i.b(), i.c(), i.k()), (200, 17, 255, true));
        let j = Instr::asbx(OpCode::LoadI, 3, -65535);
        assert_eq!(j.sbx(), -65535);
        let j = Instr::asbx(OpCode::LoadI, 3, 65536);
        assert_eq!(j.sbx(), 65536);
        let s = Instr::sj(OpCode::Jmp, -5);
        assert_eq!(s.sj_field(), -5);
        assert_eq!(s.with_sj(7).sj_field(), 7);
        assert_eq!(
            OpCode::from_u8(OpCode::ExtraArg as u8),
            Some(OpCode::ExtraArg)
        );
        assert_eq!(OpCode::from_u8(OpCode::COUNT as u8), None);
        assert_eq!(OpCode::ExtraArg.name(), "EXTRAARG");
        assert_eq!(OpCode::SelfOp.name(), "SELF");
    }
}
