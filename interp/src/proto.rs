//! Function prototypes: the compiler's output and the VM's input.
//!
//! A [`Proto`] is independent of any Lua state (its constants hold raw bytes, not interned
//! strings), so the front end builds and is tested without a heap. The VM turns a `Proto` into
//! a runtime prototype with interned constants when a chunk is loaded.

use crate::opcode::Instr;
use std::rc::Rc;

/// A compile-time constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<[u8]>),
}

/// Where a closure's upvalue comes from when `CLOSURE` creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct UpvalDesc {
    /// Name for debug information and error messages.
    pub name: Box<str>,
    /// `true`: the upvalue captures register `index` of the enclosing function;
    /// `false`: it is upvalue `index` of the enclosing function.
    pub in_stack: bool,
    pub index: u8,
}

/// Debug information for a local variable: active for `start_pc <= pc < end_pc`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocVar {
    pub name: Box<str>,
    pub start_pc: u32,
    pub end_pc: u32,
}

/// A compiled function.
#[derive(Debug, Clone, PartialEq)]
pub struct Proto {
    pub code: Vec<Instr>,
    /// Source line of each instruction (same length as `code`).
    pub lines: Vec<u32>,
    pub constants: Vec<Constant>,
    /// Nested functions, referenced by `CLOSURE`.
    pub protos: Vec<Rc<Proto>>,
    pub upvalues: Vec<UpvalDesc>,
    /// Locals in order of declaration (registers are assigned in this order per scope).
    pub locvars: Vec<LocVar>,
    pub num_params: u8,
    pub is_vararg: bool,
    /// Number of registers the function needs.
    pub max_stack: u8,
    /// Line of `function` (0 for a main chunk).
    pub line_defined: u32,
    /// Line of the closing `end` (0 for a main chunk).
    pub last_line_defined: u32,
    /// Chunk name as given to `load` (e.g. `@file.lua`, `=stdin`, or the source text).
    pub source: Rc<[u8]>,
}

impl Proto {
    /// Name of local number `n` (1-based, in order of activation) active at `pc`, as in
    /// `debug.getlocal`; `None` if there is no such local.
    pub fn local_name(&self, n: usize, pc: usize) -> Option<&str> {
        let mut count = 0;
        for lv in &self.locvars {
            if (lv.start_pc as usize) > pc {
                break;
            }
            if pc < lv.end_pc as usize {
                count += 1;
                if count == n {
                    return Some(&lv.name);
                }
            }
        }
        None
    }
}
