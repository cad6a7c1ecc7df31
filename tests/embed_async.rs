//! Async host functions through the embedding API: where awaits work, concurrency, and
//! cancellation by dropping the call's future.

use rua::{Error, Function, Lua};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{lua_with_sleep, set_wait_forever};

#[tokio::test(flavor = "current_thread")]
async fn await_in_plain_code_and_pcall() {
    let lua = lua_with_sleep();
    let v: i64 = lua
        .load("return sleep(1, 20) + 1")
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, 21);
    let (ok, v): (bool, i64) = lua
        .load("return pcall(sleep, 1, 5)")
        .eval_async()
        .await
        .unwrap();
    assert!(ok && v == 5);
    // An async function's error is catchable by pcall after the await.
    let fail = lua
        .create_async_function(|_, ()| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Err::<(), _>(Error::runtime("late failure"))
        })
        .unwrap();
    lua.globals().set("fail", fail).unwrap();
    let (ok, msg): (bool, String) = lua
        .load("local ok, e = pcall(fail) return ok, tostring(e)")
        .eval_async()
        .await
        .unwrap();
    assert!(!ok);
    assert!(msg.contains("late failure"), "{msg}");
    let e = lua.load("fail()").exec_async().await.unwrap_err();
    assert!(matches!(e, Error::CallbackError { .. }), "{e:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn await_in_metamethods_and_coroutines() {
    let lua = lua_with_sleep();
    let v: String = lua
        .load(
            r#"
            local t = setmetatable({}, {__index = function(_, k) return sleep(1, k .. '!') end})
            local co = coroutine.wrap(function() coroutine.yield(sleep(1, 'y')) end)
            return t.x .. co()
            "#,
        )
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, "x!y");
}

#[tokio::test(flavor = "current_thread")]
async fn await_in_tostring_metamethod() {
    let lua = lua_with_sleep();
    let v: String = lua
        .load("return tostring(setmetatable({}, {__tostring = function() return sleep(1, 'obj') end}))")
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, "obj");
}

