//! Symbolic information recovered from bytecode: which variable a register holds at an
//! instruction ("local 'x'", "global 'print'", "field 'y'", "method 'm'", "upvalue 'u'",
//! "constant 'abc'"), names of called functions, current lines, and tracebacks.

use crate::opcode::{Instr, OpCode};
use crate::proto::{Constant, Proto};
use crate::string::StrExt;
use crate::value::Value;
use crate::vm::frame::{Frame, FrameKind};
use crate::vm::State;
use rua_gc::Gc;

/// Does instruction `i` write register A (as its destination)?
fn sets_a(op: OpCode) -> bool {
    use OpCode::*;
    !matches!(
        op,
        SetUpval
            | SetTabUp
            | SetTable
            | SetI
            | SetField
            | Close
            | Tbc
            | Jmp
            | Eq
            | Lt
            | Le
            | EqK
            | EqI
            | LtI
            | LeI
            | GtI
            | GeI
            | Test
            | Return
            | Return0
            | Return1
            | SetList
            | TForPrep
            | ExtraArg
            | VarargPrep
            | TailCall
    )
}

/// Finds the last instruction before `lastpc` that set register `reg`, or `None` if unknown
/// (e.g. set inside a conditional region that jumps over `lastpc`).
fn find_set_reg(p: &Proto, lastpc: usize, reg: usize) -> Option<usize> {
    let mut setreg: Option<usize> = None;
    let mut jmptarget = 0usize;
    for pc in 0..lastpc.min(p.code.len()) {
        let i: Instr = p.code[pc];
        let Some(op) = i.opcode() else { continue };
        let a = i.a();
        let change = match op {
            OpCode::LoadNil => a <= reg && reg <= a + i.b(),
            OpCode::TForCall => reg >= a + 2,
            OpCode::Call | OpCode::TailCall => reg >= a,
            OpCode::Jmp => {
                let dest = pc as i64 + 1 + i.sj_field();
                if (pc as i64) < dest && dest <= lastpc as i64 && dest as usize > jmptarget {
                    jmptarget = dest as usize;
                }
                false
            }
            OpCode::SelfOp => reg == a || reg == a + 1,
            OpCode::ForPrep | OpCode::ForLoop => reg >= a && reg <= a + 3,
            _ => sets_a(op) && reg == a,
        };
        if change {
            setreg = if pc < jmptarget { None } else { Some(pc) };
        }
    }
    setreg
}

