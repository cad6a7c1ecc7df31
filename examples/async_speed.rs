//! Speed of a CPU-bound script run synchronously (`call`) and as an async call
//! (`call_async`), which is sliced with fuel so that other tasks on the executor get turns.
//!
//! `cargo run --release --example async_speed`

use rua::{Function, Lua, Result};
use std::time::{Duration, Instant};

const SCRIPTS: [(&str, &str); 3] = [
    (
        "loop",
        "local s = 0 for i = 1, 3000000 do s = s + i % 7 end return s",
    ),
    (
        "calls",
        "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end \
         return fib(27)",
    ),
    (
        "while",
        "local i, s = 0, 0 while i < 2000000 do i = i + 1 if i % 3 == 0 then s = s + i end end \
         return s",
    ),
];

/// Best of `n` runs of `f`.
fn best(n: usize, mut f: impl FnMut() -> Result<i64>) -> Result<(Duration, i64)> {
    let mut best = Duration::MAX;
    let mut v = 0;
    for _ in 0..n {
        let t = Instant::now();
        v = f()?;
        best = best.min(t.elapsed());
    }
    Ok((best, v))
}

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let lua = Lua::new();
    println!(
        "{:<8} {:>10} {:>12} {:>8}",
        "script", "call", "call_async", "ratio"
    );
    for (name, src) in SCRIPTS {
        let f: Function = lua.load(src).into_function()?;
        let (sync, a) = best(5, || f.call::<i64>(()))?;
        let (asy, b) = best(5, || rt.block_on(f.call_async::<i64>(())))?;
        assert_eq!(a, b);
        println!(
            "{:<8} {:>8.1}ms {:>10.1}ms {:>8.2}",
            name,
            sync.as_secs_f64() * 1e3,
            asy.as_secs_f64() * 1e3,
            asy.as_secs_f64() / sync.as_secs_f64()
        );
    }
    Ok(())
}
