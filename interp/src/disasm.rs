//! Disassembler: a `luac -l -l`-style listing of a [`Proto`] and, recursively, of its nested
//! functions (used by `rua --dump-bytecode` and for debugging the compiler).
//!
//! The format follows PUC's `luac` closely: a header per function, one line per instruction
//! (`pc [line] OPNAME operands ; comment`), then the constants, locals and upvalues. Addresses
//! are omitted, so listings are deterministic.

use crate::opcode::{Instr, OpCode};
use crate::proto::{Constant, Proto};
use std::fmt::Write;

/// A `luac -l -l`-style listing of `p` and (recursively) its children: a header line
/// `main <chunk:0,0> (N instructions)`, each instruction as `\t1\t[1]\tLOADI    \t0 1` with a
/// comment column for constants, upvalue names and jump targets, then the constants, locals and
/// upvalues sections.
pub fn disassemble(p: &Proto) -> String {
    let mut out = String::new();
    print_function(&mut out, p);
    out
}

fn print_function(out: &mut String, p: &Proto) {
    print_header(out, p);
    for pc in 0..p.code.len() {
        print_instruction(out, p, pc);
    }
    print_debug(out, p);
    for child in &p.protos {
        out.push('\n');
        print_function(out, child);
    }
}

/// The chunk name as `luac` shows it in headers.
fn source_name(p: &Proto) -> String {
    match p.source.first() {
        Some(b'@' | b'=') => String::from_utf8_lossy(&p.source[1..]).into_owned(),
        _ => "(string)".to_string(),
    }
}

/// `"s"` unless `n` is 1.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn function_name(p: &Proto) -> String {
    format!(
        "{} <{}:{},{}>",
        if p.line_defined == 0 {
            "main"
        } else {
            "function"
        },
        source_name(p),
        p.line_defined,
        p.last_line_defined
    )
}

fn print_header(out: &mut String, p: &Proto) {
    let n = p.code.len();
    let _ = writeln!(out, "{} ({} instruction{})", function_name(p), n, plural(n));
    let _ = writeln!(
        out,
        "{}{} param{}, {} slot{}, {} upvalue{}, {} local{}, {} constant{}, {} function{}",
        p.num_params,
        if p.is_vararg { "+" } else { "" },
        plural(p.num_params as usize),
        p.max_stack,
        plural(p.max_stack as usize),
        p.upvalues.len(),
        plural(p.upvalues.len()),
        p.locvars.len(),
        plural(p.locvars.len()),
        p.constants.len(),
        plural(p.constants.len()),
        p.protos.len(),
        plural(p.protos.len()),
    );
}

fn print_debug(out: &mut String, p: &Proto) {
    let _ = writeln!(out, "constants ({}):", p.constants.len());
    for (i, k) in p.constants.iter().enumerate() {
        let tag = match k {
            Constant::Nil => "N",
            Constant::Bool(_) => "B",
            Constant::Float(_) => "F",
            Constant::Int(_) => "I",
            Constant::Str(_) => "S",
        };
        let _ = writeln!(out, "\t{i}\t{tag}\t{}", format_constant(k));
    }
    let _ = writeln!(out, "locals ({}):", p.locvars.len());
    for (i, lv) in p.locvars.iter().enumerate() {
        let _ = writeln!(
            out,
            "\t{i}\t{}\t{}\t{}",
            lv.name,
            lv.start_pc + 1,
            lv.end_pc + 1
        );
    }
    let _ = writeln!(out, "upvalues ({}):", p.upvalues.len());
    for (i, up) in p.upvalues.iter().enumerate() {
        let _ = writeln!(
            out,
            "\t{i}\t{}\t{}\t{}",
            up.name, up.in_stack as u8, up.index
        );
    }
}

