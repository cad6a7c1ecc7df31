//! Measures collector pauses: builds a large live heap (`N` tables, default 1e6), then
//! allocates garbage while mutating the live data, and reports the pauses of the collections
//! that ran during the garbage phase, per mode. Not a test: timings vary with the machine.
//!
//! `cargo run --release --example gc_pauses [N]`

use rua::interp::stdlib::open_all;
use rua::interp::value::Value;
use rua::interp::vm::{GcMode, State};

const SETUP: &str = r#"
local n = ...
live = {}
for i = 1, n do live[i] = {i} end
collectgarbage()
collectgarbage()
"#;

const GARBAGE: &str = r#"
local n = ...
for round = 1, 60 do
  for j = 1, 20000 do local _ = {j, j} end          -- garbage
  for j = 1, 200 do live[(round * 200 + j) % n + 1][1] = {j} end  -- old tables get young values
end
"#;

fn run(mode: GcMode, n: i64) {
    let mut st = State::new_bare();
    open_all(&mut st);
    st.set_gc_mode(mode);
    let arg = [Value::Int(n)];
    let setup = st.load(SETUP.as_bytes(), b"=setup", None).expect("load");
    st.call_value(setup, &arg, 0).expect("setup");
    let garbage = st
        .load(GARBAGE.as_bytes(), b"=garbage", None)
        .expect("load");
    st.gc.pause_log = Some(Vec::new());
    st.call_value(garbage, &arg, 0).expect("run");
    let log = st.gc.pause_log.take().unwrap();
    let heap_mb = st.heap.bytes() as f64 / 1048576.0;
    for kind in [true, false] {
        let mut v: Vec<u64> = log
            .iter()
            .filter(|(_, m)| *m == kind)
            .map(|(t, _)| *t)
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        println!(
            "{:?} {}: {} collections, median {:.3} ms, max {:.3} ms (heap {:.0} MiB)",
            mode,
            if kind { "minor" } else { "full" },
            v.len(),
            v[v.len() / 2] as f64 / 1e6,
            v[v.len() - 1] as f64 / 1e6,
            heap_mb
        );
    }
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    run(GcMode::Incremental, n);
    run(GcMode::Generational, n);
}
