//! Primitive operations with Lua 5.4 semantics and their metamethod fallbacks: arithmetic and
//! bitwise operators (integer wraparound, floor division and modulo, string coercion),
//! comparisons (exact integer/float ordering), indexing with `__index`/`__newindex` chains,
//! equality, length.
//!
//! The slow paths return an outcome: either a value, or a metamethod that the dispatch loop
//! must call (so metamethod calls run in the same loop and can yield).

use crate::number::{float_ceil_to_int, float_floor_to_int, float_to_int_exact};
use crate::string::StrExt;
use crate::table::CachedMeta;
use crate::value::Value;
use crate::vm::{LuaResult, State, Tm};

/// Arithmetic and bitwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Mod,
    Pow,
    Div,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Unm,
    BNot,
}

impl ArOp {
    pub fn tm(self) -> Tm {
        match self {
            ArOp::Add => Tm::Add,
            ArOp::Sub => Tm::Sub,
            ArOp::Mul => Tm::Mul,
            ArOp::Mod => Tm::Mod,
            ArOp::Pow => Tm::Pow,
            ArOp::Div => Tm::Div,
            ArOp::IDiv => Tm::IDiv,
            ArOp::BAnd => Tm::BAnd,
            ArOp::BOr => Tm::BOr,
            ArOp::BXor => Tm::BXor,
            ArOp::Shl => Tm::Shl,
            ArOp::Shr => Tm::Shr,
            ArOp::Unm => Tm::Unm,
            ArOp::BNot => Tm::BNot,
        }
    }

    pub fn is_bitwise(self) -> bool {
        matches!(
            self,
            ArOp::BAnd | ArOp::BOr | ArOp::BXor | ArOp::Shl | ArOp::Shr | ArOp::BNot
        )
    }
}

/// Result of a slow-path operation.
pub enum Outcome {
    Value(Value),
    /// Call this metamethod with these two operands and use its first result.
    Meta(Value, Value, Value),
}

/// Integer floor division (`//`); `None` on division by zero.
#[inline]
pub fn int_idiv(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    if b == -1 {
        return Some(a.wrapping_neg());
    }
    let q = a / b;
    if (a % b != 0) && ((a ^ b) < 0) {
        Some(q - 1)
    } else {
        Some(q)
    }
}

/// Integer modulo with the sign of the divisor; `None` on modulo by zero.
#[inline]
pub fn int_mod(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    if b == -1 {
        return Some(0);
    }
    let r = a % b;
    if r != 0 && (r ^ b) < 0 {
        Some(r + b)
    } else {
        Some(r)
    }
}

/// Float modulo as Lua defines it.
#[inline]
pub fn float_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if (m > 0.0 && b < 0.0) || (m < 0.0 && b > 0.0) {
        m + b
    } else {
        m
    }
}

/// Shift left (negative shifts go right); shifts of 64 or more give 0.
#[inline]
pub fn shift_left(a: i64, b: i64) -> i64 {
    if b <= -64 || b >= 64 {
        0
    } else if b >= 0 {
        ((a as u64) << b) as i64
    } else {
        ((a as u64) >> (-b)) as i64
    }
}

/// Float arithmetic for the float-result operators.
#[inline]
pub fn float_arith(op: ArOp, a: f64, b: f64) -> f64 {
    match op {
        ArOp::Add => a + b,
        ArOp::Sub => a - b,
        ArOp::Mul => a * b,
        ArOp::Div => a / b,
        ArOp::Pow => {
            if b == 2.0 {
                a * a
            } else {
                a.powf(b)
            }
        }
        ArOp::IDiv => (a / b).floor(),
        ArOp::Mod => float_mod(a, b),
        ArOp::Unm => -a,
        _ => unreachable!("not a float operator"),
    }
}

