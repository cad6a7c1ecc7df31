//! Unit tests of the compiler: code shapes (compared with `luac5.4 -l` listings, minus the
//! `MMBIN*` instructions this instruction set does not have), jump offsets, scoping, limits and
//! error messages.

use super::compile;
use crate::ast::{BinOp, Block, Expr, ExprKind, FuncBody, Return, Stat};
use crate::disasm::disassemble;
use crate::opcode::{Instr, OpCode};
use crate::parse::parse;
use crate::proto::{Constant, Proto};
use std::rc::Rc;

/// Parses and compiles `src` (chunk name `=test`).
fn try_compile(src: &str) -> Result<Rc<Proto>, String> {
    let chunk = parse(src.as_bytes(), b"=test").map_err(|e| e.message)?;
    compile(&chunk, b"=test").map_err(|e| e.message)
}

fn compile_src(src: &str) -> Rc<Proto> {
    try_compile(src).unwrap_or_else(|e| panic!("{e}"))
}

/// The compile error of `src`.
fn compile_error(src: &str) -> String {
    match try_compile(src) {
        Ok(_) => panic!("expected an error compiling {src:?}"),
        Err(e) => e,
    }
}

/// The instructions of `p` as `OPNAME operands` (as the disassembler shows them).
fn ops(p: &Proto) -> Vec<String> {
    let listing = disassemble(p);
    let mut out = Vec::new();
    for line in listing.lines() {
        // "\t<pc>\t[<line>]\t<OPNAME>\t<operands>\t; comment"
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() >= 4 && fields[0].is_empty() && fields[2].starts_with('[') {
            let operands = fields.get(4).copied().unwrap_or("");
            out.push(
                format!("{} {}", fields[3].trim_end(), operands)
                    .trim_end()
                    .to_string(),
            );
        }
        if line.starts_with("constants") {
            break;
        }
    }
    out
}

/// The main function's code of `src`.
fn code(src: &str) -> Vec<String> {
    ops(&compile_src(src))
}

fn op(i: Instr) -> OpCode {
    i.opcode().expect("valid opcode")
}

#[test]
fn main_chunk_conventions() {
    let p = compile_src("");
    assert!(p.is_vararg);
    assert_eq!(p.num_params, 0);
    assert_eq!(p.upvalues.len(), 1);
    assert_eq!(&*p.upvalues[0].name, "_ENV");
    assert!(p.upvalues[0].in_stack);
    assert_eq!(p.upvalues[0].index, 0);
    assert_eq!(ops(&p), ["VARARGPREP 0", "RETURN 0 1 1"]);
    assert!(p.max_stack >= 2);
    assert_eq!((p.line_defined, p.last_line_defined), (0, 0));
    assert_eq!(&*p.source, b"=test");
}

#[test]
fn arithmetic_immediates_and_constants() {
    assert_eq!(
        code("local a = 1; local b = a + 1"),
        ["VARARGPREP 0", "LOADI 0 1", "ADDI 1 0 1", "RETURN 2 1 1"]
    );
    // Swapped commutative operands set k; subtraction never uses ADDI.
    assert_eq!(
        code("local a; local b = 1 + a; local c = a - 1; local d = a * 2.5; local e = 2 - a"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "ADDI 1 0 1k",
            "SUBK 2 0 0",
            "MULK 3 0 1",
            "LOADI 4 2",
            "SUB 4 4 0",
            "RETURN 5 1 1"
        ]
    );
    // Bitwise: integer K operands only; shifts by immediates.
    assert_eq!(
        code("local a; local b = a & 7; local c = a >> 3; local d = 1 << a; local e = a << 2"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "BANDK 1 0 0",
            "SHRI 2 0 3",
            "SHLI 3 0 1",
            "LOADI 4 2",
            "SHL 4 0 4",
            "RETURN 5 1 1"
        ]
    );
}

