//! Criterion benchmarks of the interpreter's hot paths through the public embedding API
//! (`State::load` + `State::call_value`): table get/set with integer and string keys,
//! Lua-to-Lua, host-to-Lua and Lua-to-native calls, string interning, and GC allocation of
//! tables, closures and strings. When the kernel allows `perf_event_open`, each benchmark's
//! instructions, cycles and branch misses per iteration are printed after its timing.
//!
//! Run: `cargo bench -p rua-benches [-- FILTER]`.

mod counters;

use criterion::{black_box, Criterion};
use rua_interp::stdlib::open_all;
use rua_interp::value::Value;
use rua_interp::vm::State;
use std::time::Duration;

/// Iterations of a routine under the hardware counters.
const HW_ITERS: u64 = 2000;

/// A state with the standard library, and the function returned by running `src`.
fn prepare(src: &str) -> (State, Value) {
    let mut st = State::new_bare();
    open_all(&mut st);
    let chunk = st
        .load(src.as_bytes(), b"=bench", None)
        .expect("benchmark chunk compiles");
    let f = st.call_value(chunk, &[], 1).expect("benchmark chunk runs")[0];
    (st, f)
}

/// Calls `f(n)` and returns its single integer result.
fn call_int(st: &mut State, f: Value, n: i64) -> i64 {
    match st
        .call_value(f, &[Value::Int(n)], 1)
        .expect("benchmark call")[0]
    {
        Value::Int(i) => i,
        other => panic!("benchmark returned {other:?}, not an integer"),
    }
}

/// The benchmark driver: criterion timing, then hardware counters when available.
struct Suite {
    criterion: Criterion,
    hw: Option<counters::HwCounters>,
    filter: Option<String>,
}

impl Suite {
    fn new() -> Suite {
        let hw = match counters::HwCounters::open() {
            Ok(hw) => Some(hw),
            Err(e) => {
                println!("hardware counters unavailable ({e}); reporting time only");
                None
            }
        };
        // The first free argument is criterion's name filter; apply it to the counters too.
        let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        let criterion = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
            .configure_from_args();
        Suite {
            criterion,
            hw,
            filter,
        }
    }

    /// Benchmarks a Lua function `f(n)` whose result must be `expect`.
    fn lua(&mut self, name: &str, src: &str, n: i64, expect: i64) {
        let (mut st, f) = prepare(src);
        assert_eq!(call_int(&mut st, f, n), expect, "{name}: wrong result");
        self.routine(name, || {
            black_box(call_int(&mut st, f, n));
        });
    }

    fn routine(&mut self, name: &str, mut routine: impl FnMut()) {
        self.criterion
            .bench_function(name, |b| b.iter(&mut routine));
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        if let Some(hw) = &mut self.hw {
            match hw.measure(HW_ITERS, &mut routine) {
                Ok(c) => println!(
                    "{name:<28} {:>12.0} instructions {:>12.0} cycles {:>9.1} branch-misses \
                     per iteration (IPC {:.2})",
                    c.instructions,
                    c.cycles,
                    c.branch_misses,
                    c.instructions / c.cycles.max(1.0)
                ),
                Err(e) => println!("{name}: hardware counters failed: {e}"),
            }
        }
    }
}

fn tables(s: &mut Suite) {
    s.lua(
        "table/int_keys_1000",
        "local t = {}
         return function(n)
           for i = 1, n do t[i] = i end
           local s = 0
           for i = 1, n do s = s + t[i] end
           return s
         end",
        1000,
        500_500,
    );
    s.lua(
        "table/string_keys_64x16",
        "local keys = {}
         for i = 1, 64 do keys[i] = 'field' .. i end
         local t = {}
         return function(n)
           local s = 0
           for _ = 1, n do
             for j = 1, 64 do t[keys[j]] = j end
             for j = 1, 64 do s = s + t[keys[j]] end
           end
           return s
         end",
        16,
        16 * 2080,
    );
    s.lua(
        "table/const_field_1000",
        "local p = {x = 0, y = 2}
         return function(n)
           local s = 0
           for i = 1, n do p.x = i; s = s + p.x + p.y end
           return s
         end",
        1000,
        500_500 + 2000,
    );
}

fn calls(s: &mut Suite) {
    s.lua(
        "call/lua_to_lua_1000",
        "local function add(a, b) return a + b end
         return function(n)
           local s = 0
           for i = 1, n do s = add(s, i) end
           return s
         end",
        1000,
        500_500,
    );
    s.lua(
        "call/lua_to_native_1000",
        "local abs = math.abs
         return function(n)
           local s = 0
           for i = 1, n do s = s + abs(-i) end
           return s
         end",
        1000,
        500_500,
    );
    let (mut st, f) = prepare("return function(a, b) return a + b end");
    s.routine("call/host_to_lua", || {
        let r = st.call_value(f, &[Value::Int(1), Value::Int(2)], 1);
        black_box(r.expect("call"));
    });
}

fn strings(s: &mut Suite) {
    // Interning hits from the host: the strings are kept alive by a table in the globals.
    let (mut st, _) = prepare(
        "keep = {}
         for i = 1, 64 do keep[i] = 'name_' .. i end
         return function() end",
    );
    let names: Vec<Vec<u8>> = (1..=64).map(|i| format!("name_{i}").into_bytes()).collect();
    s.routine("string/intern_hit_host_64", || {
        for n in &names {
            black_box(st.intern(n));
        }
    });
    s.lua(
        "string/concat_intern_hit_1000",
        "local keep = {}
         for i = 0, 63 do keep[i] = 'k' .. i end
         return function(n)
           local c = 0
           for i = 1, n do
             if 'k' .. (i % 64) == keep[i % 64] then c = c + 1 end
           end
           return c
         end",
        1000,
        1000,
    );
    s.lua(
        "string/new_strings_1000",
        "local serial = 0
         return function(n)
           local len = 0
           for _ = 1, n do serial = serial + 1; len = len + #('s' .. serial) end
           return len > 0 and n or -1
         end",
        1000,
        1000,
    );
}

fn allocation(s: &mut Suite) {
    s.lua(
        "gc/tables_1000",
        "return function(n)
           local last
           for i = 1, n do last = {i, i + 1, x = i} end
           return last[1]
         end",
        1000,
        1000,
    );
    s.lua(
        "gc/closures_1000",
        "return function(n)
           local s = 0
           for i = 1, n do
             local f = function() return i end
             s = s + f()
           end
           return s
         end",
        1000,
        500_500,
    );
}

fn main() {
    let mut s = Suite::new();
    tables(&mut s);
    calls(&mut s);
    strings(&mut s);
    allocation(&mut s);
    s.criterion.final_summary();
}