/// A constant as `luac` prints it (strings quoted and escaped, floats with `%.14g`).
fn format_constant(k: &Constant) -> String {
    match k {
        Constant::Nil => "nil".to_string(),
        Constant::Bool(b) => b.to_string(),
        Constant::Int(i) => i.to_string(),
        Constant::Float(f) => {
            let s = format_g14(*f);
            if s.bytes().all(|c| c == b'-' || c.is_ascii_digit()) {
                s + ".0"
            } else {
                s
            }
        }
        Constant::Str(s) => quote(s),
    }
}

/// A byte string quoted with C-style escapes.
fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            c if (0x20..0x7f).contains(&c) => out.push(c as char),
            c => {
                let _ = write!(out, "\\{c:03}");
            }
        }
    }
    out.push('"');
    out
}

/// C's `%.14g`.
fn format_g14(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    const PRECISION: i32 = 14;
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (PRECISION - 1 - exp) as usize;
        trim_fraction(&format!("{f:.decimals$}")).to_string()
    }
}

/// Removes trailing zeros of a fraction (and a bare trailing point).
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats one instruction line.
fn print_instruction(out: &mut String, p: &Proto, pc: usize) {
    let i = p.code[pc];
    match p.lines.get(pc) {
        Some(&line) if line > 0 => {
            let _ = write!(out, "\t{}\t[{line}]\t", pc + 1);
        }
        _ => {
            let _ = write!(out, "\t{}\t[-]\t", pc + 1);
        }
    }
    let Some(op) = i.opcode() else {
        let _ = writeln!(out, "<invalid {:#010x}>", i.0);
        return;
    };
    let (operands, comment) = operands(p, pc, op, i);
    let _ = write!(out, "{:<9}\t{operands}", op.name());
    if let Some(comment) = comment {
        let _ = write!(out, "\t; {comment}");
    }
    out.push('\n');
}

