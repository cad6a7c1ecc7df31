//! Sandboxing limits of `State`: the instruction budget (uncatchable from Lua, also charged by
//! long-running library functions) and the memory limit ("not enough memory", catchable).

use rua_interp::string::StrExt;
use rua_interp::value::Value;
use rua_interp::vm::{ErrorKind, LuaError, State};

fn state() -> State {
    let mut st = State::new_bare();
    rua_interp::stdlib::open_all(&mut st);
    st
}

fn run(st: &mut State, src: &str) -> Result<Vec<Value>, LuaError> {
    let f = st.load(src.as_bytes(), b"=test", None)?;
    st.call_value(f, &[], -1)
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("expected an integer, got {:?}", other.type_name()),
    }
}

fn string(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_str_lossy().into_owned(),
        other => panic!("expected a string, got {:?}", other.type_name()),
    }
}

fn assert_instruction_limit(r: Result<Vec<Value>, LuaError>) {
    let e = r.expect_err("the script should have been stopped");
    assert_eq!(
        e.kind(),
        ErrorKind::InstructionLimit,
        "error: {}",
        e.message()
    );
    assert!(
        e.message().contains("instruction limit exceeded"),
        "message: {}",
        e.message()
    );
}

#[test]
fn infinite_loop_is_stopped() {
    let mut st = state();
    st.set_instruction_limit(Some(100_000));
    assert_instruction_limit(run(&mut st, "local n = 0 while true do n = n + 1 end"));
    assert_eq!(st.instructions_remaining(), Some(0));
}

#[test]
fn pcall_cannot_swallow_the_limit() {
    let mut st = state();
    st.set_instruction_limit(Some(200_000));
    assert_instruction_limit(run(
        &mut st,
        "while true do pcall(function() while true do end end) end",
    ));
    // Nor can xpcall (its handler does not run), error(), coroutines or close handlers.
    for src in [
        "local handled = 0
         while true do
           xpcall(function() while true do end end, function(m) handled = handled + 1 return m end)
         end",
        "while true do
           local co = coroutine.create(function() while true do end end)
           coroutine.resume(co)
         end",
        "while true do
           pcall(coroutine.wrap(function() while true do end end))
         end",
        "while true do
           pcall(function()
             local x <close> = setmetatable({}, {__close = function() error('replaced') end})
             while true do end
           end)
         end",
        "while true do pcall(string.gsub, ('x'):rep(100), 'x', function() while true do end end) end",
        "while true do pcall(load, function() while true do end end) end",
    ] {
        st.set_instruction_limit(Some(200_000));
        assert_instruction_limit(run(&mut st, src));
    }
}

#[test]
fn close_handlers_run_while_unwinding() {
    let mut st = state();
    st.set_instruction_limit(Some(100_000));
    // table.insert as the __close metamethod: a native handler that records the error it
    // receives without needing any instruction budget.
    let r = run(
        &mut st,
        "log = {}
         pcall(function()
           local c <close> = setmetatable(log, {__close = table.insert})
           while true do end
         end)",
    );
    assert_instruction_limit(r);
    st.set_instruction_limit(None);
    let r = run(&mut st, "return #log, log[1]").unwrap();
    assert_eq!(int(&r[0]), 1);
    assert!(string(&r[1]).contains("instruction limit exceeded"));
}

#[test]
fn pathological_pattern_is_stopped() {
    let mut st = state();
    // Exponential backtracking: would run for ages without a limit.
    st.set_instruction_limit(Some(5_000_000));
    let r = run(
        &mut st,
        "return string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')",
    );
    assert_instruction_limit(r);
    // Also inside pcall, and through gmatch/gsub/match.
    for src in [
        "return pcall(string.find, ('a'):rep(40), ('a*'):rep(40) .. 'b')",
        "return pcall(string.match, ('a'):rep(40), ('a*'):rep(40) .. 'b')",
        "for m in string.gmatch(('a'):rep(40), ('a*'):rep(40) .. 'b') do end",
        "return pcall(string.gsub, ('a'):rep(40), ('a*'):rep(40) .. 'b', '')",
    ] {
        st.set_instruction_limit(Some(5_000_000));
        assert_instruction_limit(run(&mut st, src));
    }
}

