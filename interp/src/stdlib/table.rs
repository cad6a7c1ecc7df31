//! The table library (manual §6.6): `concat insert move pack remove sort unpack`.
//!
//! Like PUC Lua 5.4, the functions accept any value that behaves like a table (a metatable
//! with the needed `__index`/`__newindex`/`__len`), read and write elements with metamethods
//! (`lua_geti`/`lua_seti`) and take lengths with `__len` (`luaL_len`). Plain tables without a
//! metatable use raw accesses directly.
//!
//! `sort` reads the elements, sorts them with PUC's quicksort (same pivots, same comparisons,
//! same detection of invalid order functions) and writes the result back. Inside an async
//! task, with an order function or with elements that may have `__lt` metamethods (not all
//! numbers, not all strings), the elements and the quicksort's state live in the native's
//! stack window and each comparison is a continuation call, so the order function or `__lt`
//! may await host futures. Elsewhere no await can succeed (a plain yield is refused either
//! way, as in PUC), so comparisons are called directly in a nested run, which costs far less
//! per comparison than a continuation round trip.
//!
//! `insert`, `remove`, `concat` and `unpack` are step machines in `table_steps`, whose
//! `__len`/`__index`/`__newindex` calls are continuation calls too. `move` and the reading and
//! writing back of `sort` on proxy tables still call metamethods in nested runs.

use crate::stdlib::base::index_value;
use crate::stdlib::table_steps;
use crate::table::Table;
use crate::value::Value;
use crate::vm::meta::Outcome;
use crate::vm::native::{Action, CallStatus, Catch, Cont, Ctx};
use crate::vm::{LuaResult, State};
use rua_gc::Gc;

/// Installs the `table` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 8);
    st.register(t, "concat", table_steps::concat);
    st.register(t, "insert", table_steps::insert);
    st.register(t, "pack", pack);
    st.register(t, "unpack", table_steps::unpack);
    st.register(t, "remove", table_steps::remove);
    st.register(t, "move", move_);
    st.register(t, "sort", sort);
    let g = st.globals;
    st.set_field(g, "table", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "table", Value::Table(t));
}

// ---------------------------------------------------------------------------------------------
// Element access with metamethods (shared with other libraries)

/// `lua_geti`: `t[i]` honouring `__index`.
pub(crate) fn geti(ctx: &mut Ctx, t: Value, i: i64) -> LuaResult<Value> {
    if let Value::Table(tab) = t {
        let v = tab.get_int(i);
        if !v.is_nil() || tab.metatable().is_none() {
            return Ok(v);
        }
    }
    index_value(ctx, t, Value::Int(i))
}

/// `lua_seti`: `t[i] = v` honouring `__newindex`.
pub(crate) fn seti(ctx: &mut Ctx, t: Value, i: i64, v: Value) -> LuaResult<()> {
    if let Value::Table(tab) = t {
        if tab.metatable().is_none() {
            tab.set_int(i, v);
            return Ok(());
        }
    }
    set_index(ctx, t, Value::Int(i), v)
}

/// `lua_settable`: `obj[key] = val` honouring `__newindex` (nested call for functions).
pub(crate) fn set_index(ctx: &mut Ctx, obj: Value, key: Value, val: Value) -> LuaResult<()> {
    if let Value::Table(tab) = obj {
        if tab.metatable().is_none() {
            return ctx.st.raw_set_checked(tab, key, val);
        }
    }
    match ctx.st.newindex_slow(obj, key, val, &|_| String::new())? {
        None => Ok(()),
        Some((tm, t)) => {
            ctx.call(tm, &[t, key, val], 0)?;
            Ok(())
        }
    }
}

/// `lua_compare(a, b, LUA_OPLT)`: `a < b` with `__lt`.
pub(crate) fn less_than(ctx: &mut Ctx, a: Value, b: Value) -> LuaResult<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => return Ok(x < y),
        (Value::Float(x), Value::Float(y)) => return Ok(x < y),
        (Value::Str(x), Value::Str(y)) => return Ok(x.as_bytes() < y.as_bytes()),
        _ => {}
    }
    match ctx.st.compare_slow(a, b, false)? {
        Outcome::Value(v) => Ok(v.truthy()),
        Outcome::Meta(tm, x, y) => {
            let r = ctx.call(tm, &[x, y], 1)?;
            Ok(r.first().is_some_and(|v| v.truthy()))
        }
    }
}

