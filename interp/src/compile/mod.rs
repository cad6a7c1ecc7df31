//! Compiler from the AST ([`crate::ast`]) to register bytecode ([`Proto`]).
//!
//! The compiler follows the design of PUC Lua 5.4's single-pass code generator, driven by the
//! tree instead of the token stream, and produces code of the same shape.
//!
//! * This file owns the entry point, [`FuncState`] (the function being built) and everything
//!   about scopes: blocks, local variables, upvalues, labels and pending `goto`s.
//! * [`code`] emits instructions and owns the line table, jump lists and their patching, the
//!   constant table, register allocation and the final fix-up pass of a function.
//! * [`desc`] defines expression descriptors ([`desc::ExpDesc`]) and the code generation that
//!   discharges them into registers, constants or conditional jumps (operators included).
//! * [`expr`] compiles AST expressions into descriptors, [`stat`] compiles statements.
//! * [`fold`] evaluates arithmetic on numeric constants for constant folding.
//!
//! # Registers
//!
//! Registers are allocated as a stack: active locals occupy the bottom (compile-time constant
//! locals occupy none), temporaries are reserved and freed above them in strict LIFO order, and
//! every statement starts and ends with the first free register right above the locals.
//!
//! # Jumps
//!
//! Pending jumps form linked lists threaded through the (not yet final) offsets of their `JMP`
//! instructions. Conditions never materialise booleans unless a value is needed: an
//! expression descriptor carries a "true" and a "false" jump list, and a comparison or test is a
//! `EQ/LT/.../TEST/TESTSET` followed by a `JMP`. When such an expression is finally needed as a
//! value, `TESTSET`s are retargeted to the destination register and `LFALSESKIP/LOADTRUE` pairs
//! are emitted only for jumps that carry no value.
//!
//! # Closing upvalues and to-be-closed variables
//!
//! Capturing a local marks the block that declared it; a `<close>` variable (and the hidden
//! state of a generic `for`) marks its block too. A marked block emits `CLOSE level` when it is
//! left by falling off its end (the function's outermost block relies on `RETURN`'s k flag
//! instead). Because a loop body is such a block, each iteration gets fresh upvalues.
//!
//! # `goto`, labels and `break`
//!
//! `break` is a `goto` to an implicit label `break` created when a loop block ends. A backward
//! `goto` is resolved at once (with a `CLOSE` first if it leaves the scope of a local). A forward
//! `goto` stays pending in its block with the number of active locals at the jump; when its block
//! ends it moves to the enclosing block, remembering whether it left the scope of a block that
//! needs closing. When the matching label is declared, the jumps are patched and, if any of them
//! needs closing, the label emits a `CLOSE` right at its position (harmless on fall-through).
//! A label followed only by other labels up to the end of its block (not a `repeat` body) counts
//! as being outside the scope of the block's locals, so a `goto` may jump forward to it.

mod code;
mod desc;
mod expr;
mod fold;
mod stat;
#[cfg(test)]
mod tests;

use crate::ast;
use crate::chunkid::chunk_id;
use crate::opcode::OpCode;
use crate::proto::{Constant, LocVar, Proto};
use code::ConstKey;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// A compile-time error (a "syntax error" in Lua's terms), already formatted as
/// `chunkid:line: message`.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// The full message, e.g. `input:3: break outside loop at line 3`.
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

type CResult<T> = Result<T, CompileError>;

/// Maximum number of local variables per function (PUC's `MAXVARS`).
const MAX_VARS: usize = 200;
/// Maximum number of upvalues per function (PUC's `MAXUPVAL`).
const MAX_UPVALUES: usize = 255;

/// Compile a parsed main chunk. `chunkname` is the raw chunk name (`b"@file.lua"`, `b"=stdin"`,
/// or source text); it is stored in every [`Proto`]'s `source` and used (through
/// [`chunk_id`]) in error messages.
///
/// The main function is vararg, has no parameters and one upvalue `_ENV` (in stack, index 0)
/// that the VM fills with the globals table.
pub fn compile(chunk: &ast::FuncBody, chunkname: &[u8]) -> Result<Rc<Proto>, CompileError> {
    let source: Rc<[u8]> = Rc::from(chunkname);
    let mut fs = FuncState::new(source, 0, 0);
    fs.is_vararg = true;
    fs.upvalues.push(UpvalInfo {
        name: "_ENV".into(),
        in_stack: true,
        index: 0,
        readonly: false,
    });
    let mut compiler = Compiler {
        fs,
        enclosing: Vec::new(),
    };
    compiler.function_body(chunk, true)?;
    let fs = compiler.fs;
    Ok(Rc::new(fs.into_proto()))
}