#[test]
fn long_library_calls_are_charged() {
    let mut st = state();
    for src in [
        // A huge repetition is refused up front (it would cost more than the budget).
        "return #string.rep('x', 1 << 30)",
        "local t = {} for i = 1, 1000 do t[i] = ('y'):rep(1000) end
         while true do pcall(table.concat, t) end",
        "local t = {} for i = 1, 20000 do t[i] = (i * 7919) % 20011 end
         while true do pcall(table.sort, t) end",
    ] {
        st.set_instruction_limit(Some(1_000_000));
        assert_instruction_limit(run(&mut st, src));
    }
}

#[test]
fn state_is_usable_after_the_limit_is_reset_or_removed() {
    let mut st = state();
    st.set_instruction_limit(Some(10_000));
    assert_instruction_limit(run(&mut st, "x = 0 while true do x = x + 1 end"));
    // Still exhausted: nothing runs.
    assert_instruction_limit(run(&mut st, "return 1"));
    // A new budget: small scripts run, and count against it.
    st.set_instruction_limit(Some(10_000));
    let r = run(&mut st, "return x > 0").unwrap();
    assert!(matches!(r[0], Value::Bool(true)));
    let left = st.instructions_remaining().unwrap();
    assert!(left < 10_000 && left > 9_000, "left: {}", left);
    // Removing the limit: long loops complete.
    st.set_instruction_limit(None);
    assert_eq!(st.instructions_remaining(), None);
    let r = run(
        &mut st,
        "local n = 0 for i = 1, 3000000 do n = n + 1 end return n",
    )
    .unwrap();
    assert_eq!(int(&r[0]), 3_000_000);
}

#[test]
fn budget_is_shared_by_all_threads() {
    let mut st = state();
    let src = "local n = 0
         local function spin() for i = 1, 100 do n = n + 1 end end
         local cos = {}
         for i = 1, 100 do cos[i] = coroutine.wrap(function() while true do spin() coroutine.yield() end end) end
         while true do for i = 1, 100 do cos[i]() end end";
    st.set_instruction_limit(Some(1_000_000));
    assert_instruction_limit(run(&mut st, src));
    // Budget big enough: a finite program under a limit behaves as without one.
    st.set_instruction_limit(Some(50_000_000));
    let r = run(
        &mut st,
        "local co = coroutine.wrap(function() for i = 1, 10 do coroutine.yield(i) end end)
         local s = 0 for i = 1, 10 do s = s + co() end return s",
    )
    .unwrap();
    assert_eq!(int(&r[0]), 55);
}