/// Operands and comment of an instruction, as `luac` shows them.
fn operands(p: &Proto, pc: usize, op: OpCode, i: Instr) -> (String, Option<String>) {
    use OpCode::*;
    let (a, b, c) = (i.a(), i.b(), i.c());
    let isk = if i.k() { "k" } else { "" };
    let k = |idx: usize| {
        p.constants
            .get(idx)
            .map_or_else(|| "?".to_string(), format_constant)
    };
    let up = |idx: usize| {
        p.upvalues
            .get(idx)
            .map_or_else(|| "-".to_string(), |u| u.name.to_string())
    };
    let extra_arg = || match p.code.get(pc + 1) {
        Some(next) if next.opcode() == Some(ExtraArg) => next.ax_field(),
        _ => 0,
    };
    let target = |offset: i64| pc as i64 + offset + 2;
    match op {
        Move | Unm | BNot | Not | Len | Concat => (format!("{a} {b}"), None),
        LoadI | LoadF => (format!("{a} {}", i.sbx()), None),
        LoadK => (format!("{a} {}", i.bx()), Some(k(i.bx()))),
        LoadKX => (format!("{a}"), Some(k(extra_arg()))),
        LoadFalse | LFalseSkip | LoadTrue | Close | Tbc | Return1 | VarargPrep => {
            (format!("{a}"), None)
        }
        LoadNil => (format!("{a} {b}"), Some(format!("{} out", b + 1))),
        GetUpval | SetUpval => (format!("{a} {b}"), Some(up(b))),
        GetTabUp => (format!("{a} {b} {c}"), Some(format!("{} {}", up(b), k(c)))),
        GetTable | GetI | Add | Sub | Mul | Mod | Pow | Div | IDiv | BAnd | BOr | BXor | Shl
        | Shr => (format!("{a} {b} {c}"), None),
        GetField => (format!("{a} {b} {c}"), Some(k(c))),
        SetTabUp => {
            let mut comment = format!("{} {}", up(a), k(b));
            if i.k() {
                comment = format!("{comment} {}", k(c));
            }
            (format!("{a} {b} {c}{isk}"), Some(comment))
        }
        SetTable | SetI | SelfOp => (format!("{a} {b} {c}{isk}"), i.k().then(|| k(c))),
        SetField => {
            let mut comment = k(b);
            if i.k() {
                comment = format!("{comment} {}", k(c));
            }
            (format!("{a} {b} {c}{isk}"), Some(comment))
        }
        NewTable => (
            format!("{a} {b} {c}{isk}"),
            Some(format!("{}", c + extra_arg() * 256)),
        ),
        AddI | ShrI | ShlI => (format!("{a} {b} {}{isk}", i.sc()), None),
        AddK | SubK | MulK | ModK | PowK | DivK | IDivK | BAndK | BOrK | BXorK => {
            (format!("{a} {b} {c}{isk}"), Some(k(c)))
        }
        Jmp => {
            let sj = i.sj_field();
            (format!("{sj}"), Some(format!("to {}", target(sj))))
        }
        Eq | Lt | Le => (format!("{a} {b} {}", i.k() as u8), None),
        EqK => (format!("{a} {b} {}", i.k() as u8), Some(k(b))),
        EqI | LtI | LeI | GtI | GeI => (format!("{a} {} {}", i.sb(), i.k() as u8), None),
        Test => (format!("{a} {}", i.k() as u8), None),
        TestSet => (format!("{a} {b} {}", i.k() as u8), None),
        Call => {
            let ins = if b == 0 {
                "all in".to_string()
            } else {
                format!("{} in", b - 1)
            };
            let outs = if c == 0 {
                "all out".to_string()
            } else {
                format!("{} out", c - 1)
            };
            (format!("{a} {b} {c}"), Some(format!("{ins} {outs}")))
        }
        TailCall => {
            let ins = if b == 0 {
                "all in".to_string()
            } else {
                format!("{} in", b - 1)
            };
            (format!("{a} {b} {c}{isk}"), Some(ins))
        }
        Return => {
            let outs = if b == 0 {
                "all out".to_string()
            } else {
                format!("{} out", b - 1)
            };
            (format!("{a} {b} {c}{isk}"), Some(outs))
        }
        Return0 => (String::new(), None),
        ForLoop | TForLoop => (
            format!("{a} {}", i.bx()),
            Some(format!("to {}", pc as i64 - i.bx() as i64 + 2)),
        ),
        ForPrep => (
            format!("{a} {}", i.bx()),
            Some(format!("exit to {}", pc + i.bx() + 3)),
        ),
        TForPrep => (
            format!("{a} {}", i.bx()),
            Some(format!("to {}", pc + i.bx() + 2)),
        ),
        TForCall => (format!("{a} {c}"), None),
        SetList => (
            format!("{a} {b} {c}{isk}"),
            i.k().then(|| format!("{}", c + extra_arg() * 256)),
        ),
        Closure => (
            format!("{a} {}", i.bx()),
            Some(
                p.protos
                    .get(i.bx())
                    .map_or_else(|| "?".to_string(), |child| function_name(child)),
            ),
        ),
        Vararg => {
            let outs = if c == 0 {
                "all out".to_string()
            } else {
                format!("{} out", c - 1)
            };
            (format!("{a} {c}"), Some(outs))
        }
        ExtraArg => (format!("{}", i.ax_field()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_floats_like_c() {
        assert_eq!(format_g14(1024.0), "1024");
        assert_eq!(format_g14(0.1), "0.1");
        assert_eq!(format_g14(1e100), "1e+100");
        assert_eq!(format_g14(1e14), "1e+14");
        assert_eq!(format_g14(123456789012345.0), "1.2345678901234e+14");
        assert_eq!(format_g14(0.0001), "0.0001");
        assert_eq!(format_g14(0.00001), "1e-05");
        assert_eq!(format_g14(-2.5), "-2.5");
        assert_eq!(format_g14(f64::INFINITY), "inf");
        assert_eq!(format_constant(&Constant::Float(3.0)), "3.0");
        assert_eq!(format_constant(&Constant::Float(1e100)), "1e+100");
    }

    #[test]
    fn quotes_strings() {
        assert_eq!(quote(b"a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\001\"");
    }
}