/// `lua_compare(a, b, LUA_OPEQ)`: `a == b` with `__eq`.
pub(crate) fn equals(ctx: &mut Ctx, a: Value, b: Value) -> LuaResult<bool> {
    match ctx.st.equals_slow(a, b) {
        Outcome::Value(v) => Ok(v.truthy()),
        Outcome::Meta(tm, x, y) => {
            let r = ctx.call(tm, &[x, y], 1)?;
            Ok(r.first().is_some_and(|v| v.truthy()))
        }
    }
}

/// `luaL_len`: the length of `v` with `__len`, which must be an integer.
pub(crate) fn len_of(ctx: &mut Ctx, v: Value) -> LuaResult<i64> {
    if let Value::Table(t) = v {
        if t.metatable().is_none() {
            return Ok(t.len() as i64);
        }
    }
    let r = match ctx.st.len_slow(v, None)? {
        Outcome::Value(r) => r,
        Outcome::Meta(tm, a, b) => {
            let r = ctx.call(tm, &[a, b], 1)?;
            r.first().copied().unwrap_or(Value::Nil)
        }
    };
    match ctx.st.to_integer(r) {
        Some(n) => Ok(n),
        None => Err(ctx.error("object length is not an integer")),
    }
}

/// Operations a table-like argument must support.
pub(crate) const TAB_R: u8 = 1;
pub(crate) const TAB_W: u8 = 2;
pub(crate) const TAB_L: u8 = 4;
pub(crate) const TAB_RW: u8 = TAB_R | TAB_W;

/// `checktab`: argument `arg` must be a table or have a metatable with the metamethods the
/// operation needs.
pub(crate) fn checktab(ctx: &mut Ctx, arg: usize, what: u8) -> LuaResult<()> {
    let v = ctx.arg(arg);
    if matches!(v, Value::Table(_)) {
        return Ok(());
    }
    if let Some(mt) = ctx.st.metatable_of(v) {
        let mut ok = true;
        for (bit, name) in [(TAB_R, "__index"), (TAB_W, "__newindex"), (TAB_L, "__len")] {
            if what & bit != 0 && ctx.st.get_field(mt, name).is_nil() {
                ok = false;
            }
        }
        if ok {
            return Ok(());
        }
    }
    Err(ctx.type_error(arg, "table"))
}

/// `aux_getn`: checks argument `arg` and returns its length.
fn aux_getn(ctx: &mut Ctx, arg: usize, what: u8) -> LuaResult<i64> {
    checktab(ctx, arg, what | TAB_L)?;
    let v = ctx.arg(arg);
    len_of(ctx, v)
}

// ---------------------------------------------------------------------------------------------
// Functions

fn move_(ctx: &mut Ctx) -> LuaResult<Action> {
    let a1 = ctx.arg(1);
    let f = ctx.check_int(2)?;
    let e = ctx.check_int(3)?;
    let t = ctx.check_int(4)?;
    let tt = if ctx.arg(5).is_nil() { 1 } else { 5 };
    checktab(ctx, 1, TAB_R)?;
    checktab(ctx, tt, TAB_W)?;
    let dst = ctx.arg(tt);
    if e >= f {
        if !(f > 0 || e < i64::MAX + f) {
            return Err(ctx.arg_error(3, "too many elements to move"));
        }
        let n = e - f + 1;
        if t > i64::MAX - n + 1 {
            return Err(ctx.arg_error(4, "destination wrap around"));
        }
        let forward = t > e || t <= f || (tt != 1 && !equals(ctx, a1, dst)?);
        if forward {
            for i in 0..n {
                let v = geti(ctx, a1, f + i)?;
                seti(ctx, dst, t + i, v)?;
            }
        } else {
            for i in (0..n).rev() {
                let v = geti(ctx, a1, f + i)?;
                seti(ctx, dst, t + i, v)?;
            }
        }
    }
    ctx.ret1(dst)
}

fn pack(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    let t = ctx.st.new_table(n, 1);
    for i in 1..=n {
        t.set_int(i as i64, ctx.arg(i));
    }
    ctx.st.set_field(t, "n", Value::Int(n as i64));
    ctx.ret1(Value::Table(t))
}

