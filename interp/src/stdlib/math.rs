//! The math library (manual §6.7), including PUC Lua 5.4's `xoshiro256**` pseudo-random
//! generator: `math.random`/`math.randomseed` produce exactly the sequences of the reference
//! implementation for the same seed.

use crate::stdlib::string::new_state_userdata;
use crate::stdlib::table::less_than;
use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State};

/// Installs the `math` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 32);
    st.register_fast(t, "abs", abs, fast::abs);
    st.register_fast(t, "ceil", ceil, fast::ceil);
    st.register_fast(t, "floor", floor, fast::floor);
    st.register(t, "fmod", fmod);
    st.register(t, "modf", modf);
    st.register_fast(t, "sqrt", sqrt, fast::sqrt);
    st.register_fast(t, "exp", exp, fast::exp);
    st.register(t, "log", log);
    st.register_fast(t, "sin", sin, fast::sin);
    st.register_fast(t, "cos", cos, fast::cos);
    st.register_fast(t, "tan", tan, fast::tan);
    st.register_fast(t, "asin", asin, fast::asin);
    st.register_fast(t, "acos", acos, fast::acos);
    st.register(t, "atan", atan);
    st.register_fast(t, "deg", deg, fast::deg);
    st.register_fast(t, "rad", rad, fast::rad);
    st.register_fast(t, "max", max, fast::max);
    st.register_fast(t, "min", min, fast::min);
    st.register(t, "tointeger", tointeger);
    st.register(t, "type", type_);
    st.register(t, "ult", ult);
    st.set_field(t, "pi", Value::Float(std::f64::consts::PI));
    st.set_field(t, "huge", Value::Float(f64::INFINITY));
    st.set_field(t, "maxinteger", Value::Int(i64::MAX));
    st.set_field(t, "mininteger", Value::Int(i64::MIN));

    let mut rng = Xoshiro::default();
    let (s1, s2) = random_seed_parts(st);
    rng.seed(s1, s2);
    let state = new_state_userdata(st, rng);
    let random = st.new_native_with(random, "random", &[state]);
    st.set_field(t, "random", random);
    let randomseed = st.new_native_with(randomseed, "randomseed", &[state]);
    st.set_field(t, "randomseed", randomseed);

    let g = st.globals;
    st.set_field(g, "math", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "math", Value::Table(t));
}

/// `lua_numbertointeger`: the float as an integer when it is in range (it must be integral).
fn float_fits_int(d: f64) -> Option<i64> {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        Some(d as i64)
    } else {
        None
    }
}

/// Pushes an integral float as an integer when it fits, else as a float (`pushnumint`).
fn numint(d: f64) -> Value {
    match float_fits_int(d) {
        Some(i) => Value::Int(i),
        None => Value::Float(d),
    }
}

fn abs(ctx: &mut Ctx) -> LuaResult<Action> {
    if let Value::Int(n) = ctx.arg(1) {
        return ctx.ret1(Value::Int(n.wrapping_abs()));
    }
    let x = ctx.check_float(1)?;
    ctx.ret1(Value::Float(x.abs()))
}

fn floor(ctx: &mut Ctx) -> LuaResult<Action> {
    if let v @ Value::Int(_) = ctx.arg(1) {
        return ctx.ret1(v);
    }
    let x = ctx.check_float(1)?;
    ctx.ret1(numint(x.floor()))
}

fn ceil(ctx: &mut Ctx) -> LuaResult<Action> {
    if let v @ Value::Int(_) = ctx.arg(1) {
        return ctx.ret1(v);
    }
    let x = ctx.check_float(1)?;
    ctx.ret1(numint(x.ceil()))
}

fn fmod(ctx: &mut Ctx) -> LuaResult<Action> {
    if let (Value::Int(a), Value::Int(d)) = (ctx.arg(1), ctx.arg(2)) {
        if (d as u64).wrapping_add(1) <= 1 {
            if d == 0 {
                return Err(ctx.arg_error(2, "zero"));
            }
            return ctx.ret1(Value::Int(0));
        }
        return ctx.ret1(Value::Int(a % d));
    }
    let a = ctx.check_float(1)?;
    let b = ctx.check_float(2)?;
    ctx.ret1(Value::Float(a % b))
}

fn modf(ctx: &mut Ctx) -> LuaResult<Action> {
    if let v @ Value::Int(_) = ctx.arg(1) {
        return ctx.ret(&[v, Value::Float(0.0)]);
    }
    let n = ctx.check_float(1)?;
    let ip = if n < 0.0 { n.ceil() } else { n.floor() };
    let frac = if n == ip { 0.0 } else { n - ip };
    ctx.ret(&[numint(ip), Value::Float(frac)])
}

/// Defines a one-argument float function.
macro_rules! float_fn {
    ($name:ident, $f:expr) => {
        fn $name(ctx: &mut Ctx) -> LuaResult<Action> {
            let x = ctx.check_float(1)?;
            let f: fn(f64) -> f64 = $f;
            ctx.ret1(Value::Float(f(x)))
        }
    };
}

