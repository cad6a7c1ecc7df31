//! `Lua` across threads: compile-time `Send`/`Sync` checks of the public types, a state moved
//! between tokio worker threads and the blocking pool, concurrent use from several OS threads,
//! and allocation accounting that follows the state to another thread.

use rua::{Function, Lua, Table};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<Lua>();
    assert_send_sync::<rua::Table>();
    assert_send_sync::<rua::Function>();
    assert_send_sync::<rua::String>();
    assert_send_sync::<rua::Thread>();
    assert_send_sync::<rua::AnyUserData>();
    assert_send_sync::<rua::RegistryKey>();
    assert_send_sync::<rua::Value>();
    assert_send_sync::<rua::MultiValue>();
    assert_send_sync::<rua::Error>();
    assert_send_sync::<rua::LightUserData>();
    assert_send_sync::<rua::BorrowedBytes<'static>>();
    assert_send_sync::<rua::UserDataRef<u32>>();
    assert_send_sync::<rua::UserDataRefMut<u32>>();
    assert_send_sync::<rua::TablePairs<rua::Value, rua::Value>>();
    assert_send_sync::<rua::TableSequence<rua::Value>>();
    // The futures of async calls can be spawned on a multi-threaded executor.
    let lua = Lua::new();
    let f: Function = lua.load("function() return 1 end").eval().unwrap();
    let fut = f.call_async::<i32>(());
    assert_send(&fut);
    let chunk_fut = lua.load("return 1").eval_async::<i32>();
    assert_send(&chunk_fut);
}

fn record(ids: &Mutex<HashSet<ThreadId>>) {
    ids.lock().unwrap().insert(std::thread::current().id());
}

#[test]
fn state_moves_between_tokio_workers_and_the_blocking_pool() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let ids = Arc::new(Mutex::new(HashSet::new()));
    rt.block_on(async {
        let mut lua = Lua::new();
        let sleep = lua
            .create_async_function(|_, ms: u64| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            })
            .unwrap();
        lua.globals().set("sleep", sleep).unwrap();
        lua.load("count = 0 t = {}").exec().unwrap();
        for round in 0..6i64 {
            // A worker task: awaits inside Lua (the task may resume on another worker).
            let ids2 = ids.clone();
            let moved = lua;
            let back = tokio::spawn(async move {
                let lua = moved;
                record(&ids2);
                lua.load("sleep(1) count = count + 1 t[#t + 1] = string.rep('x', 100)")
                    .exec_async()
                    .await
                    .unwrap();
                record(&ids2);
                lua
            })
            .await
            .unwrap();
            // The blocking pool: never one of the runtime's worker threads.
            let ids2 = ids.clone();
            lua = tokio::task::spawn_blocking(move || {
                let lua = back;
                record(&ids2);
                let n: i64 = lua.load("count = count + 1 return count").eval().unwrap();
                assert_eq!(n, 2 * round + 2);
                lua
            })
            .await
            .unwrap();
            lua.gc_collect().unwrap();
            let len: i64 = lua.load("return #t").eval().unwrap();
            assert_eq!(len, round + 1);
        }
    });
    assert!(
        ids.lock().unwrap().len() >= 2,
        "the state ran on one thread only"
    );
}

#[test]
fn clones_used_from_several_threads_at_once() {
    let lua = Lua::new();
    let add = lua
        .create_function(|_, (a, b): (i64, i64)| Ok(a + b))
        .unwrap();
    lua.globals().set("add", add).unwrap();
    lua.load("total = 0").exec().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let lua = lua.clone();
            std::thread::spawn(move || {
                let t: Table = lua.create_table().unwrap();
                for j in 0..500i64 {
                    t.set(j, i * 1000 + j).unwrap();
                    // A read-modify-write of a global: atomic per call, as calls serialise.
                    lua.load("total = add(total, 1)").exec().unwrap();
                }
                t.len().unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 499);
    }
    assert_eq!(lua.globals().get::<i64>("total").unwrap(), 2000);
}

#[test]
fn host_function_waits_for_other_thread_without_deadlocking_itself() {
    // A callback may use the state re-entrantly on its own thread while another thread
    // waits for the lock.
    let lua = Lua::new();
    let nested = lua
        .create_function(|lua, ()| {
            let t = lua.create_table()?;
            t.set(1, "inner")?;
            lua.globals().set("made", t)?;
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        })
        .unwrap();
    lua.globals().set("nested", nested).unwrap();
    let other = lua.clone();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        other
            .load("return made and made[1]")
            .eval::<Option<String>>()
            .unwrap()
    });
    lua.load("nested()").exec().unwrap();
    // The other thread ran only after `nested` finished, so it saw the table.
    assert_eq!(h.join().unwrap().as_deref(), Some("inner"));
}

#[test]
fn allocation_debt_moves_with_the_state() {
    let lua = Lua::new();
    let t = lua.create_table().unwrap();
    lua.gc_collect().unwrap();
    let before = lua.used_memory();
    // Growth of an existing table is charged as allocation debt (no new objects).
    for i in 1..=50_000i64 {
        t.raw_set(i, i).unwrap();
    }
    let lua2 = lua.clone();
    let after = std::thread::spawn(move || lua2.used_memory())
        .join()
        .unwrap();
    assert!(
        after >= before + 50_000 * 16,
        "growth of {} bytes not seen on the other thread",
        after.saturating_sub(before)
    );
    // And it is not charged to another state that runs on this thread afterwards.
    let other = Lua::new();
    other.gc_collect().unwrap();
    let o1 = other.used_memory();
    for i in 1..=50_000i64 {
        t.raw_set(i + 50_000, i).unwrap();
    }
    let o2 = other.used_memory();
    assert!(
        o2 < o1 + 100_000,
        "{o1} -> {o2}: another state's growth leaked in"
    );
}
