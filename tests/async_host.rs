//! Async host functions: a Lua thread awaiting a Rust future suspends without blocking the OS
//! thread, and many Lua calls of one state await concurrently.

use rua::interp::string::StrExt;
use rua::interp::value::Value;
use rua::interp::vm::driver::TaskFuture;
use rua::interp::vm::native::{Action, Completion, Ctx};
use rua::interp::vm::{LuaResult, State};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// `sleep(ms)`: awaits a tokio timer, then returns `ms`.
fn lua_sleep(ctx: &mut Ctx) -> LuaResult<Action> {
    let ms = ctx.check_int(1)?;
    Ok(Action::Await(Box::pin(async move {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        let done: Completion = Box::new(move |ctx: &mut Ctx| ctx.ret1(Value::Int(ms)));
        done
    })))
}

fn state_with_sleep() -> Rc<RefCell<State>> {
    let mut st = rua::new_state();
    let g = st.globals;
    st.register(g, "sleep", lua_sleep);
    Rc::new(RefCell::new(st))
}

fn load(st: &Rc<RefCell<State>>, src: &str) -> Value {
    st.borrow_mut()
        .load(src.as_bytes(), b"=test", None)
        .expect("chunk compiles")
}

#[tokio::test(flavor = "current_thread")]
async fn hundred_concurrent_sleeps_overlap() {
    let st = state_with_sleep();
    let chunk = load(
        &st,
        "return function(id) local slept = sleep(50) return id * 2, slept end",
    );
    let f = {
        let r = st.borrow_mut().call_value(chunk, &[], 1).unwrap();
        let f = r[0];
        st.borrow_mut().pin(f);
        f
    };
    let local = tokio::task::LocalSet::new();
    let started = Instant::now();
    let results = local
        .run_until(async {
            let mut handles = Vec::new();
            for id in 0..100i64 {
                let fut = TaskFuture::new(st.clone(), f, &[Value::Int(id)]);
                handles.push(tokio::task::spawn_local(async move {
                    let r = fut.await.expect("task succeeds");
                    match (r[0], r[1]) {
                        (Value::Int(v), Value::Int(s)) => (v, s),
                        other => panic!("unexpected results {:?}", other),
                    }
                }));
            }
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        })
        .await;
    let elapsed = started.elapsed();
    for (id, (v, slept)) in results.iter().enumerate() {
        assert_eq!(*v, id as i64 * 2, "result came back to the right call");
        assert_eq!(*slept, 50);
    }
    eprintln!("100 concurrent 50 ms sleeps took {:?}", elapsed);
    // Sequential execution would take 5 s; concurrency means about one sleep.
    assert!(elapsed < Duration::from_millis(2500), "took {:?}", elapsed);
}

#[tokio::test(flavor = "current_thread")]
async fn await_inside_coroutine_pcall_and_metamethod() {
    let st = state_with_sleep();
    let chunk = load(
        &st,
        r#"
        local co = coroutine.wrap(function(a)
            local ok, v = pcall(sleep, a)
            coroutine.yield(v + 1)
            local t = setmetatable({}, {__index = function(_, k) return sleep(k) end})
            return t[3]
        end)
        local first = co(5)
        local second = co()
        return first, second
        "#,
    );
    let r = TaskFuture::new(st.clone(), chunk, &[]).await.unwrap();
    assert!(matches!((r[0], r[1]), (Value::Int(6), Value::Int(3))));
}

#[test]
fn synchronous_call_of_async_function_is_an_error() {
    let st = state_with_sleep();
    let chunk = load(&st, "return pcall(sleep, 1)");
    let r = st.borrow_mut().call_value(chunk, &[], -1).unwrap();
    assert!(matches!(r[0], Value::Bool(false)));
    let msg = match r[1] {
        Value::Str(s) => s.to_str_lossy().into_owned(),
        _ => panic!("error message expected"),
    };
    assert!(msg.contains("await"), "{}", msg);
}