/// Library functions that still call Lua through a nested VM run (`__index` metamethods
/// reached from `table.move` or from the reading of `table.sort` on a proxy) refuse an await
/// with a clear error instead of blocking or misbehaving; the rest of the call is unaffected.
/// (`string.format`, `gsub`, `table.sort` order functions and `__lt`, and the proxies of
/// `table.insert/remove/concat/unpack` await: see tests/async_library.rs.)
#[tokio::test(flavor = "current_thread")]
async fn nested_library_calls_refuse_awaits_cleanly() {
    let lua = lua_with_sleep();
    let cases = [
        "local p = setmetatable({}, {__index = function(_, k) return sleep(0, k) end}) \
         local d = table.move(p, 1, 2, 1, {}) return tostring(d[1])",
        "local p = setmetatable({}, {__len = function() return 2 end, \
         __index = function(_, k) return sleep(0, k) end, __newindex = function() end}) \
         table.sort(p) return 'sorted'",
    ];
    for src in cases {
        let e = lua.load(src).eval_async::<String>().await.unwrap_err();
        assert!(e.to_string().contains("C-call boundary"), "{src}: {e}");
        let ok: bool = lua
            .load(format!("return not pcall(function() {src} end)"))
            .eval_async()
            .await
            .unwrap();
        assert!(ok, "{src}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn await_at_the_top_level_of_a_required_module() {
    let lua = lua_with_sleep();
    lua.load(
        "package.preload['slowmod'] = function(name) local v = sleep(1, 41) return { answer = v + 1, name = name } end",
    )
    .exec()
    .unwrap();
    let (a, n): (i64, String) = lua
        .load("local m = require('slowmod') return m.answer, m.name")
        .eval_async()
        .await
        .unwrap();
    assert_eq!((a, n.as_str()), (42, "slowmod"));
}

#[test]
fn sync_call_of_async_function_is_a_clear_error() {
    let lua = lua_with_sleep();
    let e = lua.load("sleep(1, 1)").exec().unwrap_err();
    assert!(matches!(e, Error::AwaitOutsideAsync(_)), "{e:?}");
    assert!(e.to_string().contains("await"), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn hundred_concurrent_calls_take_about_one_sleep() {
    let lua = lua_with_sleep();
    let handler: Function = lua
        .load("function(id) local r = sleep(100, id) return r * 2 end")
        .eval()
        .unwrap();
    let started = Instant::now();
    let calls = (0..100).map(|id| handler.call_async::<i64>(id));
    let results = futures_join_all(calls).await;
    let elapsed = started.elapsed();
    for (id, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), id as i64 * 2);
    }
    eprintln!("100 concurrent 100 ms awaits: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

/// Polls all futures concurrently on the current task (a tiny join_all).
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, slot) in futs.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

struct DropCounter(Arc<AtomicU32>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_call_drops_the_host_future_at_once() {
    let lua = Lua::new();
    let drops = Arc::new(AtomicU32::new(0));
    let d = drops.clone();
    let wait_forever = lua
        .create_async_function(move |_, ()| {
            let guard = DropCounter(d.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .unwrap();
    lua.globals().set("wait_forever", wait_forever).unwrap();
    let f: Function = lua
        .load("weak = setmetatable({}, {__mode = 'k'}) return function() local t = setmetatable({}, {__index = function() return wait_forever() end}) weak[t] = true return pcall(function() return t.x end) end")
        .eval()
        .unwrap();
    let mut call = Box::pin(f.call_async::<()>(()));
    // Poll once: the call runs until it awaits.
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(polled.is_pending());
    assert_eq!(drops.load(SeqCst), 0);
    drop(call);
    assert_eq!(drops.load(SeqCst), 1, "host future dropped with the call");
    // The state is fine and the cancelled task's thread is released.
    assert_eq!(lua.load("1 + 1").eval::<i32>().unwrap(), 2);
    // Nothing of the cancelled call stays reachable: its locals are collected.
    let alive: bool = lua
        .load("collectgarbage() collectgarbage() return next(weak) ~= nil")
        .eval()
        .unwrap();
    assert!(!alive, "the cancelled task's thread was released");
}

#[tokio::test(flavor = "current_thread")]
async fn host_futures_may_call_back_into_lua() {
    let lua = Lua::new();
    let f = lua
        .create_async_function(|lua, n: i64| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            // Use the state while the task is suspended.
            let double: Function = lua.globals().get("double")?;
            double.call_async::<i64>(n).await
        })
        .unwrap();
    lua.globals().set("via_rust", f).unwrap();
    lua.load("function double(x) return x * 2 end")
        .exec()
        .unwrap();
    assert_eq!(
        lua.load("via_rust(21)").eval_async::<i64>().await.unwrap(),
        42
    );
}

/// Runs `futs` concurrently on the current task, recording the order in which they finish.
async fn finishing_order<F: std::future::Future<Output = ()>>(futs: Vec<(usize, F)>) -> Vec<usize> {
    let order = std::sync::Mutex::new(Vec::new());
    futures_join_all(futs.into_iter().map(|(i, f)| {
        let order = &order;
        async move {
            f.await;
            order.lock().unwrap().push(i);
        }
    }))
    .await;
    order.into_inner().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_busy_script_does_not_starve_a_sleeping_one() {
    let lua = lua_with_sleep();
    // Polled first, so without fuel slices it would run to completion before the sleeper's
    // timer is even looked at.
    let busy = lua.load("local x = 0 for i = 1, 20000000 do x = x + i % 7 end return x");
    let sleeper = lua.load("return sleep(2, 'awake')");
    let busy = async {
        let v: i64 = busy.eval_async().await.unwrap();
        assert_eq!(v, (1..=20_000_000i64).map(|i| i % 7).sum::<i64>());
    };
    let sleeper = async {
        let v: String = sleeper.eval_async().await.unwrap();
        assert_eq!(v, "awake");
    };
    let order = finishing_order(vec![
        (
            0,
            Box::pin(busy) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
        ),
        (1, Box::pin(sleeper)),
    ])
    .await;
    assert_eq!(
        order,
        vec![1, 0],
        "the sleeper finishes while the busy loop runs"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn preempted_calls_keep_their_state_across_slices() {
    let lua = lua_with_sleep();
    // Coroutines, pcall and metamethods span many slices; results must be exact.
    let src = r#"
        local co = coroutine.wrap(function()
            for i = 1, 30000 do coroutine.yield(i) end
        end)
        local sum = 0
        for _ = 1, 30000 do sum = sum + co() end
        local ok, inner = pcall(function()
            local t = setmetatable({}, {__index = function(_, k) return k * 2 end})
            local s = 0
            for i = 1, 30000 do s = s + t[i] end
            return s
        end)
        local strs = {}
        for i = 1, 2000 do strs[#strs + 1] = tostring(i) end
        return sum, ok, inner, #table.concat(strs)
    "#;
    let calls = (0..3).map(|_| lua.load(src).eval_async::<(i64, bool, i64, i64)>());
    for r in futures_join_all(calls).await {
        assert_eq!(r.unwrap(), (450015000, true, 900030000, 6893));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn instruction_limit_still_applies_to_async_calls() {
    let lua = lua_with_sleep();
    lua.set_instruction_limit(Some(200_000)).unwrap();
    let e = lua
        .load("while true do pcall(function() while true do end end) end")
        .exec_async()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InstructionLimitExceeded), "{e}");
    // A script under the limit spans several slices and completes.
    lua.set_instruction_limit(Some(200_000)).unwrap();
    let v: i64 = lua
        .load("local x = 0 for i = 1, 40000 do x = x + 1 end return x")
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, 40000);
    lua.set_instruction_limit(None).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn cancelling_a_call_runs_close_handlers_and_closes_upvalues() {
    let lua = lua_with_sleep();
    set_wait_forever(&lua);
    let f: Function = lua
        .load(
            r#"
            log = {}
            local function closer(name)
                return setmetatable({}, {__close = function(_, e)
                    log[#log + 1] = name .. ':' .. tostring(e)
                    -- Awaiting is not allowed while a cancelled call unwinds.
                    local ok, err = pcall(sleep, 1, 'x')
                    log[#log + 1] = name .. ' await ' .. tostring(ok) .. ' ' .. tostring(err)
                end})
            end
            return function()
                local outer <close> = closer('outer')
                local x = 'outer value'
                get_x = function() return x end
                co = coroutine.create(function()
                    local inner <close> = closer('inner')
                    local y = 'inner value'
                    get_y = function() return y end
                    pcall(wait_forever)
                end)
                coroutine.resume(co)
            end
            "#,
        )
        .eval()
        .unwrap();
    let mut call = Box::pin(f.call_async::<()>(()));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(polled.is_pending());
    assert_eq!(lua.load("#log").eval::<i64>().unwrap(), 0);
    drop(call);
    let log: Vec<String> = lua.load("log").eval().unwrap();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[0], "inner:cancelled");
    assert!(
        log[1].starts_with("inner await false attempt to await an async host function"),
        "{}",
        log[1]
    );
    assert_eq!(log[2], "outer:cancelled");
    assert!(log[3].starts_with("outer await false"), "{}", log[3]);
    // Upvalues of both threads were closed before their stacks were released.
    let (x, y): (String, String) = lua.load("get_x(), get_y()").eval().unwrap();
    assert_eq!((x.as_str(), y.as_str()), ("outer value", "inner value"));
    // The coroutine died with the cancellation error.
    let (status, ok, err): (String, bool, String) = lua
        .load("return coroutine.status(co), coroutine.close(co)")
        .eval()
        .unwrap();
    assert_eq!(
        (status.as_str(), ok, err.as_str()),
        ("dead", false, "cancelled")
    );
    // The state keeps working, also for async calls.
    assert_eq!(
        lua.load("sleep(1, 5)").eval_async::<i64>().await.unwrap(),
        5
    );
}

#[tokio::test(flavor = "current_thread")]
async fn cancelling_a_preempted_call_runs_its_close_handlers() {
    let lua = Lua::new();
    let f: Function = lua
        .load(
            r#"
            closed = nil
            return function()
                local guard <close> = setmetatable({}, {__close = function(_, e) closed = tostring(e) end})
                while true do end
            end
            "#,
        )
        .eval()
        .unwrap();
    let mut call = Box::pin(f.call_async::<()>(()));
    // A few slices of the infinite loop.
    for _ in 0..3 {
        let p = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        assert!(p.is_pending());
    }
    drop(call);
    assert_eq!(
        lua.globals()
            .get::<Option<String>>("closed")
            .unwrap()
            .as_deref(),
        Some("cancelled")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn values_in_flight_survive_collections_between_slices() {
    // Slices end at arbitrary instructions, e.g. between VARARG and the CALL consuming its
    // values (which lie above the frame's registers). Another task collecting garbage while
    // the first is suspended must not lose them.
    let lua = Lua::new();
    let src = r#"
        local function count(...)
            local t = {...}
            local s = 0
            for i = 1, #t do s = s + t[i][1] end
            return s
        end
        local function pass(...) return count(...) end
        local args = {}
        for i = 1, 60 do args[i] = {i} end
        local total = 0
        for _ = 1, 100000 do total = total + pass(table.unpack(args)) end
        return total
    "#;
    let collector = async {
        let f: Function = lua
            .load("return function() for i = 1, 3000 do collectgarbage() for j = 1, 3000 do end end end")
            .eval()
            .unwrap();
        f.call_async::<()>(()).await.unwrap();
    };
    let worker = async {
        let v: i64 = lua.load(src).eval_async().await.unwrap();
        assert_eq!(v, 100_000 * (60 * 61 / 2));
    };
    let futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> =
        vec![Box::pin(worker), Box::pin(collector)];
    futures_join_all(futs.into_iter()).await;
}

/// Polls `fut` to completion on this task, counting the polls that returned `Pending`.
async fn count_pending<F: std::future::Future>(fut: F) -> (F::Output, usize) {
    let mut fut = Box::pin(fut);
    let mut pending = 0;
    loop {
        let p = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        match p {
            std::task::Poll::Ready(v) => return (v, pending),
            std::task::Poll::Pending => pending += 1,
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_fuel_slices_loops_calls_and_tail_calls() {
    let lua = Lua::new();
    assert_eq!(lua.async_fuel(), Some(10_000), "documented default");
    // Each kind of endless computation is sliced: loops (numeric for, while), recursion,
    // tail calls in the fast loop, and vararg tail calls that go through the slow path.
    let scripts = [
        "local n = 0 for i = 1, 200000 do n = n + 1 end return n",
        "local n = 0 while n < 200000 do n = n + 1 end return n",
        "local function f(d) if d == 0 then return 0 end return 1 + f(d - 1) end \
         local n = 0 for _ = 1, 20 do n = n + f(10000) end return n",
        "local function f(d, acc) if d == 0 then return acc end return f(d - 1, acc + 1) end \
         return f(200000, 0)",
        "local function f(d, ...) if d == 0 then return select('#', ...) + 199999 end \
         return f(d - 1, ...) end return f(200000, 1)",
    ];
    for src in scripts {
        lua.set_async_fuel(Some(1000));
        let (v, pending) = count_pending(lua.load(src).eval_async::<i64>()).await;
        assert_eq!(v.unwrap(), 200_000, "{src}");
        assert!(pending >= 100, "{src}: only {pending} slices");
        lua.set_async_fuel(None);
        let (v, pending) = count_pending(lua.load(src).eval_async::<i64>()).await;
        assert_eq!((v.unwrap(), pending), (200_000, 0), "{src}");
    }
    // Under an instruction limit the fuel counts instructions.
    lua.set_instruction_limit(Some(10_000_000)).unwrap();
    lua.set_async_fuel(Some(1000));
    let (v, pending) = count_pending(lua.load(scripts[0]).eval_async::<i64>()).await;
    assert_eq!(v.unwrap(), 200_000);
    assert!(pending >= 400, "{pending}");
    lua.set_instruction_limit(None).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn without_async_fuel_a_busy_script_runs_to_completion_first() {
    let lua = lua_with_sleep();
    lua.set_async_fuel(None);
    let busy = lua.load("local x = 0 for i = 1, 2000000 do x = x + i % 7 end return x");
    let sleeper = lua.load("return sleep(0, 'awake')");
    let busy = async {
        busy.eval_async::<i64>().await.unwrap();
    };
    let sleeper = async {
        sleeper.eval_async::<String>().await.unwrap();
    };
    let order = finishing_order(vec![
        (
            0,
            Box::pin(busy) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
        ),
        (1, Box::pin(sleeper)),
    ])
    .await;
    assert_eq!(order, vec![0, 1]);
}

#[tokio::test(flavor = "current_thread")]
async fn close_errors_during_cancellation_reach_the_handler() {
    let lua = Lua::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    lua.set_cancel_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
    set_wait_forever(&lua);
    // Two threads of one task (a coroutine awaiting inside), each with failing handlers: the
    // last error of each thread is reported, innermost first; a handler that succeeds
    // reports nothing.
    let f: Function = lua
        .load(
            r#"
            local function closer(msg)
              return setmetatable({}, {__close = function(_, e)
                if msg then error(msg .. ' after ' .. tostring(e), 0) end
              end})
            end
            return function()
              local a <close> = closer('outer')
              local b <close> = closer(nil)
              local co = coroutine.wrap(function()
                local c <close> = closer('inner first')
                local d <close> = closer('inner second')
                wait_forever()
              end)
              co()
            end
            "#,
        )
        .eval()
        .unwrap();
    let mut call = Box::pin(f.call_async::<()>(()));
    let p = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(p.is_pending());
    drop(call);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "runtime error: inner first after inner second after cancelled",
            "runtime error: outer after cancelled",
        ]
    );
    // A cancellation whose handlers succeed reports nothing.
    let g: Function = lua
        .load("return function() local x <close> = setmetatable({}, {__close = function() end}) wait_forever() end")
        .eval()
        .unwrap();
    let mut call = Box::pin(g.call_async::<()>(()));
    let p = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(p.is_pending());
    drop(call);
    assert_eq!(seen.lock().unwrap().len(), 2);
}