/// Arithmetic on two numbers without coercion or metamethods.
/// `Ok(None)`: operands are not both numbers (or not integer-representable for bitwise ops).
pub fn arith_numbers(op: ArOp, a: Value, b: Value) -> Result<Option<Value>, &'static str> {
    if op.is_bitwise() {
        let (x, y) = match (a.as_int_exact(), b.as_int_exact()) {
            (Some(x), Some(y)) => (x, y),
            _ => {
                if a.as_float().is_some() && b.as_float().is_some() {
                    return Err(INT_REPR);
                }
                return Ok(None);
            }
        };
        return Ok(Some(Value::Int(match op {
            ArOp::BAnd => x & y,
            ArOp::BOr => x | y,
            ArOp::BXor => x ^ y,
            ArOp::Shl => shift_left(x, y),
            ArOp::Shr => shift_left(x, y.wrapping_neg()),
            ArOp::BNot => !x,
            _ => unreachable!(),
        })));
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Some(match op {
            ArOp::Add => Value::Int(x.wrapping_add(y)),
            ArOp::Sub => Value::Int(x.wrapping_sub(y)),
            ArOp::Mul => Value::Int(x.wrapping_mul(y)),
            ArOp::IDiv => Value::Int(int_idiv(x, y).ok_or("attempt to divide by zero")?),
            ArOp::Mod => Value::Int(int_mod(x, y).ok_or("attempt to perform 'n%0'")?),
            ArOp::Unm => Value::Int(x.wrapping_neg()),
            ArOp::Div | ArOp::Pow => Value::Float(float_arith(op, x as f64, y as f64)),
            _ => unreachable!(),
        })),
        _ => match (a.as_float(), b.as_float()) {
            (Some(x), Some(y)) => Ok(Some(Value::Float(float_arith(op, x, y)))),
            _ => Ok(None),
        },
    }
}

/// `i < f` exactly.
#[inline]
pub fn lt_int_float(i: i64, f: f64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        (i as f64) < f
    } else {
        match float_ceil_to_int(f) {
            Some(fi) => i < fi,
            None => f > 0.0,
        }
    }
}

/// `i <= f` exactly.
#[inline]
pub fn le_int_float(i: i64, f: f64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        (i as f64) <= f
    } else {
        match float_floor_to_int(f) {
            Some(fi) => i <= fi,
            None => f > 0.0,
        }
    }
}

/// `f < i` exactly.
#[inline]
pub fn lt_float_int(f: f64, i: i64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        f < (i as f64)
    } else {
        match float_floor_to_int(f) {
            Some(fi) => fi < i,
            None => f < 0.0,
        }
    }
}

/// `f <= i` exactly.
#[inline]
pub fn le_float_int(f: f64, i: i64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        f <= (i as f64)
    } else {
        match float_ceil_to_int(f) {
            Some(fi) => fi <= i,
            None => f < 0.0,
        }
    }
}

/// Numeric `<` / `<=`; `None` if not both numbers.
#[inline]
pub fn num_cmp(a: Value, b: Value, le: bool) -> Option<bool> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            if le {
                x <= y
            } else {
                x < y
            }
        }
        (Value::Float(x), Value::Float(y)) => {
            if le {
                x <= y
            } else {
                x < y
            }
        }
        (Value::Int(x), Value::Float(y)) => {
            if le {
                le_int_float(x, y)
            } else {
                lt_int_float(x, y)
            }
        }
        (Value::Float(x), Value::Int(y)) => {
            if le {
                le_float_int(x, y)
            } else {
                lt_float_int(x, y)
            }
        }
        _ => return None,
    })
}

const INT_REPR: &str = "number has no integer representation";

impl State {
    /// `true` for functions and values with a `__call` metamethod.
    pub fn is_callable(&self, v: Value) -> bool {
        v.is_function() || !self.get_tm(v, Tm::Call).is_nil()
    }

    /// Error of an arithmetic operation on numbers; for a float without an integer value the
    /// message names the offending operand, as "number (local 'x') has no integer
    /// representation".
    fn arith_error(
        &mut self,
        msg: &str,
        a: Value,
        _b: Value,
        ra: Option<usize>,
        rb: Option<usize>,
    ) -> crate::vm::LuaError {
        if msg != INT_REPR {
            return self.rt_error(msg);
        }
        let reg = if a.as_int_exact().is_none() { ra } else { rb };
        let vi = reg.map(|r| self.var_info(r)).unwrap_or_default();
        self.rt_error(&format!("number{} has no integer representation", vi))
    }