float_fn!(sqrt, f64::sqrt);
float_fn!(exp, f64::exp);
float_fn!(sin, f64::sin);
float_fn!(cos, f64::cos);
float_fn!(tan, f64::tan);
float_fn!(asin, f64::asin);
float_fn!(acos, f64::acos);
float_fn!(deg, |x| x * (180.0 / std::f64::consts::PI));
float_fn!(rad, |x| x * (std::f64::consts::PI / 180.0));

fn atan(ctx: &mut Ctx) -> LuaResult<Action> {
    let y = ctx.check_float(1)?;
    let x = ctx.opt_float(2, 1.0)?;
    ctx.ret1(Value::Float(y.atan2(x)))
}

fn log(ctx: &mut Ctx) -> LuaResult<Action> {
    let x = ctx.check_float(1)?;
    let r = if ctx.arg(2).is_nil() {
        x.ln()
    } else {
        let base = ctx.check_float(2)?;
        if base == 2.0 {
            x.log2()
        } else if base == 10.0 {
            x.log10()
        } else {
            x.ln() / base.ln()
        }
    };
    ctx.ret1(Value::Float(r))
}

/// The smallest (`want_max == false`) or largest argument, keeping the first of equals.
fn extreme(ctx: &mut Ctx, want_max: bool) -> LuaResult<Action> {
    let n = ctx.nargs();
    if n < 1 {
        return Err(ctx.arg_error(1, "value expected"));
    }
    let mut best = ctx.arg(1);
    for i in 2..=n {
        let v = ctx.arg(i);
        let better = if want_max {
            less_than(ctx, best, v)?
        } else {
            less_than(ctx, v, best)?
        };
        if better {
            best = v;
        }
    }
    ctx.ret1(best)
}

fn min(ctx: &mut Ctx) -> LuaResult<Action> {
    extreme(ctx, false)
}

fn max(ctx: &mut Ctx) -> LuaResult<Action> {
    extreme(ctx, true)
}

fn tointeger(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.arg(1);
    match ctx.st.to_integer(v) {
        Some(i) => ctx.ret1(Value::Int(i)),
        None => {
            ctx.check_any(1)?;
            ctx.ret1(Value::Nil)
        }
    }
}

fn type_(ctx: &mut Ctx) -> LuaResult<Action> {
    let name: &[u8] = match ctx.arg(1) {
        Value::Int(_) => b"integer",
        Value::Float(_) => b"float",
        _ => {
            ctx.check_any(1)?;
            return ctx.ret1(Value::Nil);
        }
    };
    let s = ctx.new_str(name);
    ctx.ret1(s)
}

fn ult(ctx: &mut Ctx) -> LuaResult<Action> {
    let a = ctx.check_int(1)?;
    let b = ctx.check_int(2)?;
    ctx.ret1(Value::Bool((a as u64) < (b as u64)))
}

// ---------------------------------------------------------------------------------------------
// Pseudo-random numbers: xoshiro256**

/// The state of the `xoshiro256**` generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Xoshiro {
    s: [u64; 4],
}

impl Xoshiro {
    /// Advances the generator and returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let state0 = s[0];
        let state1 = s[1];
        let state2 = s[2] ^ state0;
        let state3 = s[3] ^ state1;
        let res = state1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        s[0] = state0 ^ state3;
        s[1] = state1 ^ state2;
        s[2] = state2 ^ (state1 << 17);
        s[3] = state3.rotate_left(45);
        res
    }

    /// Seeds the generator as `math.randomseed(n1, n2)` does, discarding the first 16 values.
    pub fn seed(&mut self, n1: u64, n2: u64) {
        self.s = [n1, 0xff, n2, 0];
        for _ in 0..16 {
            self.next_u64();
        }
    }

    /// Projects a random integer into `[0, n]` as PUC's `project` (rejection sampling on the
    /// smallest enclosing power-of-two mask).
    fn project(&mut self, mut ran: u64, n: u64) -> u64 {
        if n & n.wrapping_add(1) == 0 {
            return ran & n;
        }
        let mut lim = n;
        lim |= lim >> 1;
        lim |= lim >> 2;
        lim |= lim >> 4;
        lim |= lim >> 8;
        lim |= lim >> 16;
        lim |= lim >> 32;
        loop {
            ran &= lim;
            if ran <= n {
                return ran;
            }
            ran = self.next_u64();
        }
    }
}

/// Converts random bits to a float in `[0, 1)` from the top 53 bits.
fn to_unit_float(x: u64) -> f64 {
    (x >> 11) as f64 * (0.5 / (1u64 << 52) as f64)
}

/// A "random" seed for `randomseed()` without arguments: the time and an address.
fn random_seed_parts(st: &State) -> (u64, u64) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let addr = Value::Table(st.globals).gc_addr() as u64;
    (t, addr)
}

/// Runs `f` on the generator stored in the running closure's first upvalue.
fn with_rng<R>(ctx: &mut Ctx, f: impl FnOnce(&mut Xoshiro) -> R) -> LuaResult<R> {
    if let Value::UserData(u) = ctx.st.current_native_upvalue(0) {
        if let Some(rng) = u.data.borrow_mut().downcast_mut::<Xoshiro>() {
            return Ok(f(rng));
        }
    }
    Err(ctx.error("invalid random state"))
}

