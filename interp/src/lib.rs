//! `rua-interp`: Rua's front end, register-bytecode VM and standard library.
//!
//! Pipeline: source bytes → [`lex`] (tokens) → [`parse`] ([`ast`]) → [`compile`] ([`proto::Proto`],
//! register bytecode defined in [`opcode`]) → [`vm`] (stackless dispatch loop, calls, metamethods,
//! coroutines, async host calls) with the [`stdlib`] installed into the state's globals.

pub mod ast;
pub mod chunkid;
pub mod compile;
pub mod disasm;
pub mod dump;
pub mod func;
pub mod lex;
pub mod number;
pub mod opcode;
pub mod parse;
pub mod proto;
pub mod stdlib;
pub mod string;
pub mod table;
pub mod thread;
pub mod userdata;
pub mod value;
pub mod vm;
