//! `rua-jit`: Rua's tracing JIT.
//!
//! The trace recorder, IR, optimizer and Cranelift back end are not written yet. What exists is
//! the consumer side of the interpreter's [`TraceHook`] seam: [`HotLoopReport`] receives the
//! interpreter's hot-loop events and reports which loops would be traced (`rua --hot-loops`),
//! which is also how the hot-counting thresholds are checked before a recorder exists.

use rua_interp::func::FnProto;
use rua_interp::vm::hook::TraceHook;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// One hot loop: where it is and how often it crossed the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotLoop {
    /// `chunk:line` of the loop header.
    pub location: String,
    /// Number of times the loop's counter reached the threshold.
    pub times: u64,
}

/// Collects hot-loop events; clone the handle to read the report after the run.
#[derive(Clone, Default)]
pub struct HotLoopReport {
    threshold: u16,
    seen: Rc<RefCell<HashMap<String, u64>>>,
}

impl HotLoopReport {
    /// A report that considers a loop hot after `threshold` iterations (LuaJIT's default: 56).
    pub fn new(threshold: u16) -> HotLoopReport {
        HotLoopReport {
            threshold: threshold.max(1),
            seen: Rc::default(),
        }
    }

    /// Hot loops, most frequent first.
    pub fn loops(&self) -> Vec<HotLoop> {
        let mut v: Vec<HotLoop> = self
            .seen
            .borrow()
            .iter()
            .map(|(l, t)| HotLoop {
                location: l.clone(),
                times: *t,
            })
            .collect();
        v.sort_by(|a, b| b.times.cmp(&a.times).then(a.location.cmp(&b.location)));
        v
    }
}

impl TraceHook for HotLoopReport {
    fn hot_threshold(&self) -> u16 {
        self.threshold
    }

    fn hot_loop(&mut self, proto: &FnProto, pc: usize) {
        let p = &proto.proto;
        let line = p.lines.get(pc).copied().unwrap_or(0);
        let location = format!("{}:{}", rua_interp::chunkid::chunk_id(&p.source), line);
        *self.seen.borrow_mut().entry(location).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rua_interp::vm::State;

    fn run(src: &str, threshold: u16) -> Vec<HotLoop> {
        let mut st = State::new_bare();
        let report = HotLoopReport::new(threshold);
        st.hot.set_hook(Some(Box::new(report.clone())));
        let f = st.load(src.as_bytes(), b"=t", None).unwrap();
        st.call_value(f, &[], 0).unwrap();
        report.loops()
    }

    #[test]
    fn numeric_for_loop_becomes_hot() {
        let loops = run("local s = 0\nfor i = 1, 1000 do\n s = s + i\nend", 56);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].location, "t:3");
        assert_eq!(loops[0].times, 1000 / 56);
    }

    #[test]
    fn while_loop_and_cold_loop() {
        let loops = run(
            "local n = 0\nwhile n < 500 do n = n + 1 end\nfor i = 1, 10 do end",
            100,
        );
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].location, "t:2");
        assert_eq!(loops[0].times, 5);
    }

    // Each kind of back-edge counts once per iteration: a generic `for` (TFORLOOP) with
    // `ipairs` and `next` run inline or with an iterator called, and a float `for`.
    #[test]
    fn generic_and_float_for_loops_become_hot() {
        let fill = "local t = {}\nfor i = 1, 1000 do t[i] = i end\n";
        for body in [
            "for _, v in ipairs(t) do end",
            "for k in pairs(t) do end",
            "for w in string.gmatch(string.rep('a ', 1000), 'a') do end",
            "for x = 0.5, 1000.5 do end",
        ] {
            let mut st = State::new_bare();
            rua_interp::stdlib::open_all(&mut st);
            let report = HotLoopReport::new(56);
            st.hot.set_hook(Some(Box::new(report.clone())));
            let src = format!("{fill}{body}");
            let f = st.load(src.as_bytes(), b"=t", None).unwrap();
            st.call_value(f, &[], 0).unwrap();
            let times = report.loops().into_iter().find(|l| l.location == "t:3");
            assert_eq!(times.map(|l| l.times), Some(1000 / 56), "{body}");
        }
    }
}