#[test]
fn memory_limit_error_is_catchable_and_state_usable() {
    let mut st = state();
    let base = st.memory_in_use();
    st.set_memory_limit(Some(base + (4 << 20)));
    assert_eq!(st.memory_limit(), Some(base + (4 << 20)));
    // Table growth, string building and string.rep all hit the limit; pcall catches it.
    for src in [
        "local t = {} for i = 1, 1e8 do t[i] = i end",
        "local t = {} for i = 1, 1e8 do t[i] = {} end",
        "local s = 'x' for i = 1, 100 do s = s .. s .. 'y' end",
        "local s = '' for i = 1, 1e8 do s = s .. ('y'):rep(100000) end",
        "local t = {} for i = 1, 1e8 do t[i] = tostring(i) .. 'abcdefghijklmnop' end",
        "return string.rep('x', 100 << 20)",
        "local t = {} for i = 1, 100 do t[i] = ('z'):rep(100000) end return table.concat(t)",
        "return string.format('%s%s', ('z'):rep(3 << 20), ('z'):rep(3 << 20))",
        "local a = ('a'):rep(1 << 20) return (a:gsub('a', 'bbbbbbbb'))",
    ] {
        let r = run(&mut st, &format!("return pcall(function() {} end)", src))
            .unwrap_or_else(|e| panic!("{}: uncaught {}", src, e.message()));
        assert!(matches!(r[0], Value::Bool(false)), "{}: no error", src);
        assert_eq!(string(&r[1]), "not enough memory", "{}", src);
        // The state is usable afterwards: garbage from the failed attempt is collected.
        let r = run(
            &mut st,
            "local t = {} for i = 1, 1000 do t[i] = i end return #t",
        )
        .unwrap();
        assert_eq!(int(&r[0]), 1000);
        assert!(st.memory_in_use() <= base + (4 << 20));
    }
    // Uncaught, it reaches the host as a memory error.
    let e = run(&mut st, "local t = {} for i = 1, 1e8 do t[i] = i end").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Memory);
    assert_eq!(e.message(), "not enough memory");
    // xpcall's handler does not run for memory errors (as PUC).
    let r = run(
        &mut st,
        "return xpcall(function() return ('x'):rep(100 << 20) end, function(m) return 'handled' end)",
    )
    .unwrap();
    assert_eq!(string(&r[1]), "not enough memory");
    // Removing the limit: the same allocation succeeds.
    st.set_memory_limit(None);
    assert_eq!(st.memory_limit(), None);
    let r = run(&mut st, "return #string.rep('x', 100 << 20)").unwrap();
    assert_eq!(int(&r[0]), 100 << 20);
}

#[test]
fn memory_limit_collects_garbage_before_failing() {
    let mut st = state();
    let base = st.memory_in_use();
    st.set_memory_limit(Some(base + (8 << 20)));
    // Each string is garbage soon after: total allocation far above the limit succeeds.
    let r = run(
        &mut st,
        "local n = 0
         for i = 1, 200 do local s = ('x'):rep(1 << 20) n = n + #s end
         for i = 1, 200000 do local t = {i, i, i} n = n + #t end
         return n",
    )
    .unwrap();
    assert_eq!(int(&r[0]), 200 * (1 << 20) + 600_000);
    // Also while the collector is stopped by the script.
    let r = run(
        &mut st,
        "collectgarbage('stop')
         local n = 0
         for i = 1, 100 do n = n + #(('x'):rep(1 << 20)) end
         collectgarbage('restart')
         return n",
    )
    .unwrap();
    assert_eq!(int(&r[0]), 100 << 20);
}

#[test]
fn huge_sizes_are_lua_errors_without_limits() {
    let mut st = state();
    let r = run(
        &mut st,
        "local ok, m = pcall(string.rep, 'x', 1 << 40) return m",
    )
    .unwrap();
    assert!(string(&r[0]).contains("resulting string too large"));
    // A proxy claiming a huge length: under a memory limit, sort refuses it at once.
    let used = st.memory_in_use();
    st.set_memory_limit(Some(used + (64 << 20)));
    let r = run(
        &mut st,
        "local t = setmetatable({}, {__len = function() return (1 << 31) - 2 end,
                                      __index = function() return 1 end})
         return pcall(table.sort, t)",
    )
    .unwrap();
    assert!(matches!(r[0], Value::Bool(false)));
    assert_eq!(string(&r[1]), "not enough memory");
}

#[test]
fn limits_do_not_change_results() {
    let src = "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end
               local t = {} for i = 1, 1000 do t[i] = tostring(i) end
               return fib(20) + #table.concat(t) + select(2, string.gsub(('ab'):rep(100), 'a', 'c'))";
    let mut st = state();
    let plain = int(&run(&mut st, src).unwrap()[0]);
    st.set_instruction_limit(Some(u64::MAX / 2));
    st.set_memory_limit(Some(1 << 30));
    let limited = int(&run(&mut st, src).unwrap()[0]);
    assert_eq!(plain, limited);
    assert_eq!(plain, 6765 + 2893 + 100);
}