/// Kind of a declared local variable.
#[derive(Debug, Clone, PartialEq)]
enum VarKind {
    /// An ordinary variable.
    Regular,
    /// `<const>` whose value is not a compile-time constant: read-only, lives in a register.
    Const,
    /// `<close>`: read-only, lives in a register.
    Close,
    /// `<const>` with a compile-time constant value: no register, uses become the constant.
    CompileTimeConst(Constant),
}

/// A local variable declared in the current function (active or about to become active).
#[derive(Debug, Clone)]
struct VarDesc {
    name: Box<str>,
    kind: VarKind,
    /// Register (meaningless for compile-time constants).
    reg: u32,
    /// Index of its debug entry in `locvars` (meaningless for compile-time constants).
    pidx: usize,
}

impl VarDesc {
    fn has_register(&self) -> bool {
        !matches!(self.kind, VarKind::CompileTimeConst(_))
    }
}

/// An upvalue of the function being compiled.
#[derive(Debug, Clone)]
struct UpvalInfo {
    name: Box<str>,
    in_stack: bool,
    index: u32,
    /// The captured variable is `<const>` or `<close>`.
    readonly: bool,
}

/// A lexical block (scope).
#[derive(Debug, Clone)]
struct BlockInfo {
    /// Number of active locals outside the block.
    nactvar: usize,
    /// Index of the first label of this block in `FuncState::labels`.
    first_label: usize,
    /// Index of the first pending goto of this block in `FuncState::gotos`.
    first_goto: usize,
    /// Some variable of the block is captured as an upvalue or needs closing.
    upval: bool,
    /// The block is a loop (the target of `break`).
    is_loop: bool,
    /// The block is inside the scope of a to-be-closed variable (no tail calls).
    inside_tbc: bool,
}

/// A visible label.
#[derive(Debug, Clone)]
struct LabelDesc {
    name: Box<str>,
    line: u32,
    pc: usize,
    /// Number of active locals at the label.
    nactvar: usize,
}

/// A pending (unresolved forward) `goto` or `break`.
#[derive(Debug, Clone)]
struct GotoDesc {
    name: Box<str>,
    line: u32,
    /// Jump list to patch with the label's position.
    jumps: Option<usize>,
    /// Number of active locals at the jump (lowered as the goto leaves blocks).
    nactvar: usize,
    /// The jump leaves the scope of a variable that needs closing.
    close: bool,
}

/// The state of a function being compiled.
pub(super) struct FuncState {
    code: Vec<crate::opcode::Instr>,
    lines: Vec<u32>,
    constants: Vec<Constant>,
    const_index: HashMap<ConstKey, u32>,
    protos: Vec<Rc<Proto>>,
    upvalues: Vec<UpvalInfo>,
    locvars: Vec<LocVar>,
    num_params: u8,
    is_vararg: bool,
    max_stack: u32,
    line_defined: u32,
    last_line_defined: u32,
    source: Rc<[u8]>,
    /// Source line attributed to the next emitted instruction (and to errors).
    line: u32,
    /// First free register.
    free_reg: u32,
    /// Declared locals: the first `nactvar` are active, the rest are being declared.
    actvars: Vec<VarDesc>,
    nactvar: usize,
    blocks: Vec<BlockInfo>,
    labels: Vec<LabelDesc>,
    gotos: Vec<GotoDesc>,
    /// Position of the last jump target (instructions before it cannot be merged with new ones).
    last_target: usize,
    /// Some local is captured or to-be-closed: returns must close upvalues.
    need_close: bool,
}

impl FuncState {
    fn new(source: Rc<[u8]>, line_defined: u32, last_line_defined: u32) -> FuncState {
        FuncState {
            code: Vec::new(),
            lines: Vec::new(),
            constants: Vec::new(),
            const_index: HashMap::new(),
            protos: Vec::new(),
            upvalues: Vec::new(),
            locvars: Vec::new(),
            num_params: 0,
            is_vararg: false,
            max_stack: 2,
            line_defined,
            last_line_defined,
            source,
            line: line_defined.max(1),
            free_reg: 0,
            actvars: Vec::new(),
            nactvar: 0,
            blocks: Vec::new(),
            labels: Vec::new(),
            gotos: Vec::new(),
            last_target: 0,
            need_close: false,
        }
    }