#[test]
fn constant_folding() {
    assert_eq!(
        code("local x <const> = 2^10; return x"),
        [
            "VARARGPREP 0",
            "LOADF 0 1024",
            "RETURN 0 2 1",
            "RETURN 0 1 1"
        ]
    );
    assert_eq!(
        code("return 1 + 2 * 3, -(2), ~0, 7 // 2, 1 << 62"),
        [
            "VARARGPREP 0",
            "LOADI 0 7",
            "LOADI 1 -2",
            "LOADI 2 -1",
            "LOADI 3 3",
            "LOADK 4 0",
            "RETURN 0 6 1",
            "RETURN 0 1 1"
        ]
    );
    // Not folded: division by zero, results that are 0.0 or NaN, bitwise on fractions.
    let p = compile_src("return 1 // 0, 0.0 * 1, 1.5 | 0, -0.0");
    let c = ops(&p);
    assert!(c.iter().any(|l| l.starts_with("IDIVK")), "{c:?}");
    assert!(c.iter().any(|l| l.starts_with("MULK")), "{c:?}");
    assert!(c.iter().any(|l| l.starts_with("BOR")), "{c:?}");
    assert!(c.iter().any(|l| l.starts_with("UNM")), "{c:?}");
    // `not` of constants folds too.
    assert_eq!(
        code("return not nil, not 1"),
        [
            "VARARGPREP 0",
            "LOADTRUE 0",
            "LOADFALSE 1",
            "RETURN 0 3 1",
            "RETURN 0 1 1"
        ]
    );
}

#[test]
fn compile_time_constants_need_no_register_or_upvalue() {
    let p = compile_src(
        "local k <const> = 'key'; local n <const> = 5\n\
         local function f(t) return t[k] + n end\n\
         return f",
    );
    assert_eq!(
        p.locvars.iter().map(|l| &*l.name).collect::<Vec<_>>(),
        ["f"]
    );
    let f = &p.protos[0];
    assert!(f.upvalues.is_empty());
    assert_eq!(
        ops(f),
        ["GETFIELD 1 0 0", "ADDI 1 1 5", "RETURN1 1", "RETURN0"]
    );
}

#[test]
fn globals_and_fields() {
    assert_eq!(
        code("x.y.z = 1"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "GETFIELD 0 0 1",
            "SETFIELD 0 2 3k",
            "RETURN 0 1 1"
        ]
    );
    assert_eq!(
        code("local t = {}; t[1] = t[2]; t.a = g; t[t] = 1.5"),
        [
            "VARARGPREP 0",
            "NEWTABLE 0 0 0",
            "EXTRAARG 0",
            "GETI 1 0 2",
            "SETI 0 1 1",
            "GETTABUP 1 0 1",
            "SETFIELD 0 0 1",
            "SETTABLE 0 0 2k",
            "RETURN 1 1 1"
        ]
    );
    // A local _ENV turns globals into fields of a register.
    assert_eq!(
        code("local _ENV = {}; x = y"),
        [
            "VARARGPREP 0",
            "NEWTABLE 0 0 0",
            "EXTRAARG 0",
            "GETFIELD 1 0 1",
            "SETFIELD 0 0 1",
            "RETURN 1 1 1"
        ]
    );
}

#[test]
fn many_constants_use_registers_and_loadkx() {
    // 300 distinct string constants: later global names no longer fit 8 bits.
    let mut src = String::new();
    for i in 0..300 {
        src.push_str(&format!("f('s{i}')\n"));
    }
    src.push_str("x = 1 return y");
    let c = code(&src);
    assert!(c.contains(&"GETUPVAL 0 0".to_string()), "{c:?}");
    assert!(c.iter().any(|l| l.starts_with("SETTABLE")), "{c:?}");
    assert!(c.iter().any(|l| l.starts_with("GETTABLE")), "{c:?}");

    // More than 2^17 constants need LOADKX + EXTRAARG.
    let n = (1 << 17) + 10;
    let mut body = Vec::new();
    for i in 0..n {
        body.push(Stat::Local {
            names: vec![("x".into(), crate::ast::Attrib::None)],
            exprs: vec![Expr::new(ExprKind::Float(i as f64 + 0.5), 1)],
            line: 1,
            end_line: 1,
        });
        body.push(Stat::Do(Block::default()));
    }
    let mut stats = Vec::new();
    // Keep the number of locals low: one per `do` block.
    for chunk in body.chunks(2) {
        stats.push(Stat::Do(Block {
            stats: chunk.to_vec(),
            ret: None,
            end_line: 1,
        }));
    }
    let p = compile(&main_chunk(stats, None), b"=big").expect("compiles");
    assert_eq!(p.constants.len(), n);
    let last_load = p
        .code
        .iter()
        .rposition(|&i| op(i) == OpCode::LoadKX)
        .expect("LOADKX used");
    assert_eq!(op(p.code[last_load + 1]), OpCode::ExtraArg);
    assert_eq!(p.code[last_load + 1].ax_field(), n - 1);
}