// ---------------------------------------------------------------------------------------------
// sort

/// Intervals at least this long may use randomized pivots (PUC's `RANLIMIT`).
const RANLIMIT: usize = 100;

/// A "random" pivot seed (`l_randomizePivot`), used only after a badly unbalanced partition.
fn randomize_pivot() -> usize {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u32) as usize
}

/// The direct quicksort over a vector, comparing with the `<` operator or, outside async
/// tasks, with an order function called in a nested run.
struct Sorter<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    /// The order function; nil for `<`.
    cmp: Value,
}

impl Sorter<'_, '_> {
    /// `a < b` according to the sort order.
    fn lt(&mut self, a: Value, b: Value) -> LuaResult<bool> {
        // Each comparison counts as an instruction (see `vm::limits`).
        self.ctx.st.charge_instructions(1)?;
        if self.cmp.is_nil() {
            less_than(self.ctx, a, b)
        } else {
            Ok(self.ctx.call1(self.cmp, &[a, b])?.truthy())
        }
    }

    fn invalid_order(&mut self) -> crate::vm::LuaError {
        invalid_order(self.ctx)
    }

    /// Partitions `a[lo..=up]` around the pivot `p` (stored at `a[up - 1]`); returns its final
    /// position. Precondition: `a[lo] <= p == a[up - 1] <= a[up]`.
    fn partition(&mut self, a: &mut [Value], lo: usize, up: usize, p: Value) -> LuaResult<usize> {
        let mut i = lo;
        let mut j = up - 1;
        loop {
            loop {
                i += 1;
                if !self.lt(a[i], p)? {
                    break;
                }
                if i == up - 1 {
                    return Err(self.invalid_order());
                }
            }
            loop {
                j -= 1;
                if !self.lt(p, a[j])? {
                    break;
                }
                if j < i {
                    return Err(self.invalid_order());
                }
            }
            if j < i {
                a.swap(up - 1, i);
                return Ok(i);
            }
            a.swap(i, j);
        }
    }

    /// PUC's quicksort of `a[lo..=up]` (1-based positions; `a[0]` is unused).
    fn auxsort(
        &mut self,
        a: &mut [Value],
        mut lo: usize,
        mut up: usize,
        mut rnd: usize,
    ) -> LuaResult<()> {
        while lo < up {
            if self.lt(a[up], a[lo])? {
                a.swap(lo, up);
            }
            if up - lo == 1 {
                return Ok(());
            }
            let p = choose_pivot(lo, up, rnd);
            if self.lt(a[p], a[lo])? {
                a.swap(p, lo);
            } else if self.lt(a[up], a[p])? {
                a.swap(p, up);
            }
            if up - lo == 2 {
                return Ok(());
            }
            let pivot = a[p];
            a.swap(p, up - 1);
            let p = self.partition(a, lo, up, pivot)?;
            let n;
            if p - lo < up - p {
                self.auxsort(a, lo, p - 1, rnd)?;
                n = p - lo;
                lo = p + 1;
            } else {
                self.auxsort(a, p + 1, up, rnd)?;
                n = up - p;
                up = p - 1;
            }
            if (up.wrapping_sub(lo)) / 128 > n && up > lo {
                rnd = randomize_pivot();
            }
        }
        Ok(())
    }
}

fn invalid_order(ctx: &mut Ctx) -> crate::vm::LuaError {
    ctx.error("invalid order function for sorting")
}

/// The pivot position for `a[lo..=up]` (PUC's `choosePivot`).
fn choose_pivot(lo: usize, up: usize, rnd: usize) -> usize {
    if up - lo < RANLIMIT || rnd == 0 {
        (lo + up) / 2
    } else {
        let r4 = (up - lo) / 4;
        rnd % (r4 * 2) + (lo + r4)
    }
}