    /// Builds an error at the current line.
    fn error(&self, msg: impl fmt::Display) -> CompileError {
        self.error_at(self.line, msg)
    }

    /// Builds an error at `line`.
    fn error_at(&self, line: u32, msg: impl fmt::Display) -> CompileError {
        CompileError {
            message: format!("{}:{}: {}", chunk_id(&self.source), line, msg),
        }
    }

    /// Builds a "too many X" error, naming the function as PUC does.
    fn limit_error(&self, limit: usize, what: &str) -> CompileError {
        let place = if self.line_defined == 0 {
            "main function".to_string()
        } else {
            format!("function at line {}", self.line_defined)
        };
        self.error(format!("too many {what} (limit is {limit}) in {place}"))
    }

    // ----- locals -----

    /// Register level above the first `nvar` active variables.
    fn reg_level(&self, nvar: usize) -> u32 {
        self.actvars[..nvar]
            .iter()
            .rev()
            .find(|v| v.has_register())
            .map_or(0, |v| v.reg + 1)
    }

    /// Number of registers occupied by active locals.
    fn nvarstack(&self) -> u32 {
        self.reg_level(self.nactvar)
    }

    /// Declares a new local (not active until [`FuncState::adjust_local_vars`]); returns its index.
    fn new_local(&mut self, name: &str, kind: VarKind) -> CResult<usize> {
        if self.actvars.len() + 1 > MAX_VARS {
            return Err(self.limit_error(MAX_VARS, "local variables"));
        }
        self.actvars.push(VarDesc {
            name: name.into(),
            kind,
            reg: 0,
            pidx: 0,
        });
        Ok(self.actvars.len() - 1)
    }

    /// Activates the next `n` declared locals, assigning consecutive registers.
    fn adjust_local_vars(&mut self, n: usize) {
        let first_reg = self.nvarstack();
        for reg in first_reg..first_reg + n as u32 {
            let vidx = self.nactvar;
            self.nactvar += 1;
            let pc = self.code.len() as u32;
            let var = &mut self.actvars[vidx];
            var.reg = reg;
            var.pidx = self.locvars.len();
            self.locvars.push(LocVar {
                name: var.name.clone(),
                start_pc: pc,
                end_pc: pc,
            });
        }
    }

    /// Deactivates locals down to `level` (the descriptors stay until the block is left).
    fn remove_vars(&mut self, level: usize) {
        let pc = self.code.len() as u32;
        while self.nactvar > level {
            self.nactvar -= 1;
            let var = &self.actvars[self.nactvar];
            if var.has_register() {
                self.locvars[var.pidx].end_pc = pc;
            }
        }
    }

    /// Index of the innermost active local called `name`.
    fn search_local(&self, name: &str) -> Option<usize> {
        self.actvars[..self.nactvar]
            .iter()
            .rposition(|v| &*v.name == name)
    }

    fn search_upvalue(&self, name: &str) -> Option<u32> {
        self.upvalues
            .iter()
            .position(|u| &*u.name == name)
            .map(|i| i as u32)
    }

    /// Marks the block declaring local `vidx` as having a captured variable.
    fn mark_upval(&mut self, vidx: usize) {
        if let Some(bl) = self.blocks.iter_mut().rev().find(|b| b.nactvar <= vidx) {
            bl.upval = true;
        }
        self.need_close = true;
    }

    /// Marks the current block as containing a to-be-closed variable.
    fn mark_to_be_closed(&mut self) {
        if let Some(bl) = self.blocks.last_mut() {
            bl.upval = true;
            bl.inside_tbc = true;
        }
        self.need_close = true;
    }

    fn new_upvalue(
        &mut self,
        name: &str,
        in_stack: bool,
        index: u32,
        readonly: bool,
    ) -> CResult<u32> {
        if self.upvalues.len() + 1 > MAX_UPVALUES {
            return Err(self.limit_error(MAX_UPVALUES, "upvalues"));
        }
        self.upvalues.push(UpvalInfo {
            name: name.into(),
            in_stack,
            index,
            readonly,
        });
        Ok(self.upvalues.len() as u32 - 1)
    }