#[test]
fn calls_and_results() {
    assert_eq!(
        code("return f()"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "TAILCALL 0 1 1",
            "RETURN 0 0 1",
            "RETURN 0 1 1"
        ]
    );
    assert_eq!(
        code("f(1, g())"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "LOADI 1 1",
            "GETTABUP 2 0 1",
            "CALL 2 1 0",
            "CALL 0 0 1",
            "RETURN 0 1 1"
        ]
    );
    assert_eq!(
        code("local a, b = ...; f(...); return ..."),
        [
            "VARARGPREP 0",
            "VARARG 0 3",
            "GETTABUP 2 0 0",
            "VARARG 3 0",
            "CALL 2 0 1",
            "VARARG 2 0",
            "RETURN 2 0 1",
            "RETURN 2 1 1"
        ]
    );
    // Method calls use SELF; a parenthesised call keeps one value.
    assert_eq!(
        code("local o; o:m(1); return (o:n())"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "SELF 1 0 0k",
            "LOADI 3 1",
            "CALL 1 3 1",
            "SELF 1 0 1k",
            "CALL 1 2 2",
            "RETURN 1 2 1",
            "RETURN 1 1 1"
        ]
    );
    // Non-vararg functions use RETURN0/RETURN1.
    let p = compile_src("local function f(a) return a end");
    assert_eq!(ops(&p.protos[0]), ["RETURN1 0", "RETURN0"]);
    assert_eq!(p.protos[0].num_params, 1);
    assert!(!p.protos[0].is_vararg);
    let p = compile_src("local function f(a, ...) return ... end");
    assert_eq!(
        ops(&p.protos[0]),
        ["VARARGPREP 1", "VARARG 1 0", "RETURN 1 0 2", "RETURN 1 1 2"]
    );
}

#[test]
fn multiple_assignment() {
    assert_eq!(
        code("local a, b, c = 1; a, b = b, a"),
        [
            "VARARGPREP 0",
            "LOADI 0 1",
            "LOADNIL 1 1",
            "MOVE 3 1",
            "MOVE 1 0",
            "MOVE 0 3",
            "RETURN 3 1 1"
        ]
    );
    // The table of an earlier target is saved before the local is assigned.
    assert_eq!(
        code("local a = {}; a[1], a = 1, 2"),
        [
            "VARARGPREP 0",
            "NEWTABLE 0 0 0",
            "EXTRAARG 0",
            "MOVE 1 0",
            "LOADI 2 1",
            "LOADI 0 2",
            "SETI 1 1 2",
            "RETURN 1 1 1"
        ]
    );
    // Extra values are evaluated and dropped; missing ones are nil.
    assert_eq!(
        code("x, y = f(), 1, 2"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 2",
            "CALL 0 1 2",
            "LOADI 1 1",
            "LOADI 2 2",
            "SETTABUP 0 1 1",
            "SETTABUP 0 0 0",
            "RETURN 0 1 1"
        ]
    );
}

