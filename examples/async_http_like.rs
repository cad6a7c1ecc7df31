//! 100 Lua coroutines (one async call each) await an async Rust "request" function
//! concurrently; the whole batch takes about one request's latency:
//! `cargo run --example async_http_like`.

use rua::{Function, Lua, Result};
use std::time::{Duration, Instant};

/// Stands in for an HTTP client call: waits, then answers.
async fn fake_request(path: String) -> String {
    tokio::time::sleep(Duration::from_millis(100)).await;
    format!("200 OK {path}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let lua = Lua::new();
    let get =
        lua.create_async_function(|_, path: String| async move { Ok(fake_request(path).await) })?;
    lua.globals().set("http_get", get)?;

    // A request handler written in Lua; `http_get` suspends only the calling Lua thread.
    let handler: Function = lua
        .load(
            r#"
            function(id)
                local ok, body = pcall(http_get, "/items/" .. id)
                assert(ok, body)
                return #body, body
            end
            "#,
        )
        .eval()?;

    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async {
            let tasks: Vec<_> = (0..100)
                .map(|id| tokio::task::spawn_local(handler.call_async::<(usize, String)>(id)))
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("task ran"));
            }
            out
        })
        .await;
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!("{ok}/100 requests answered in {elapsed:?} (each takes 100 ms)");
    if let Some(Ok((len, body))) = results.last() {
        println!("last: {body} ({len} bytes)");
    }
    Ok(())
}