    /// Whether the current block is in the scope of a to-be-closed variable.
    fn inside_tbc(&self) -> bool {
        self.blocks.last().is_some_and(|b| b.inside_tbc)
    }

    // ----- blocks, labels and gotos -----

    fn enter_block(&mut self, is_loop: bool) {
        let inside_tbc = self.inside_tbc();
        self.blocks.push(BlockInfo {
            nactvar: self.nactvar,
            first_label: self.labels.len(),
            first_goto: self.gotos.len(),
            upval: false,
            is_loop,
            inside_tbc,
        });
        debug_assert_eq!(self.free_reg, self.nvarstack());
    }

    /// Leaves the current block: ends its locals' scope, resolves `break`s of a loop, emits the
    /// closing `CLOSE` if needed and moves still-pending gotos to the enclosing block (or
    /// reports them when leaving the function's outermost block).
    fn leave_block(&mut self) -> CResult<()> {
        let Some(bl) = self.blocks.last().cloned() else {
            return Ok(());
        };
        let has_previous = self.blocks.len() > 1;
        let stack_level = self.reg_level(bl.nactvar);
        self.remove_vars(bl.nactvar);
        let mut has_close = false;
        if bl.is_loop {
            has_close = self.create_label("break", 0, false)?;
        }
        if !has_close && has_previous && bl.upval {
            self.emit_abc(OpCode::Close, stack_level, 0, 0);
        }
        self.free_reg = stack_level;
        self.labels.truncate(bl.first_label);
        self.blocks.pop();
        if has_previous {
            // Pending gotos now belong to the enclosing block.
            for i in bl.first_goto..self.gotos.len() {
                if self.reg_level(self.gotos[i].nactvar) > stack_level {
                    self.gotos[i].close |= bl.upval;
                }
                self.gotos[i].nactvar = bl.nactvar;
            }
        } else if let Some(gt) = self.gotos.get(bl.first_goto) {
            let msg = if &*gt.name == "break" {
                format!("break outside loop at line {}", gt.line)
            } else {
                format!(
                    "no visible label '{}' for <goto> at line {}",
                    gt.name, gt.line
                )
            };
            return Err(self.error(msg));
        }
        self.actvars.truncate(bl.nactvar);
        Ok(())
    }

    /// Visible label called `name`.
    fn find_label(&self, name: &str) -> Option<&LabelDesc> {
        self.labels.iter().find(|l| &*l.name == name)
    }

    /// Records a pending forward jump list to the label `name`.
    fn new_goto(&mut self, name: &str, line: u32, jumps: Option<usize>) {
        self.gotos.push(GotoDesc {
            name: name.into(),
            line,
            jumps,
            nactvar: self.nactvar,
            close: false,
        });
    }

    /// Declares a label at the current position and resolves the pending gotos of the current
    /// block that target it. `last`: the label ends its block, so the block's locals are
    /// considered out of scope. Returns whether a `CLOSE` was emitted for the gotos.
    fn create_label(&mut self, name: &str, line: u32, last: bool) -> CResult<bool> {
        let pc = self.get_label();
        let (block_nactvar, first_goto) = self
            .blocks
            .last()
            .map_or((0, 0), |b| (b.nactvar, b.first_goto));
        let nactvar = if last { block_nactvar } else { self.nactvar };
        self.labels.push(LabelDesc {
            name: name.into(),
            line,
            pc,
            nactvar,
        });
        let mut needs_close = false;
        let mut i = first_goto;
        while i < self.gotos.len() {
            if &*self.gotos[i].name != name {
                i += 1;
                continue;
            }
            let gt = self.gotos.remove(i);
            needs_close |= gt.close;
            if gt.nactvar < nactvar {
                let var = &self.actvars[gt.nactvar].name;
                let msg = format!(
                    "<goto {}> at line {} jumps into the scope of local '{}'",
                    gt.name, gt.line, var
                );
                return Err(self.error_at(line, msg));
            }
            self.patch_list(gt.jumps, pc)?;
        }
        if needs_close {
            let level = self.nvarstack();
            self.emit_abc(OpCode::Close, level, 0, 0);
        }
        Ok(needs_close)
    }
}