fn sort(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let n = aux_getn(ctx, 1, TAB_RW)?;
    if n > 1 {
        if n >= i64::from(i32::MAX) {
            return Err(ctx.arg_error(1, "array too big"));
        }
        let cmp = ctx.arg(2);
        if !cmp.is_nil() && !cmp.is_function() {
            return Err(ctx.type_error(2, "function"));
        }
        let n = n as usize;
        if !cmp.is_nil() && ctx.st.in_async {
            return sort_with_function(ctx, t, n);
        }
        // A proxy table may claim any length: fail cleanly rather than abort.
        let mut a = ctx.st.try_vec(n + 1)?;
        a.push(Value::Nil);
        for i in 1..=n {
            let v = geti(ctx, t, i as i64)?;
            a.push(v);
        }
        // Inside an async task, elements other than all numbers or all strings may reach `__lt`
        // metamethods that await: those run as continuation calls of the step-wise sort.
        if ctx.st.in_async {
            let plain = a[1..]
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Float(_)))
                || a[1..].iter().all(|v| matches!(v, Value::Str(_)));
            if !plain {
                a.remove(0);
                return sort_start(ctx, a);
            }
        }
        // Keep the elements reachable while the order function or `__lt` metamethods run (they
        // may change the table).
        let keep = ctx.top();
        for v in &a[1..] {
            ctx.push(*v);
        }
        let mut s = Sorter { ctx, cmp };
        s.auxsort(&mut a, 1, n, 0)?;
        for (i, v) in a.iter().enumerate().skip(1) {
            seti(s.ctx, t, i as i64, *v)?;
        }
        s.ctx.truncate(keep);
    }
    Ok(Action::Return(0))
}

// ---------------------------------------------------------------------------------------------
// sort with an order function inside an async task, as continuation calls
//
// The same quicksort as `Sorter`, turned inside out: each comparison is an `Action::Call` of
// the order function, and the sort resumes in `sort_k` with its result, so the order function
// may await host futures. Everything lives in the native's stack window above its `k`
// arguments (rooted, and dropped with the stack if the sort is abandoned):
//
//   k + 0 .. k + 5   registers: element count, phase, pivot position, i, j (integers)
//   k + 5            a private table holding the elements a[1..=n] (the stack is too small
//                    for big arrays)
//   k + 6 ..         pending intervals, three integers each: lo, up, rnd; the last one is
//                    being sorted, the ones below wait for it (at most ~log2 n of them)

/// What the comparison in flight decides (the point of the quicksort it was made at).
const PH_START: i64 = 0; // no comparison: start an iteration of the top interval
const PH_ENDS: i64 = 1; // a[up] < a[lo]
const PH_PIVOT_LO: i64 = 2; // a[p] < a[lo]
const PH_UP_PIVOT: i64 = 3; // a[up] < a[p]
const PH_I: i64 = 4; // a[i] < P (P = a[up - 1] while partitioning)
const PH_J: i64 = 5; // P < a[j]

const NREGS: usize = 5;

/// The quicksort's registers, loaded from and stored to the stack window around each call.
struct SortRegs {
    /// Window position of the first register (the number of arguments).
    k: usize,
    /// The elements being sorted.
    a: Gc<Table>,
    n: usize,
    phase: i64,
    p: usize,
    i: usize,
    j: usize,
    /// The interval being sorted (the top of the interval stack).
    lo: usize,
    up: usize,
    rnd: usize,
}

#[inline]
fn slot_int(v: Value) -> usize {
    match v {
        Value::Int(v) => v as usize,
        _ => unreachable!("table.sort keeps integers in its register slots"),
    }
}

impl SortRegs {
    /// Element `a[i]`.
    #[inline]
    fn el(&self, i: usize) -> Value {
        self.a.get_int(i as i64)
    }

    /// Window position of the first interval.
    fn intervals(&self) -> usize {
        self.k + NREGS + 1
    }

    fn load(ctx: &mut Ctx, k: usize) -> SortRegs {
        let w = ctx.window();
        let a = match w[k + NREGS] {
            Value::Table(a) => a,
            _ => unreachable!("table.sort keeps its elements in a table slot"),
        };
        let top = w.len();
        SortRegs {
            k,
            a,
            n: slot_int(w[k]),
            phase: slot_int(w[k + 1]) as i64,
            p: slot_int(w[k + 2]),
            i: slot_int(w[k + 3]),
            j: slot_int(w[k + 4]),
            lo: slot_int(w[top - 3]),
            up: slot_int(w[top - 2]),
            rnd: slot_int(w[top - 1]),
        }
    }