    /// Slow path of arithmetic: coercion, metamethods, errors. `ra`/`rb` name the operands'
    /// registers for error messages when known.
    #[cold]
    #[inline(never)]
    pub fn arith_slow(
        &mut self,
        op: ArOp,
        a: Value,
        b: Value,
        ra: Option<usize>,
        rb: Option<usize>,
    ) -> LuaResult<Outcome> {
        match arith_numbers(op, a, b) {
            Ok(Some(v)) => return Ok(Outcome::Value(v)),
            Ok(None) => {}
            Err(msg) => return Err(self.arith_error(msg, a, b, ra, rb)),
        }
        // String coercion.
        let na = self.to_number(a);
        let nb = self.to_number(b);
        if matches!(a, Value::Str(_)) || matches!(b, Value::Str(_)) {
            if let (Some(x), Some(y)) = (na, nb) {
                match arith_numbers(op, x, y) {
                    Ok(Some(v)) => return Ok(Outcome::Value(v)),
                    Ok(None) => {}
                    Err(msg) => return Err(self.arith_error(msg, x, y, ra, rb)),
                }
            }
        }
        let tm = self.get_tm(a, op.tm());
        let tm = if tm.is_nil() {
            self.get_tm(b, op.tm())
        } else {
            tm
        };
        if !tm.is_nil() {
            return Ok(Outcome::Meta(tm, a, b));
        }
        // Error: name the first operand that is not a number.
        if op.is_bitwise() {
            if let (Some(x), Some(y)) = (na, nb) {
                return Err(self.arith_error(INT_REPR, x, y, ra, rb));
            }
            let (bad, reg) = if na.is_none() { (a, ra) } else { (b, rb) };
            let vi = reg.map(|r| self.var_info(r)).unwrap_or_default();
            return Err(self.type_error_msg(bad, "perform bitwise operation on", vi));
        }
        let (bad, reg) = if na.is_none() { (a, ra) } else { (b, rb) };
        let vi = reg.map(|r| self.var_info(r)).unwrap_or_default();
        let vi = if vi.is_empty() {
            if let Value::Str(s) = bad {
                // String operands that failed coercion are often constants.
                let _ = s;
                vi
            } else {
                vi
            }
        } else {
            vi
        };
        Err(self.type_error_msg(bad, "perform arithmetic on", vi))
    }

    /// Slow path of `<` (`le == false`) and `<=`.
    #[cold]
    #[inline(never)]
    pub fn compare_slow(&mut self, a: Value, b: Value, le: bool) -> LuaResult<Outcome> {
        if let Some(r) = num_cmp(a, b, le) {
            return Ok(Outcome::Value(Value::Bool(r)));
        }
        if let (Value::Str(x), Value::Str(y)) = (a, b) {
            let r = if le {
                x.as_bytes() <= y.as_bytes()
            } else {
                x.as_bytes() < y.as_bytes()
            };
            return Ok(Outcome::Value(Value::Bool(r)));
        }
        let ev = if le { Tm::Le } else { Tm::Lt };
        let tm = self.get_tm(a, ev);
        let tm = if tm.is_nil() { self.get_tm(b, ev) } else { tm };
        if !tm.is_nil() {
            return Ok(Outcome::Meta(tm, a, b));
        }
        let t1 = self.type_name_for_msg(a);
        let t2 = self.type_name_for_msg(b);
        if t1 == t2 {
            Err(self.rt_error(&format!("attempt to compare two {} values", t1)))
        } else {
            Err(self.rt_error(&format!("attempt to compare {} with {}", t1, t2)))
        }
    }

    /// Equality with `__eq`.
    #[cold]
    #[inline(never)]
    pub fn equals_slow(&mut self, a: Value, b: Value) -> Outcome {
        if a.raw_eq(&b) {
            return Outcome::Value(Value::Bool(true));
        }
        let both = matches!(
            (a, b),
            (Value::Table(_), Value::Table(_)) | (Value::UserData(_), Value::UserData(_))
        );
        if !both {
            return Outcome::Value(Value::Bool(false));
        }
        let tm = self.get_tm(a, Tm::Eq);
        let tm = if tm.is_nil() {
            self.get_tm(b, Tm::Eq)
        } else {
            tm
        };
        if tm.is_nil() {
            Outcome::Value(Value::Bool(false))
        } else {
            Outcome::Meta(tm, a, b)
        }
    }