#[test]
fn conditions_use_jumps() {
    assert_eq!(
        code("local a, b, c; local x = a and b or c"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 2",
            "TEST 0 0",
            "JMP 2",
            "TESTSET 3 1 1",
            "JMP 1",
            "MOVE 3 2",
            "RETURN 4 1 1"
        ]
    );
    assert_eq!(
        code("local a; if a < 1 then a = 1 elseif 2 < a then a = 2 elseif a >= a then a = 3 end"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "LTI 0 1 0",
            "JMP 2",
            "LOADI 0 1",
            "JMP 7",
            "GTI 0 2 0",
            "JMP 2",
            "LOADI 0 2",
            "JMP 3",
            "LE 0 0 0",
            "JMP 1",
            "LOADI 0 3",
            "RETURN 1 1 1"
        ]
    );
    assert_eq!(
        code("local a; local b = a == 'x', a ~= nil, a == 1.0, a ~= 300"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "EQK 0 0 1",
            "JMP 1",
            "LFALSESKIP 1",
            "LOADTRUE 1",
            "EQK 0 1 0",
            "JMP 1",
            "LFALSESKIP 2",
            "LOADTRUE 2",
            "EQI 0 1 1",
            "JMP 1",
            "LFALSESKIP 3",
            "LOADTRUE 3",
            "EQK 0 2 0",
            "JMP 1",
            "LFALSESKIP 4",
            "LOADTRUE 4",
            "RETURN 2 1 1"
        ]
    );
    let p = compile_src("local a; local b = a == 1.0");
    let eqi = p.code.iter().find(|&&i| op(i) == OpCode::EqI).unwrap();
    assert_eq!(eqi.c(), 1, "the immediate came from a float");
    // `not` inverts the test instead of computing a value.
    assert_eq!(
        code("local a; while not a do a = 1 end"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 0",
            "TEST 0 1",
            "JMP 2",
            "LOADI 0 1",
            "JMP -4",
            "RETURN 1 1 1"
        ]
    );
}

#[test]
fn concatenation_is_one_instruction() {
    assert_eq!(
        code("local a, b, c, d; local s = a .. b .. c .. (d .. 'x')"),
        [
            "VARARGPREP 0",
            "LOADNIL 0 3",
            "MOVE 4 0",
            "MOVE 5 1",
            "MOVE 6 2",
            "MOVE 7 3",
            "LOADK 8 0",
            "CONCAT 4 5",
            "RETURN 5 1 1"
        ]
    );
}

#[test]
fn table_constructors() {
    assert_eq!(
        code("local t = {1, 2, x = 1, [10] = 2, f(), ...}"),
        [
            "VARARGPREP 0",
            "NEWTABLE 0 2 3",
            "EXTRAARG 0",
            "LOADI 1 1",
            "LOADI 2 2",
            "SETFIELD 0 0 1k",
            "SETI 0 10 2k",
            "GETTABUP 3 0 3",
            "CALL 3 1 2",
            "VARARG 4 0",
            "SETLIST 0 0 0",
            "RETURN 1 1 1"
        ]
    );
    // Items are flushed every 50; SETLIST's C counts the items already stored.
    let items: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
    let p = compile_src(&format!("local t = {{{}}}", items.join(", ")));
    let setlists: Vec<(usize, usize)> = p
        .code
        .iter()
        .filter(|&&i| op(i) == OpCode::SetList)
        .map(|i| (i.b(), i.c()))
        .collect();
    assert_eq!(setlists, [(50, 0), (50, 50), (20, 100)]);
    let newtable = p.code[1];
    assert_eq!((op(newtable), newtable.c()), (OpCode::NewTable, 120));
    // More than 255 items stored before a batch: k + EXTRAARG.
    let items: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
    let p = compile_src(&format!("local t = {{{}}}", items.join(", ")));
    let pc = p
        .code
        .iter()
        .rposition(|&i| op(i) == OpCode::SetList)
        .unwrap();
    let last = p.code[pc];
    assert!(last.k());
    assert_eq!(last.c() + 256 * p.code[pc + 1].ax_field(), 350);
    assert_eq!(op(p.code[pc + 1]), OpCode::ExtraArg);
    let newtable = p.code[1];
    assert!(newtable.k());
    assert_eq!(newtable.c() + 256 * p.code[2].ax_field(), 400);
}

#[test]
fn numeric_for_offsets() {
    let p = compile_src("for i = 1, 10 do f(i) end");
    assert_eq!(
        ops(&p),
        [
            "VARARGPREP 0",
            "LOADI 0 1",
            "LOADI 1 10",
            "LOADI 2 1",
            "FORPREP 0 3",
            "GETTABUP 4 0 0",
            "MOVE 5 3",
            "CALL 4 2 1",
            "FORLOOP 0 4",
            "RETURN 0 1 1"
        ]
    );
    let prep = p
        .code
        .iter()
        .position(|&i| op(i) == OpCode::ForPrep)
        .unwrap();
    let fl = p
        .code
        .iter()
        .position(|&i| op(i) == OpCode::ForLoop)
        .unwrap();
    assert_eq!(p.code[prep].bx(), fl - prep - 1);
    assert_eq!(p.code[fl].bx(), fl - prep);
    let names: Vec<_> = p.locvars.iter().map(|l| &*l.name).collect();
    assert_eq!(names, ["(for state)", "(for state)", "(for state)", "i"]);
    // The loop variable is active in the body only.
    let i = &p.locvars[3];
    assert_eq!((i.start_pc as usize, i.end_pc as usize), (prep + 1, fl));
}