    /// Loads `lo`, `up`, `rnd` from the top interval; `false` when there is none.
    fn load_top(&mut self, ctx: &mut Ctx) -> bool {
        let first = self.intervals();
        let w = ctx.window();
        let top = w.len();
        if top <= first {
            return false;
        }
        self.lo = slot_int(w[top - 3]);
        self.up = slot_int(w[top - 2]);
        self.rnd = slot_int(w[top - 1]);
        true
    }

    /// Stores the partition registers (the interval bounds are stored when they change).
    fn store(&self, ctx: &mut Ctx) {
        let k = self.k;
        let w = &mut ctx.window()[k + 1..k + NREGS];
        w[0] = Value::Int(self.phase);
        w[1] = Value::Int(self.p as i64);
        w[2] = Value::Int(self.i as i64);
        w[3] = Value::Int(self.j as i64);
    }

    fn swap(&self, x: usize, y: usize) {
        let (vx, vy) = (self.el(x), self.el(y));
        self.a.set_int(x as i64, vy);
        self.a.set_int(y as i64, vx);
    }

    /// Drops the top interval (sorted) and goes on with the one below.
    fn pop(&mut self, ctx: &mut Ctx) {
        let top = ctx.top();
        ctx.truncate(top - 3);
        self.phase = PH_START;
    }

    /// Runs the quicksort from the comparison result `lt` of the current phase up to the next
    /// comparison, returned as the element positions `(x, y)` meaning `a[x] < a[y]`; `None`
    /// when everything is sorted.
    fn advance(&mut self, ctx: &mut Ctx, mut lt: bool) -> LuaResult<Option<(usize, usize)>> {
        loop {
            let (lo, up) = (self.lo, self.up);
            match self.phase {
                PH_START => {
                    if !self.load_top(ctx) {
                        return Ok(None);
                    }
                    if self.lo >= self.up {
                        self.pop(ctx);
                        continue;
                    }
                    self.phase = PH_ENDS;
                    return Ok(Some((self.up, self.lo)));
                }
                PH_ENDS => {
                    if lt {
                        self.swap(lo, up);
                    }
                    if up - lo == 1 {
                        self.pop(ctx);
                        continue;
                    }
                    self.p = choose_pivot(lo, up, self.rnd);
                    self.phase = PH_PIVOT_LO;
                    return Ok(Some((self.p, lo)));
                }
                PH_PIVOT_LO if !lt => {
                    self.phase = PH_UP_PIVOT;
                    return Ok(Some((up, self.p)));
                }
                PH_PIVOT_LO | PH_UP_PIVOT => {
                    if lt {
                        let other = if self.phase == PH_PIVOT_LO { lo } else { up };
                        self.swap(self.p, other);
                    }
                    if up - lo == 2 {
                        self.pop(ctx);
                        continue;
                    }
                    // Partition around P = a[p], kept at a[up - 1].
                    self.swap(self.p, up - 1);
                    self.i = lo + 1;
                    self.j = up - 1;
                    self.phase = PH_I;
                    return Ok(Some((self.i, up - 1)));
                }
                PH_I => {
                    if lt {
                        if self.i == up - 1 {
                            return Err(invalid_order(ctx));
                        }
                        self.i += 1;
                        return Ok(Some((self.i, up - 1)));
                    }
                    self.j -= 1;
                    self.phase = PH_J;
                    return Ok(Some((up - 1, self.j)));
                }
                PH_J => {
                    let (i, j) = (self.i, self.j);
                    if lt {
                        if j < i {
                            return Err(invalid_order(ctx));
                        }
                        self.j -= 1;
                        return Ok(Some((up - 1, self.j)));
                    }
                    if j >= i {
                        self.swap(i, j);
                        self.i += 1;
                        self.phase = PH_I;
                        return Ok(Some((self.i, up - 1)));
                    }
                    self.swap(up - 1, i);
                    self.split(ctx, i);
                    lt = false;
                    continue;
                }
                _ => unreachable!("table.sort phase"),
            }
        }
    }