    /// `obj[key]` with `__index` chains. `reg` names `obj` for error messages.
    #[cold]
    #[inline(never)]
    pub fn index_slow(
        &mut self,
        obj: Value,
        key: Value,
        name: &dyn Fn(&State) -> String,
    ) -> LuaResult<Outcome> {
        let mut t = obj;
        for i in 0..2000 {
            let tm;
            if let Value::Table(tab) = t {
                let v = tab.get(key);
                if !v.is_nil() {
                    return Ok(Outcome::Value(v));
                }
                match tab.metatable() {
                    None => return Ok(Outcome::Value(Value::Nil)),
                    Some(mt) => {
                        if mt.meta_absent(CachedMeta::Index) {
                            return Ok(Outcome::Value(Value::Nil));
                        }
                        tm = self.tm_from_meta(mt, Tm::Index);
                        if tm.is_nil() {
                            return Ok(Outcome::Value(Value::Nil));
                        }
                    }
                }
            } else {
                tm = self.get_tm(t, Tm::Index);
                if tm.is_nil() {
                    let vi = if i == 0 { name(self) } else { String::new() };
                    let vi = if vi.is_empty() {
                        self.key_info(key)
                    } else {
                        vi
                    };
                    return Err(self.type_error_msg(t, "index", vi));
                }
            }
            if tm.is_function() {
                return Ok(Outcome::Meta(tm, t, key));
            }
            t = tm;
        }
        Err(self.rt_error("'__index' chain too long; possible loop"))
    }

    /// For an index error without a variable name, PUC 5.4 describes the key instead:
    /// " (field 'x')" for string keys.
    fn key_info(&self, key: Value) -> String {
        match key {
            Value::Str(s) => format!(" (field '{}')", s.to_str_lossy()),
            _ => String::new(),
        }
    }

    /// `obj[key] = val` with `__newindex` chains. Returns `None` when done, or the metamethod
    /// call `(tm, t, key)` to make with `val` as third argument.
    #[cold]
    #[inline(never)]
    pub fn newindex_slow(
        &mut self,
        obj: Value,
        key: Value,
        val: Value,
        name: &dyn Fn(&State) -> String,
    ) -> LuaResult<Option<(Value, Value)>> {
        let mut t = obj;
        for i in 0..2000 {
            let tm;
            if let Value::Table(tab) = t {
                let existing = tab.get(key);
                let mt = tab.metatable();
                let tmv = match mt {
                    Some(mt) if existing.is_nil() => self.tm_from_meta(mt, Tm::NewIndex),
                    _ => Value::Nil,
                };
                if tmv.is_nil() {
                    self.raw_set_checked(tab, key, val)?;
                    return Ok(None);
                }
                tm = tmv;
            } else {
                tm = self.get_tm(t, Tm::NewIndex);
                if tm.is_nil() {
                    let vi = if i == 0 { name(self) } else { String::new() };
                    let vi = if vi.is_empty() {
                        self.key_info(key)
                    } else {
                        vi
                    };
                    return Err(self.type_error_msg(t, "index", vi));
                }
            }
            if tm.is_function() {
                return Ok(Some((tm, t)));
            }
            t = tm;
        }
        Err(self.rt_error("'__newindex' chain too long; possible loop"))
    }

    /// Raw set that rejects nil and NaN keys with Lua errors.
    #[cold]
    #[inline(never)]
    pub fn raw_set_checked(
        &mut self,
        t: rua_gc::Gc<crate::table::Table>,
        key: Value,
        val: Value,
    ) -> LuaResult<()> {
        match key {
            Value::Nil => return Err(self.rt_error("table index is nil")),
            Value::Float(f) if f.is_nan() => return Err(self.rt_error("table index is NaN")),
            _ => {}
        }
        t.set(key, val);
        Ok(())
    }

    /// `#v` slow path.
    #[cold]
    #[inline(never)]
    pub fn len_slow(&mut self, v: Value, reg: Option<usize>) -> LuaResult<Outcome> {
        match v {
            Value::Str(s) => Ok(Outcome::Value(Value::Int(s.len() as i64))),
            Value::Table(t) => {
                if let Some(mt) = t.metatable() {
                    let tm = self.tm_from_meta(mt, Tm::Len);
                    if !tm.is_nil() {
                        return Ok(Outcome::Meta(tm, v, v));
                    }
                }
                Ok(Outcome::Value(Value::Int(t.len() as i64)))
            }
            _ => {
                let tm = self.get_tm(v, Tm::Len);
                if !tm.is_nil() {
                    return Ok(Outcome::Meta(tm, v, v));
                }
                let vi = reg.map(|r| self.var_info(r)).unwrap_or_default();
                Err(self.type_error_msg(v, "get length of", vi))
            }
        }
    }
}

/// Exact float to int used by bitwise ops on floats.
pub fn to_int_exact(v: Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(i),
        Value::Float(f) => float_to_int_exact(f),
        _ => None,
    }
}