#[test]
fn generic_for_offsets() {
    let p = compile_src("for k, v in pairs(t) do f(k, v) end");
    assert_eq!(
        ops(&p),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "GETTABUP 1 0 1",
            "CALL 0 2 5",
            "TFORPREP 0 4",
            "GETTABUP 6 0 2",
            "MOVE 7 4",
            "MOVE 8 5",
            "CALL 6 3 1",
            "TFORCALL 0 2",
            "TFORLOOP 0 6",
            "CLOSE 0",
            "RETURN 0 1 1k"
        ]
    );
    let prep = p
        .code
        .iter()
        .position(|&i| op(i) == OpCode::TForPrep)
        .unwrap();
    let call = p
        .code
        .iter()
        .position(|&i| op(i) == OpCode::TForCall)
        .unwrap();
    assert_eq!(p.code[prep].bx(), call - prep - 1);
    assert_eq!(p.code[call + 1].bx(), call + 1 - prep);
    assert!(p.max_stack >= 4 + 2 + 3);
    let names: Vec<_> = p.locvars.iter().map(|l| &*l.name).collect();
    assert_eq!(
        names,
        ["(for state)"; 4]
            .iter()
            .copied()
            .chain(["k", "v"])
            .collect::<Vec<_>>()
    );
    // No tail calls inside a generic for (its closing value is to-be-closed).
    let p = compile_src("for k in f do return g() end");
    assert!(!p.code.iter().any(|&i| op(i) == OpCode::TailCall));
}

#[test]
fn closures_close_upvalues_per_iteration() {
    let p = compile_src("for i = 1, 3 do local f = function() return i end end");
    assert_eq!(
        ops(&p),
        [
            "VARARGPREP 0",
            "LOADI 0 1",
            "LOADI 1 3",
            "LOADI 2 1",
            "FORPREP 0 2",
            "CLOSURE 4 0",
            "CLOSE 3",
            "FORLOOP 0 3",
            "RETURN 0 1 1k"
        ]
    );
    let f = &p.protos[0];
    assert_eq!(f.upvalues.len(), 1);
    assert_eq!(
        (
            &*f.upvalues[0].name,
            f.upvalues[0].in_stack,
            f.upvalues[0].index
        ),
        ("i", true, 3)
    );
    // Upvalues of upvalues.
    let p = compile_src("local x; function g() return function() return x end end");
    let inner = &p.protos[0].protos[0];
    assert_eq!(
        (inner.upvalues[0].in_stack, inner.upvalues[0].index),
        (false, 0)
    );
    assert_eq!(
        (
            p.protos[0].upvalues[0].in_stack,
            p.protos[0].upvalues[0].index
        ),
        (true, 0)
    );
    // `break` out of a block with a captured local jumps to a CLOSE.
    let c = code("while x do local a; g = function() return a end; if y then break end end");
    assert_eq!(
        c,
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "TEST 0 0",
            "JMP 9",
            "LOADNIL 0 0",
            "CLOSURE 1 0",
            "SETTABUP 0 1 1",
            "GETTABUP 1 0 2",
            "TEST 1 1",
            "JMP 2",
            "CLOSE 0",
            "JMP -11",
            "CLOSE 0",
            "RETURN 0 1 1k"
        ]
    );
}

#[test]
fn repeat_until_sees_body_locals() {
    assert_eq!(
        code("repeat local z = f(); g = function() return z end until z"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "CALL 0 1 2",
            "CLOSURE 1 0",
            "SETTABUP 0 1 1",
            "TEST 0 0",
            "JMP 2",
            "CLOSE 0",
            "JMP 2",
            "CLOSE 0",
            "JMP -10",
            "RETURN 0 1 1k"
        ]
    );
}