    /// After partitioning the top interval at `p`: the smaller side is pushed to be sorted
    /// first, the larger one stays below it (PUC recurses on the smaller side and loops on
    /// the larger one).
    fn split(&mut self, ctx: &mut Ctx, p: usize) {
        let (lo, up, rnd) = (self.lo, self.up, self.rnd);
        let (child, n);
        if p - lo < up - p {
            child = (lo, p - 1);
            n = p - lo;
            self.lo = p + 1;
        } else {
            child = (p + 1, up);
            n = up - p;
            self.up = p - 1;
        }
        // (PUC draws the new seed after sorting the smaller side; it is arbitrary either way.)
        if (self.up.wrapping_sub(self.lo)) / 128 > n && self.up > self.lo {
            self.rnd = randomize_pivot();
        }
        let w = ctx.window();
        let top = w.len();
        w[top - 3] = Value::Int(self.lo as i64);
        w[top - 2] = Value::Int(self.up as i64);
        w[top - 1] = Value::Int(self.rnd as i64);
        ctx.push(Value::Int(child.0 as i64));
        ctx.push(Value::Int(child.1 as i64));
        ctx.push(Value::Int(rnd as i64));
        self.phase = PH_START;
    }
}

/// Starts sorting the `n` elements of `t` with the order function at argument 2.
fn sort_with_function(ctx: &mut Ctx, t: Value, n: usize) -> LuaResult<Action> {
    // A proxy table may claim any length: fail cleanly rather than abort.
    let mut a = ctx.st.try_vec(n)?;
    for i in 1..=n {
        let v = geti(ctx, t, i as i64)?;
        a.push(v);
    }
    sort_start(ctx, a)
}

/// Starts the step-wise sort of the elements `a` (read from argument 1), comparing with the
/// order function at argument 2, or with `<` when it is nil.
fn sort_start(ctx: &mut Ctx, a: Vec<Value>) -> LuaResult<Action> {
    let k = ctx.nargs();
    let n = a.len();
    let a = Table::from_array(&mut ctx.st.heap, a);
    ctx.truncate(k);
    for v in [n, PH_START as usize, 0, 0, 0] {
        ctx.push(Value::Int(v as i64));
    }
    ctx.push(Value::Table(a));
    for v in [1, n, 0] {
        ctx.push(Value::Int(v as i64));
    }
    let mut r = SortRegs::load(ctx, k);
    sort_step(ctx, &mut r, false)
}

/// Advances the sort with comparison result `lt`: calls the order function (or the `__lt`
/// metamethod) for the next comparison, or writes the sorted elements back and returns.
fn sort_step(ctx: &mut Ctx, r: &mut SortRegs, mut lt: bool) -> LuaResult<Action> {
    let cmp = ctx.arg(2);
    while let Some((x, y)) = r.advance(ctx, lt)? {
        // Each comparison counts as an instruction (see `vm::limits`).
        ctx.st.charge_instructions(1)?;
        let (a, b) = (r.el(x), r.el(y));
        let (f, a, b) = if cmp.is_nil() {
            match table_steps::less(ctx, a, b)? {
                table_steps::Access::Now(v) => {
                    lt = v;
                    continue;
                }
                table_steps::Access::Call(tm, args, _) => (tm, args[0], args[1]),
            }
        } else {
            (cmp, a, b)
        };
        r.store(ctx);
        ctx.push(f);
        ctx.push(a);
        ctx.push(b);
        return Ok(Action::Call {
            nargs: 2,
            nresults: 1,
            cont: Cont {
                f: sort_k,
                data: r.k,
                catch: Catch::No,
                yieldable: false,
            },
        });
    }
    let t = ctx.arg(1);
    for i in 1..=r.n {
        let v = r.el(i);
        seti(ctx, t, i as i64, v)?;
    }
    ctx.truncate(r.k);
    Ok(Action::Return(0))
}

/// Continuation of `table.sort` after a call of the order function or of `__lt`.
fn sort_k(ctx: &mut Ctx, status: CallStatus, k: usize) -> LuaResult<Action> {
    let CallStatus::Ok(_) = status else {
        unreachable!("table.sort's continuation does not catch")
    };
    let top = ctx.top();
    let lt = ctx.at(top - 1).truthy();
    ctx.truncate(top - 1);
    ctx.nargs = k;
    let mut r = SortRegs::load(ctx, k);
    sort_step(ctx, &mut r, lt)
}