fn const_str(p: &Proto, k: usize) -> Option<String> {
    match p.constants.get(k) {
        Some(Constant::Str(s)) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

fn upval_name(p: &Proto, idx: usize) -> String {
    // Unknown or stripped (empty) names are "?" as in PUC.
    p.upvalues
        .get(idx)
        .filter(|u| !u.name.is_empty())
        .map(|u| u.name.to_string())
        .unwrap_or_else(|| "?".into())
}

/// Is the table in register/upvalue named `_ENV`? (decides "global" vs "field")
fn is_env(p: &Proto, pc: usize, i: Instr, upvalue: bool) -> &'static str {
    let t = i.b();
    // Only a local or an upvalue can be the variable `_ENV`.
    let name = if upvalue {
        Some(upval_name(p, t))
    } else {
        local_or_upvalue_name(p, pc, t)
    };
    if name.as_deref() == Some("_ENV") {
        "global"
    } else {
        "field"
    }
}

/// Name of register `reg` at `pc` when it holds a local variable or an upvalue (PUC's
/// `basicgetobjname`). Unlike [`obj_name`] it never follows the indexed table of a field
/// access, so its recursion (through `MOVE`s to lower registers) is shallow even for
/// hostile code with long chains of field accesses.
fn local_or_upvalue_name(p: &Proto, pc: usize, reg: usize) -> Option<String> {
    if let Some(name) = p.local_name(reg + 1, pc) {
        return Some(name.to_string());
    }
    let setpc = find_set_reg(p, pc, reg)?;
    let i = p.code[setpc];
    match i.opcode()? {
        OpCode::Move if i.b() < i.a() => local_or_upvalue_name(p, setpc, i.b()),
        OpCode::GetUpval => Some(upval_name(p, i.b())),
        _ => None,
    }
}

/// Name of the value in register `reg` at instruction `pc`: (kind, name).
pub fn obj_name(p: &Proto, pc: usize, reg: usize) -> Option<(&'static str, String)> {
    if let Some(name) = p.local_name(reg + 1, pc) {
        return Some(("local", name.to_string()));
    }
    let setpc = find_set_reg(p, pc, reg)?;
    let i = p.code[setpc];
    match i.opcode()? {
        OpCode::Move => {
            let b = i.b();
            if b < i.a() {
                obj_name(p, setpc, b)
            } else {
                None
            }
        }
        OpCode::GetTabUp => {
            let k = const_str(p, i.c())?;
            Some((is_env(p, setpc, i, true), k))
        }
        OpCode::GetTable => {
            // Key in a register: named only if it was loaded from a string constant.
            let key = reg_const_name(p, setpc, i.c());
            Some((
                is_env(p, setpc, i, false),
                key.unwrap_or_else(|| "?".into()),
            ))
        }
        OpCode::GetI => Some(("field", "integer index".into())),
        OpCode::GetField => {
            let k = const_str(p, i.c())?;
            Some((is_env(p, setpc, i, false), k))
        }
        OpCode::GetUpval => Some(("upvalue", upval_name(p, i.b()))),
        OpCode::LoadK => const_str(p, i.bx()).map(|s| ("constant", s)),
        OpCode::LoadKX => const_str(p, p.code.get(setpc + 1)?.ax_field()).map(|s| ("constant", s)),
        OpCode::SelfOp => {
            // The key is a constant, or (with more than 256 constants) a register loaded
            // from one.
            let key = if i.k() {
                const_str(p, i.c())
            } else {
                reg_const_name(p, setpc, i.c())
            };
            Some(("method", key.unwrap_or_else(|| "?".into())))
        }
        _ => None,
    }
}

/// The string constant held by register `reg` at `pc`, when it was loaded by `LOADK`/`LOADKX`
/// (possibly through `MOVE`s) and is not a named local (PUC's `rname`).
fn reg_const_name(p: &Proto, pc: usize, reg: usize) -> Option<String> {
    let mut pc = pc;
    let mut reg = reg;
    // Each step moves to a strictly earlier instruction, so this ends.
    loop {
        if p.local_name(reg + 1, pc).is_some() {
            return None;
        }
        let setpc = find_set_reg(p, pc, reg)?;
        let i = p.code[setpc];
        match i.opcode()? {
            OpCode::Move if i.b() < i.a() => {
                reg = i.b();
                pc = setpc;
            }
            OpCode::LoadK => return const_str(p, i.bx()),
            OpCode::LoadKX => return const_str(p, p.code.get(setpc + 1)?.ax_field()),
            _ => return None,
        }
    }
}

/// Name of the function called by the instruction at `pc` of `p`: (kind, name).
pub fn func_name_from_call(p: &Proto, pc: usize) -> Option<(&'static str, String)> {
    let i = *p.code.get(pc)?;
    let tm = match i.opcode()? {
        OpCode::Call | OpCode::TailCall => return obj_name(p, pc, i.a()),
        OpCode::TForCall => return Some(("for iterator", "for iterator".into())),
        OpCode::SelfOp | OpCode::GetTabUp | OpCode::GetTable | OpCode::GetI | OpCode::GetField => {
            "index"
        }
        OpCode::SetTabUp | OpCode::SetTable | OpCode::SetI | OpCode::SetField => "newindex",
        OpCode::AddI | OpCode::AddK | OpCode::Add => "add",
        OpCode::SubK | OpCode::Sub => "sub",
        OpCode::MulK | OpCode::Mul => "mul",
        OpCode::ModK | OpCode::Mod => "mod",
        OpCode::PowK | OpCode::Pow => "pow",
        OpCode::DivK | OpCode::Div => "div",
        OpCode::IDivK | OpCode::IDiv => "idiv",
        OpCode::BAndK | OpCode::BAnd => "band",
        OpCode::BOrK | OpCode::BOr => "bor",
        OpCode::BXorK | OpCode::BXor => "bxor",
        OpCode::ShlI | OpCode::Shl => "shl",
        OpCode::ShrI | OpCode::Shr => "shr",
        OpCode::Unm => "unm",
        OpCode::BNot => "bnot",
        OpCode::Len => "len",
        OpCode::Concat => "concat",
        OpCode::Eq | OpCode::EqK | OpCode::EqI => "eq",
        OpCode::Lt | OpCode::LtI | OpCode::GtI => "lt",
        OpCode::Le | OpCode::LeI | OpCode::GeI => "le",
        OpCode::Close | OpCode::Return => "close",
        _ => return None,
    };
    Some(("metamethod", tm.into()))
}

/// Current line of a Lua frame.
pub fn frame_line(f: &Frame) -> Option<u32> {
    match f.kind {
        FrameKind::Lua { cl, .. } => cl
            .proto
            .proto
            .lines
            .get((f.pc as usize).saturating_sub(1))
            .copied(),
        FrameKind::Native { .. } => None,
    }
}

impl State {
    /// Name of the function running in frame `idx` of the current thread as seen from its
    /// caller: (kind, name), e.g. ("global", "print"), ("method", "insert").
    pub fn frame_func_name(&self, idx: usize) -> Option<(&'static str, String)> {
        let frames = &self.current.data().frames;
        let f = frames.get(idx)?;
        if f.tail {
            return None;
        }
        if idx == 0 {
            return None;
        }
        if self.current.data().hook.frame == idx {
            return Some(("hook", "?".into()));
        }
        if let Some((th, at)) = self.finalizer_frame {
            if at == idx && Gc::ptr_eq(th, self.current) {
                return Some(("metamethod", "__gc".into()));
            }
        }
        let caller = &frames[idx - 1];
        match caller.kind {
            FrameKind::Lua { cl, .. } => {
                func_name_from_call(&cl.proto.proto, (caller.pc as usize).saturating_sub(1))
            }
            FrameKind::Native { .. } => None,
        }
    }

    /// Name for "bad argument ... to 'name'" of the running native, and whether it was called
    /// as a method.
    pub fn current_native_call_name(&self) -> (String, bool) {
        let frames = &self.current.data().frames;
        let idx = frames.len().saturating_sub(1);
        match self.frame_func_name(idx) {
            Some(("method", n)) => (n, true),
            Some((_, n)) if !n.is_empty() => (n, false),
            _ => (
                self.global_func_name(idx).unwrap_or_else(|| "?".into()),
                false,
            ),
        }
    }

    /// Upvalue `i` of the running native closure.
    pub fn current_native_upvalue(&self, i: usize) -> Value {
        match self.current.data().frames.last().map(|f| f.kind) {
            Some(FrameKind::Native { cl, .. }) => {
                cl.upvals.get(i).map(|c| c.get()).unwrap_or(Value::Nil)
            }
            _ => Value::Nil,
        }
    }

    /// Name of the running native function (registered name).
    pub fn current_native_name(&self) -> String {
        match self.current.data().frames.last().map(|f| f.kind) {
            Some(FrameKind::Native { cl, .. }) => cl.name.to_string(),
            _ => "?".into(),
        }
    }

    /// For a function value in frame `idx`, the "module.name" it is reachable as from
    /// `package.loaded` (as PUC's `pushglobalfuncname`), e.g. "string.rep" or "print".
    pub fn global_func_name(&self, idx: usize) -> Option<String> {
        let frames = &self.current.data().frames;
        let f = frames.get(idx)?;
        let func = self.current.data().stack.get(f.func).copied()?;
        self.find_loaded_name(func)
    }

    fn find_loaded_name(&self, func: Value) -> Option<String> {
        let loaded = self.loaded;
        let mut k = Value::Nil;
        while let Ok(Some((key, val))) = loaded.next(k) {
            k = key;
            if let (Value::Str(modname), Value::Table(m)) = (key, val) {
                let mut k2 = Value::Nil;
                while let Ok(Some((fk, fv))) = m.next(k2) {
                    k2 = fk;
                    if let Value::Str(fname) = fk {
                        if fv.raw_eq(&func) {
                            let mn = modname.to_str_lossy();
                            let fnm = fname.to_str_lossy();
                            return Some(if mn == "_G" {
                                fnm.into_owned()
                            } else {
                                format!("{}.{}", mn, fnm)
                            });
                        }
                    }
                }
            }
        }
        None
    }

    /// Builds a traceback of the current thread, starting `level` frames below the top, in the
    /// format of `luaL_traceback`.
    pub fn traceback(&self, msg: Option<&str>, level: usize) -> String {
        let mut out = String::new();
        if let Some(m) = msg {
            out.push_str(m);
            out.push('\n');
        }
        out.push_str("stack traceback:");
        let frames = &self.current.data().frames;
        let n = frames.len();
        let visible: Vec<usize> = (0..n.saturating_sub(level)).rev().collect();
        let total = visible.len();
        for (shown, &idx) in visible.iter().enumerate() {
            if total > 22 && shown == 10 {
                out.push_str(&format!("\n\t...\t(skipping {} levels)", total - 21));
            }
            if total > 22 && shown >= 10 && shown < total - 11 {
                continue;
            }
            let f = &frames[idx];
            out.push_str("\n\t");
            match f.kind {
                FrameKind::Lua { cl, .. } => {
                    let p = &cl.proto.proto;
                    let id = crate::chunkid::chunk_id(&p.source);
                    // No line information (stripped chunk): no line, as `luaL_traceback`.
                    match frame_line(f) {
                        Some(line) => out.push_str(&format!("{}:{}: in ", id, line)),
                        None => out.push_str(&format!("{}: in ", id)),
                    }
                    out.push_str(&self.describe_function(idx, Some(p)));
                }
                FrameKind::Native { .. } => {
                    out.push_str("[C]: in ");
                    out.push_str(&self.describe_function(idx, None));
                }
            }
            if f.tail {
                out.push_str("\n\t(...tail calls...)");
            }
        }
        out
    }

    fn describe_function(&self, idx: usize, p: Option<&Proto>) -> String {
        if let Some(g) = self.global_func_name(idx) {
            return format!("function '{}'", g);
        }
        if let Some((kind, name)) = self.frame_func_name(idx) {
            return match kind {
                "global" => format!("function '{}'", name),
                "method" => format!("method '{}'", name),
                "for iterator" => "for iterator 'for iterator'".to_string(),
                "metamethod" => format!("metamethod '{}'", name),
                k => format!("{} '{}'", k, name),
            };
        }
        match p {
            Some(p) if p.line_defined == 0 => "main chunk".to_string(),
            Some(p) => format!(
                "function <{}:{}>",
                crate::chunkid::chunk_id(&p.source),
                p.line_defined
            ),
            None => "?".to_string(),
        }
    }
}