#[test]
fn to_be_closed_variables() {
    assert_eq!(
        code("do local x <close> = f(); return g() end"),
        [
            "VARARGPREP 0",
            "GETTABUP 0 0 0",
            "CALL 0 1 2",
            "TBC 0",
            "GETTABUP 1 0 1",
            "CALL 1 1 0",
            "RETURN 1 0 1k",
            "CLOSE 0",
            "RETURN 0 1 1k"
        ]
    );
    assert!(compile_error("local a <close>, b <close> = 1, 2")
        .contains("multiple to-be-closed variables in local list"));
}

#[test]
fn gotos_and_labels() {
    // Backward goto leaving the scope of a local closes it first.
    assert_eq!(
        code("::top:: local a = 1; if a then goto top end"),
        [
            "VARARGPREP 0",
            "LOADI 0 1",
            "TEST 0 0",
            "JMP 2",
            "CLOSE 0",
            "JMP -5",
            "RETURN 1 1 1"
        ]
    );
    // A forward goto may jump to a label at the end of a block, past local declarations.
    assert_eq!(
        code("do goto e; local x = 1; ::e:: end"),
        ["VARARGPREP 0", "JMP 1", "LOADI 0 1", "RETURN 0 1 1"]
    );
    // `continue` idiom with a captured local: the label closes.
    let c =
        code("for i = 1, 2 do local a; f = function() return a end if i then goto c end ::c:: end");
    assert!(
        c.iter().filter(|l| l.starts_with("CLOSE")).count() >= 1,
        "{c:?}"
    );
}

#[test]
fn goto_errors() {
    assert_eq!(
        compile_error("break"),
        "test:1: break outside loop at line 1"
    );
    assert_eq!(
        compile_error("goto foo"),
        "test:1: no visible label 'foo' for <goto> at line 1"
    );
    assert!(compile_error("::a:: ::a::").contains("label 'a' already defined on line 1"));
    assert!(compile_error("do goto l; local x; ::l:: print(1) end")
        .contains("<goto l> at line 1 jumps into the scope of local 'x'"));
    assert!(compile_error("repeat goto c; local x; ::c:: until x")
        .contains("jumps into the scope of local 'x'"));
}

#[test]
fn readonly_variables() {
    assert_eq!(
        compile_error("local x <const> = 1; x = 2"),
        "test:1: attempt to assign to const variable 'x'"
    );
    assert!(compile_error("local x <close> = nil; x = 2")
        .contains("attempt to assign to const variable 'x'"));
    assert!(
        compile_error("local x <const> = f(); function g() x = 1 end")
            .contains("attempt to assign to const variable 'x'")
    );
}

/// A main chunk with the given body.
fn main_chunk(stats: Vec<Stat>, ret: Option<Return>) -> FuncBody {
    FuncBody {
        params: Vec::new(),
        is_vararg: true,
        is_method: false,
        body: Block {
            stats,
            ret,
            end_line: 1,
        },
        line: 0,
        end_line: 1,
        vararg_line: 1,
    }
}

fn name(n: &str, line: u32) -> Expr {
    Expr::new(ExprKind::Name(n.into()), line)
}

#[test]
fn compiler_checks_scoping_errors_itself() {
    // The parser reports these first; the compiler must not depend on it.
    let stat = |s| main_chunk(vec![s], None);
    let err = |chunk: &FuncBody| compile(chunk, b"=test").unwrap_err().message;
    assert_eq!(
        err(&stat(Stat::Break { line: 3 })),
        "test:1: break outside loop at line 3"
    );
    assert_eq!(
        err(&stat(Stat::Goto {
            label: "l".into(),
            line: 2
        })),
        "test:1: no visible label 'l' for <goto> at line 2"
    );
    let chunk = main_chunk(
        vec![
            Stat::Local {
                names: vec![("x".into(), crate::ast::Attrib::Const)],
                exprs: vec![Expr::new(ExprKind::Int(1), 1)],
                line: 1,
                end_line: 1,
            },
            Stat::Assign {
                targets: vec![name("x", 2)],
                exprs: vec![Expr::new(ExprKind::Int(2), 2)],
                line: 2,
                end_line: 2,
            },
        ],
        None,
    );
    assert!(err(&chunk).contains("attempt to assign to const variable 'x'"));
    let chunk = main_chunk(
        vec![
            Stat::Label {
                name: "a".into(),
                line: 1,
            },
            Stat::Label {
                name: "a".into(),
                line: 2,
            },
        ],
        None,
    );
    assert!(err(&chunk).contains("label 'a' already defined on line"));
}