fn random(ctx: &mut Ctx) -> LuaResult<Action> {
    let rv = with_rng(ctx, |r| r.next_u64())?;
    let (low, up) = match ctx.nargs() {
        0 => return ctx.ret1(Value::Float(to_unit_float(rv))),
        1 => {
            let up = ctx.check_int(1)?;
            if up == 0 {
                return ctx.ret1(Value::Int(rv as i64));
            }
            (1, up)
        }
        2 => (ctx.check_int(1)?, ctx.check_int(2)?),
        _ => return Err(ctx.error("wrong number of arguments")),
    };
    if low > up {
        return Err(ctx.arg_error(1, "interval is empty"));
    }
    let span = (up as u64).wrapping_sub(low as u64);
    let p = with_rng(ctx, |r| r.project(rv, span))?;
    ctx.ret1(Value::Int(p.wrapping_add(low as u64) as i64))
}

fn randomseed(ctx: &mut Ctx) -> LuaResult<Action> {
    let (n1, n2) = if ctx.nargs() == 0 {
        random_seed_parts(ctx.st)
    } else {
        let n1 = ctx.check_int(1)?;
        let n2 = ctx.opt_int(2, 0)?;
        (n1 as u64, n2 as u64)
    };
    with_rng(ctx, |r| r.seed(n1, n2))?;
    ctx.ret(&[Value::Int(n1 as i64), Value::Int(n2 as i64)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_puc_lua() {
        let mut r = Xoshiro::default();
        r.seed(42, 0);
        assert_eq!(r.next_u64() as i64, -1276290044721465627);
        assert_eq!(r.next_u64() as i64, 8333941968102511665);
        r.seed(0, 0);
        assert_eq!(r.next_u64() as i64, 4554719557422691265);
    }

    #[test]
    fn project_stays_in_range() {
        let mut r = Xoshiro::default();
        r.seed(7, 0);
        for n in [0u64, 1, 2, 5, 99, 1 << 40, u64::MAX] {
            for _ in 0..100 {
                let x = r.next_u64();
                assert!(r.project(x, n) <= n);
            }
        }
        let f = to_unit_float(u64::MAX);
        assert!((0.0..1.0).contains(&f));
    }
}

/// Shortcuts for plain number arguments (`NativeClosure::fast`): each returns what its
/// function returns, or `None` to run the function itself (string coercion, errors).
mod fast {
    use super::numint;
    use crate::value::Value;

    /// The first argument as a float, when it is a number.
    #[inline(always)]
    fn float1(args: &[Value]) -> Option<f64> {
        match args.first()? {
            Value::Float(x) => Some(*x),
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }

    macro_rules! float_fast {
        ($($name:ident = $f:expr;)*) => {$(
            pub fn $name(args: &[Value]) -> Option<Value> {
                let f: fn(f64) -> f64 = $f;
                Some(Value::Float(f(float1(args)?)))
            }
        )*};
    }

    float_fast! {
        sqrt = f64::sqrt;
        exp = f64::exp;
        sin = f64::sin;
        cos = f64::cos;
        tan = f64::tan;
        asin = f64::asin;
        acos = f64::acos;
        deg = |x| x * (180.0 / std::f64::consts::PI);
        rad = |x| x * (std::f64::consts::PI / 180.0);
    }

    pub fn abs(args: &[Value]) -> Option<Value> {
        match args.first()? {
            Value::Int(n) => Some(Value::Int(n.wrapping_abs())),
            Value::Float(x) => Some(Value::Float(x.abs())),
            _ => None,
        }
    }

    pub fn floor(args: &[Value]) -> Option<Value> {
        match args.first()? {
            v @ Value::Int(_) => Some(*v),
            Value::Float(x) => Some(numint(x.floor())),
            _ => None,
        }
    }

    pub fn ceil(args: &[Value]) -> Option<Value> {
        match args.first()? {
            v @ Value::Int(_) => Some(*v),
            Value::Float(x) => Some(numint(x.ceil())),
            _ => None,
        }
    }

    /// `math.max`/`math.min` when all arguments are integers or all are floats (mixed
    /// arguments compare exactly through the function itself).
    fn extreme(args: &[Value], want_max: bool) -> Option<Value> {
        let (first, rest) = args.split_first()?;
        match *first {
            Value::Int(mut best) => {
                for v in rest {
                    let Value::Int(x) = *v else { return None };
                    if (want_max && best < x) || (!want_max && x < best) {
                        best = x;
                    }
                }
                Some(Value::Int(best))
            }
            Value::Float(mut best) => {
                for v in rest {
                    let Value::Float(x) = *v else { return None };
                    if (want_max && best < x) || (!want_max && x < best) {
                        best = x;
                    }
                }
                Some(Value::Float(best))
            }
            _ => None,
        }
    }

    pub fn max(args: &[Value]) -> Option<Value> {
        extreme(args, true)
    }

    pub fn min(args: &[Value]) -> Option<Value> {
        extreme(args, false)
    }
}
