//! Compile-time evaluation of arithmetic and bitwise operators on numeric constants, with Lua
//! 5.4's semantics and PUC's rules for when folding is allowed: never fold an operation that
//! would raise an error (division or modulo by zero, bitwise operators on non-integral floats)
//! and never fold to a float NaN or zero (which could be `-0.0`).

use crate::ast::{BinOp, UnOp};

/// A numeric constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Flt(f64),
}

impl Num {
    fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Flt(f) => f,
        }
    }

    /// Exact integer value (floats only when integral and in range).
    fn to_int(self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(i),
            Num::Flt(f) => float_to_int(f),
        }
    }

    fn is_zero(self) -> bool {
        match self {
            Num::Int(i) => i == 0,
            Num::Flt(f) => f == 0.0,
        }
    }
}

/// The integer equal to `f`, if any (Lua's `F2Ieq` conversion).
pub(super) fn float_to_int(f: f64) -> Option<i64> {
    // -2^63 <= f < 2^63, and integral (NaN fails the equality).
    if f.floor() == f && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// Whether the operator is folded at all.
pub(super) fn is_foldable(op: BinOp) -> bool {
    use BinOp::*;
    matches!(
        op,
        Add | Sub | Mul | Div | IDiv | Mod | Pow | BAnd | BOr | BXor | Shl | Shr
    )
}

/// Folds `a op b`, or `None` if it must be left to run time.
pub(super) fn fold_binary(op: BinOp, a: Num, b: Num) -> Option<Num> {
    use BinOp::*;
    let result = match op {
        Add | Sub | Mul | IDiv | Mod => {
            if matches!(op, IDiv | Mod) && b.is_zero() {
                return None;
            }
            match (a, b) {
                (Num::Int(x), Num::Int(y)) => Num::Int(int_arith(op, x, y)),
                _ => Num::Flt(float_arith(op, a.to_f64(), b.to_f64())),
            }
        }
        Div => {
            if b.is_zero() {
                return None;
            }
            Num::Flt(a.to_f64() / b.to_f64())
        }
        Pow => Num::Flt(a.to_f64().powf(b.to_f64())),
        BAnd | BOr | BXor | Shl | Shr => {
            let (x, y) = (a.to_int()?, b.to_int()?);
            Num::Int(match op {
                BAnd => x & y,
                BOr => x | y,
                BXor => x ^ y,
                Shl => shift_left(x, y),
                _ => shift_left(x, y.wrapping_neg()),
            })
        }
        _ => return None,
    };
    accept(result)
}

/// Folds a unary `-` or `~`, or `None` if it must be left to run time.
pub(super) fn fold_unary(op: UnOp, a: Num) -> Option<Num> {
    let result = match (op, a) {
        (UnOp::Neg, Num::Int(i)) => Num::Int(i.wrapping_neg()),
        (UnOp::Neg, Num::Flt(f)) => Num::Flt(-f),
        (UnOp::BNot, _) => Num::Int(!a.to_int()?),
        _ => return None,
    };
    accept(result)
}

/// Rejects float results that are NaN or zero.
fn accept(n: Num) -> Option<Num> {
    match n {
        Num::Flt(f) if f.is_nan() || f == 0.0 => None,
        _ => Some(n),
    }
}

fn int_arith(op: BinOp, x: i64, y: i64) -> i64 {
    match op {
        BinOp::Add => x.wrapping_add(y),
        BinOp::Sub => x.wrapping_sub(y),
        BinOp::Mul => x.wrapping_mul(y),
        BinOp::IDiv => {
            if y == -1 {
                x.wrapping_neg()
            } else {
                let q = x / y;
                if (x % y != 0) && ((x ^ y) < 0) {
                    q - 1
                } else {
                    q
                }
            }
        }
        _ => {
            // Mod
            if y == -1 {
                0
            } else {
                let r = x % y;
                if r != 0 && (r ^ y) < 0 {
                    r + y
                } else {
                    r
                }
            }
        }
    }
}

fn float_arith(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::IDiv => (x / y).floor(),
        _ => {
            // Mod
            let m = x % y;
            if (m > 0.0 && y < 0.0) || (m < 0.0 && y > 0.0) {
                m + y
            } else {
                m
            }
        }
    }
}

/// Lua's `<<` (logical; negative counts shift right; counts of 64 or more give 0).
fn shift_left(x: i64, y: i64) -> i64 {
    if y <= -64 || y >= 64 {
        0
    } else if y >= 0 {
        ((x as u64) << y) as i64
    } else {
        ((x as u64) >> (-y)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        use Num::*;
        assert_eq!(fold_binary(BinOp::Add, Int(1), Int(2)), Some(Int(3)));
        assert_eq!(
            fold_binary(BinOp::Add, Int(i64::MAX), Int(1)),
            Some(Int(i64::MIN))
        );
        assert_eq!(fold_binary(BinOp::Pow, Int(2), Int(10)), Some(Flt(1024.0)));
        assert_eq!(fold_binary(BinOp::IDiv, Int(7), Int(-2)), Some(Int(-4)));
        assert_eq!(fold_binary(BinOp::Mod, Int(-7), Int(3)), Some(Int(2)));
        assert_eq!(fold_binary(BinOp::Mod, Flt(-7.5), Int(2)), Some(Flt(0.5)));
        assert_eq!(fold_binary(BinOp::Mod, Int(1), Int(0)), None);
        assert_eq!(fold_binary(BinOp::Div, Int(1), Int(0)), None);
        assert_eq!(fold_binary(BinOp::Div, Int(1), Int(2)), Some(Flt(0.5)));
        assert_eq!(fold_binary(BinOp::Sub, Flt(1.0), Int(1)), None); // 0.0
        assert_eq!(fold_binary(BinOp::BAnd, Flt(1.5), Int(1)), None);
        assert_eq!(fold_binary(BinOp::BOr, Flt(2.0), Int(1)), Some(Int(3)));
        assert_eq!(fold_binary(BinOp::Shl, Int(1), Int(64)), Some(Int(0)));
        assert_eq!(fold_binary(BinOp::Shr, Int(-1), Int(63)), Some(Int(1)));
        assert_eq!(fold_binary(BinOp::Shl, Int(4), Int(-1)), Some(Int(2)));
        assert_eq!(fold_unary(UnOp::Neg, Int(i64::MIN)), Some(Int(i64::MIN)));
        assert_eq!(fold_unary(UnOp::Neg, Flt(0.0)), None);
        assert_eq!(fold_unary(UnOp::BNot, Int(0)), Some(Int(-1)));
        assert_eq!(float_to_int(9.223_372_036_854_776e18), None);
        assert_eq!(float_to_int(-9.223_372_036_854_776e18), Some(i64::MIN));
    }
}