#[test]
fn limits() {
    let locals: Vec<String> = (0..201).map(|i| format!("a{i}")).collect();
    let err = compile_error(&format!("local {}", locals.join(", ")));
    assert!(
        err.contains("too many local variables (limit is 200) in main function"),
        "{err}"
    );
    let err = compile_error(&format!("function f() local {} end", locals.join(", ")));
    assert!(err.contains("in function at line 1"), "{err}");

    // 300 arguments need more than 255 registers.
    let args: Vec<String> = (0..300).map(|i| format!("a{i}")).collect();
    let err = compile_error(&format!("return f({})", args.join(", ")));
    assert!(
        err.contains("function or expression needs too many registers"),
        "{err}"
    );

    // 300 upvalues (the locals of two enclosing functions).
    let names = |range: std::ops::Range<i32>| {
        range
            .map(|i| format!("u{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let uses: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
    let src = format!(
        "local {}\nlocal function middle()\nlocal {}\nreturn function()\nreturn {} end end",
        names(0..150),
        names(150..300),
        uses.join(" + ")
    );
    let err = compile_error(&src);
    assert!(
        err.contains("too many upvalues (limit is 255) in function at line 4"),
        "{err}"
    );
}

/// Tears down a deep left-nested expression iteratively (recursive `Drop` could overflow).
fn drop_deep(mut e: Expr) {
    loop {
        e = match e.kind {
            ExprKind::Binary(_, lhs, _) => *lhs,
            ExprKind::Index(obj, _) | ExprKind::Call(obj, _) => *obj,
            _ => return,
        };
    }
}

fn drop_deep_right(mut e: Expr) {
    while let ExprKind::Binary(_, _, rhs) = e.kind {
        e = *rhs;
    }
}

#[test]
fn long_chains_do_not_overflow_the_stack() {
    const N: usize = 100_000;
    // x + x + ... (left-nested)
    let mut e = name("x", 1);
    for _ in 0..N {
        e = Expr::new(
            ExprKind::Binary(BinOp::Add, Box::new(e), Box::new(name("x", 1))),
            1,
        );
    }
    // a.b.b.b... and f()()()...
    let mut idx = name("a", 1);
    for _ in 0..N {
        let key = Expr::new(ExprKind::Str(b"b".to_vec().into()), 1);
        idx = Expr::new(ExprKind::Index(Box::new(idx), Box::new(key)), 1);
    }
    let mut call = name("f", 1);
    for _ in 0..N {
        call = Expr::new(ExprKind::Call(Box::new(call), Vec::new()), 1);
    }
    // s .. s .. s ... (right-nested)
    let mut cat = name("s", 1);
    for _ in 0..200 {
        cat = Expr::new(
            ExprKind::Binary(BinOp::Concat, Box::new(name("s", 1)), Box::new(cat)),
            1,
        );
    }
    // a or a or a ... (long jump lists)
    let mut or = name("x", 1);
    for _ in 0..N {
        or = Expr::new(
            ExprKind::Binary(BinOp::Or, Box::new(or), Box::new(name("x", 1))),
            1,
        );
    }
    let chunk = main_chunk(
        Vec::new(),
        Some(Return {
            exprs: vec![e, idx, call, cat, or],
            line: 1,
            end_line: 1,
        }),
    );
    let p = compile(&chunk, b"=chains").expect("compiles");
    assert!(p.code.len() > 4 * N);
    assert!(p
        .code
        .iter()
        .any(|&i| op(i) == OpCode::Concat && i.b() == 201));
    let Some(Return { mut exprs, .. }) = chunk.body.ret else {
        unreachable!()
    };
    drop_deep(exprs.remove(0));
    drop_deep(exprs.remove(0));
    drop_deep(exprs.remove(0));
    drop_deep_right(exprs.remove(0));
    drop_deep(exprs.remove(0));
}

#[test]
fn debug_information() {
    let p = compile_src("local a = 1\nlocal function f()\nend\nf(\na)\nreturn a");
    assert_eq!(p.lines.len(), p.code.len());
    let names: Vec<_> = p.locvars.iter().map(|l| &*l.name).collect();
    assert_eq!(names, ["a", "f"]);
    let closure = p
        .code
        .iter()
        .position(|&i| op(i) == OpCode::Closure)
        .unwrap();
    // `f` is active after its closure is created.
    assert_eq!(p.locvars[1].start_pc as usize, closure + 1);
    assert_eq!(p.local_name(2, closure + 1), Some("f"));
    assert_eq!(p.local_name(2, closure), None);
    let call = p.code.iter().position(|&i| op(i) == OpCode::Call).unwrap();
    assert_eq!(p.lines[call], 4, "a call's line is that of its '('");
    assert_eq!(p.lines[closure], 3, "a closure's line is that of its 'end'");
    let f = &p.protos[0];
    assert_eq!((f.line_defined, f.last_line_defined), (2, 3));
    assert_eq!(&*f.source, b"=test");
    // Binary operators carry the operator's line.
    let p = compile_src("local a\nlocal b = a\n+\n1");
    let addi = p.code.iter().position(|&i| op(i) == OpCode::AddI).unwrap();
    assert_eq!(p.lines[addi], 3);
}

#[test]
fn constants_are_shared() {
    let p = compile_src("local a = 'x', 'x', 1.5, 1.5, 2^53, 1 << 53");
    assert_eq!(
        p.constants,
        [
            Constant::Str(b"x".to_vec().into()),
            Constant::Float(1.5),
            Constant::Float(9007199254740992.0),
            Constant::Int(9007199254740992),
        ]
    );
}

#[test]
fn disassembly_format() {
    let p = compile_src("local t = {}\nt.x = 'a\\n'\nreturn function(...) return #t end");
    let text = disassemble(&p);
    let expected = "\
main <(string):0,0> (7 instructions)
0+ params, 2 slots, 1 upvalue, 1 local, 2 constants, 1 function
\t1\t[1]\tVARARGPREP\t0
\t2\t[1]\tNEWTABLE \t0 0 0\t; 0
\t3\t[1]\tEXTRAARG \t0
\t4\t[2]\tSETFIELD \t0 0 1k\t; \"x\" \"a\\n\"
\t5\t[3]\tCLOSURE  \t1 0\t; function <(string):3,3>
\t6\t[3]\tRETURN   \t1 2 1k\t; 1 out
\t7\t[3]\tRETURN   \t1 1 1k\t; 0 out
constants (2):
\t0\tS\t\"x\"
\t1\tS\t\"a\\n\"
locals (1):
\t0\tt\t4\t8
upvalues (1):
\t0\t_ENV\t1\t0

function <(string):3,3> (5 instructions)
0+ params, 2 slots, 1 upvalue, 0 locals, 0 constants, 0 functions
\t1\t[3]\tVARARGPREP\t0
\t2\t[3]\tGETUPVAL \t0 0\t; t
\t3\t[3]\tLEN      \t0 0
\t4\t[3]\tRETURN   \t0 2 1\t; 1 out
\t5\t[3]\tRETURN   \t0 1 1\t; 0 out
constants (0):
locals (0):
upvalues (1):
\t0\tt\t1\t0
";
    let text = text.replace("=test", "");
    assert_eq!(text, expected.replace("(string)", "test"));
}

#[test]
fn deepest_nesting_the_parser_accepts_compiles() {
    // Find the deepest nesting the parser accepts for each construct and compile it.
    let shapes: [(&str, &str, &str); 6] = [
        ("return ", "2 ^ ", "2"),
        ("return ", "(", "1"),
        ("", "do ", ""),
        ("return ", "function() return ", "1"),
        ("return ", "- ", "x"),
        ("", "if x then ", ""),
    ];
    for (prefix, open, middle) in shapes {
        let close = match open {
            "(" => ")",
            "do " | "if x then " => " end",
            "function() return " => " end",
            _ => "",
        };
        let mut depth = 0;
        for n in [1000, 500, 300, 250, 200, 199, 190, 150, 100, 80, 60, 50] {
            let src = format!("{prefix}{}{middle}{}", open.repeat(n), close.repeat(n));
            if parse(src.as_bytes(), b"=t").is_ok() {
                depth = n;
                try_compile(&src).unwrap_or_else(|e| panic!("{open}: {e}"));
                break;
            }
        }
        assert!(depth >= 50, "{open}: parser rejects depth 50");
    }
}