/// A resolved variable name.
#[derive(Debug, Clone)]
enum VarRef {
    Local { reg: u32, readonly: bool },
    Upval { idx: u32, readonly: bool },
    Const(Constant),
    Global,
}

impl VarRef {
    fn readonly(&self) -> bool {
        match self {
            VarRef::Local { readonly, .. } | VarRef::Upval { readonly, .. } => *readonly,
            VarRef::Const(_) => true,
            VarRef::Global => false,
        }
    }
}

/// The compiler: the function being compiled and the functions enclosing it.
pub(super) struct Compiler {
    fs: FuncState,
    /// Enclosing functions, outermost first.
    enclosing: Vec<FuncState>,
}

impl Compiler {
    /// The function at nesting `level` (0 = main chunk; `enclosing.len()` = current).
    fn func_at(&mut self, level: usize) -> &mut FuncState {
        if level < self.enclosing.len() {
            &mut self.enclosing[level]
        } else {
            &mut self.fs
        }
    }

    /// Resolves a name in the current function.
    fn resolve(&mut self, name: &str) -> CResult<VarRef> {
        self.resolve_in(self.enclosing.len(), name, true)
    }

    /// Resolves `name` in the function at `level`, creating upvalues along the way.
    /// `base`: the lookup starts at this level (a local found here is not captured).
    fn resolve_in(&mut self, level: usize, name: &str, base: bool) -> CResult<VarRef> {
        let fs = self.func_at(level);
        if let Some(vidx) = fs.search_local(name) {
            let var = &fs.actvars[vidx];
            let reg = var.reg;
            let readonly = match &var.kind {
                VarKind::CompileTimeConst(k) => return Ok(VarRef::Const(k.clone())),
                VarKind::Regular => false,
                VarKind::Const | VarKind::Close => true,
            };
            if !base {
                fs.mark_upval(vidx);
            }
            return Ok(VarRef::Local { reg, readonly });
        }
        if let Some(idx) = fs.search_upvalue(name) {
            let readonly = fs.upvalues[idx as usize].readonly;
            return Ok(VarRef::Upval { idx, readonly });
        }
        if level == 0 {
            return Ok(VarRef::Global);
        }
        let (in_stack, index, readonly) = match self.resolve_in(level - 1, name, false)? {
            VarRef::Local { reg, readonly } => (true, reg, readonly),
            VarRef::Upval { idx, readonly } => (false, idx, readonly),
            other => return Ok(other),
        };
        let idx = self
            .func_at(level)
            .new_upvalue(name, in_stack, index, readonly)?;
        Ok(VarRef::Upval { idx, readonly })
    }

    /// Compiles a function body into the current (fresh) [`FuncState`], ending with its final
    /// return and the fix-up pass.
    fn function_body(&mut self, body: &ast::FuncBody, is_main: bool) -> CResult<()> {
        self.fs.enter_block(false);
        for param in &body.params {
            self.fs.new_local(param, VarKind::Regular)?;
        }
        let nparams = body.params.len();
        self.fs.adjust_local_vars(nparams);
        self.fs.num_params = nparams as u8;
        if body.is_vararg || is_main {
            self.fs.is_vararg = true;
            self.fs.line = body.vararg_line.max(1);
            self.fs.emit_abc(OpCode::VarargPrep, nparams as u32, 0, 0);
        }
        self.fs.reserve_regs(nparams as u32)?;
        self.statlist(&body.body.stats, body.body.ret.as_ref(), false)?;
        self.fs.line = body.end_line;
        let first = self.fs.nvarstack();
        self.fs.ret(first, 0);
        self.fs.leave_block()?;
        self.fs.finish()
    }

    /// Compiles a nested function and returns its prototype.
    fn child_proto(&mut self, body: &ast::FuncBody) -> CResult<Proto> {
        let child = FuncState::new(self.fs.source.clone(), body.line, body.end_line);
        let parent = std::mem::replace(&mut self.fs, child);
        self.enclosing.push(parent);
        let result = self.function_body(body, false);
        let parent = self
            .enclosing
            .pop()
            .expect("the enclosing function was pushed above");
        let child = std::mem::replace(&mut self.fs, parent);
        result.map(|()| child.into_proto())
    }
}
