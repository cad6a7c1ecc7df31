//! Garbage-collection policy: when to collect, what the roots are, and the Lua-specific
//! phases around the heap's mark & sweep (weak tables in Lua's order, string interner,
//! `__gc` finalizers with resurrection).
//!
//! Collections are stop-the-world and run only at VM safepoints, in one of two modes:
//! * incremental (named after Lua's mode; here each cycle is a full mark & sweep): the next
//!   collection starts when the heap has grown to `pause`% of the bytes that survived the last
//!   one;
//! * generational: minor collections (young objects only, see `rua_gc`) whenever the heap has
//!   grown by `minormul`% (at least [`MIN_MINOR_GROWTH`]) since the last collection, and a major (full)
//!   collection instead when it has grown by `majormul`% over its size after the last major.
//!   Weak tables and finalizers in minor cycles: only young objects can be found dead (old
//!   ones stay until the next major), so weak entries to young objects are cleared and young
//!   objects with `__gc` are finalized; the rest is handled by majors.

use crate::string::StrExt;
use crate::value::Value;
use crate::vm::{GcMode, State, Tm};
use rua_gc::Heap;

/// Generational mode: the least growth of the heap between two minor collections. PUC Lua's
/// young generation is `genminormul` (20%) of the heap, however small; a floor keeps tiny
/// heaps from collecting constantly, and 256 KiB keeps the young garbage of small programs
/// (strings, closures) to a fraction of the process's footprint (with 1 MiB, string-heavy
/// programs peaked at 2-3x PUC's RSS).
pub const MIN_MINOR_GROWTH: usize = 256 << 10;

/// Collector state and tuning.
pub struct GcState {
    /// Collect when the heap holds more than this many bytes.
    pub threshold: usize,
    /// Growth factor in percent (Lua's `pause`, default 200).
    pub pause: usize,
    pub stepmul: usize,
    /// `false` after `collectgarbage("stop")`.
    pub running: bool,
    pub mode: GcMode,
    /// Objects (tables, userdata) whose metatable had `__gc` when it was set.
    pub finobj: Vec<Value>,
    /// Objects found unreachable, waiting for their finalizer.
    pub tobefnz: Vec<Value>,
    /// `true` while finalizers run (no nested collections).
    pub in_finalizer: bool,
    /// `true` once the state is being closed ([`State::close_state`]).
    pub closing: bool,
    pub collections: u64,
    /// Stress mode: collect at every safepoint (for testing rooting).
    pub stress: bool,
    /// The host's memory limit (`usize::MAX`: none): safepoints act when the heap is over it
    /// even while the collector is stopped.
    pub limit: usize,
    /// Generational mode: minor collection after this % of growth (Lua's `genminormul`).
    pub minormul: usize,
    /// Generational mode: major collection after this % of growth over the heap after the
    /// last major (Lua's `genmajormul`).
    pub majormul: usize,
    /// Bytes live after the last major (full) collection.
    pub major_base: usize,
    /// Generational mode was just entered: the next collection must be a major one (objects
    /// only become old when a full collection marks them).
    pub need_major: bool,
    pub minor_collections: u64,
    /// When `Some`, every collection's duration in nanoseconds and whether it was a minor
    /// one (for measuring pauses).
    pub pause_log: Option<Vec<(u64, bool)>>,
}

impl GcState {
    pub fn new() -> GcState {
        GcState {
            // The first collection: the heap a state starts with is about 30 KiB.
            threshold: MIN_MINOR_GROWTH,
            pause: 200,
            stepmul: 100,
            running: true,
            mode: GcMode::Incremental,
            finobj: Vec::new(),
            tobefnz: Vec::new(),
            in_finalizer: false,
            closing: false,
            collections: 0,
            stress: false,
            limit: usize::MAX,
            minormul: 20,
            majormul: 100,
            major_base: 0,
            need_major: false,
            minor_collections: 0,
            pause_log: None,
        }
    }

    /// Cheap check done at safepoints.
    #[inline]
    pub fn should_collect(&self, heap: &mut Heap) -> bool {
        let b = heap.bytes();
        (self.running && (self.stress || b > self.threshold)) || b > self.limit
    }
}

impl Default for GcState {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// A collection triggered by allocation at a safepoint. Fails with "not enough memory"
    /// when the heap stays over the memory limit (see [`crate::vm::limits`]).
    pub fn collect_step(&mut self) -> crate::vm::LuaResult<()> {
        if self.gc.in_finalizer {
            // Postpone: raise the threshold a little to avoid re-checking constantly.
            self.gc.threshold = self.heap.bytes() + (1 << 20);
        } else if self.gc.running {
            self.gc_step();
        }
        self.enforce_memory_limit(0)
    }

    /// One collection as the mode's pacing asks for: full in incremental mode; minor or major
    /// in generational mode. Then pending finalizers.
    pub fn gc_step(&mut self) {
        let major = match self.gc.mode {
            GcMode::Incremental => true,
            GcMode::Generational => {
                let limit = self.gc.major_base / 100 * (100 + self.gc.majormul);
                // Under stress (a minor at every safepoint) objects held in registers across
                // two safepoints get promoted early; a periodic major keeps loops that wait for
                // such an object to be collected from running forever.
                let stress_major = self.gc.stress && self.gc.collections % 16 == 15;
                self.gc.need_major || stress_major || self.heap.bytes() > limit.max(1 << 20)
            }
        };
        self.collect_garbage(!major);
        self.run_finalizers();
    }

    /// Runs a full collection and then pending finalizers.
    pub fn full_gc(&mut self) {
        self.collect_garbage(false);
        self.run_finalizers();
    }

    /// Switches the collector's mode (`collectgarbage("generational"|"incremental")`).
    pub fn set_gc_mode(&mut self, mode: GcMode) {
        if mode == self.gc.mode {
            return;
        }
        self.gc.mode = mode;
        match mode {
            GcMode::Generational => {
                self.heap.set_generational(true);
                self.gc.need_major = true;
            }
            GcMode::Incremental => {
                self.heap.set_generational(false);
                self.gc.need_major = false;
            }
        }
    }

    /// A collection that runs no Lua code (finalizers wait for the next regular collection),
    /// as PUC's emergency collections: used when an allocation would exceed the memory limit.
    pub(crate) fn emergency_gc(&mut self) {
        // The running thread may be inside a Lua frame holding results above its register
        // window (a multi-result call feeding the next instruction): keep its whole stack.
        let th = self.current.data();
        let saved = th.gc_top;
        th.gc_top = Some(th.stack.len());
        self.collect_garbage(false);
        self.current.data().gc_top = saved;
    }

    /// Mark, resurrect objects awaiting finalization, clear weak entries, sweep. `minor`:
    /// a minor collection (generational mode), otherwise a full one.
    fn collect_garbage(&mut self, minor: bool) {
        let started = self.gc.pause_log.is_some().then(std::time::Instant::now);
        if minor {
            self.heap.start_minor();
        } else {
            self.heap.start_full();
        }
        self.mark_roots();
        self.heap.propagate();
        // Weak values are cleared before objects with finalizers are resurrected.
        self.heap.clear_weak(true);
        // Separate unreachable objects with finalizers and resurrect them.
        let (newly, keep): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.gc.finobj)
            .into_iter()
            .partition(|v| v.is_dead_object());
        self.gc.finobj = keep;
        if !newly.is_empty() {
            // `tobefnz` is popped from the end: the last registered is finalized first, as in
            // Lua.
            for v in &newly {
                v.trace(self.heap.tracer());
            }
            self.gc.tobefnz.extend(newly);
            self.heap.propagate();
        }
        self.heap.clear_weak(false);
        self.strings.remove_dead();
        let live = if minor {
            self.gc.minor_collections += 1;
            self.heap.sweep_young()
        } else {
            self.gc.need_major = false;
            self.gc.major_base = self.heap.sweep();
            self.gc.major_base
        };
        self.gc.collections += 1;
        self.gc.threshold = match self.gc.mode {
            GcMode::Incremental => (live / 100).saturating_mul(self.gc.pause).max(1 << 20),
            GcMode::Generational => {
                live.saturating_add((live / 100 * self.gc.minormul).max(MIN_MINOR_GROWTH))
            }
        };
        if let (Some(t), Some(log)) = (started, self.gc.pause_log.as_mut()) {
            log.push((t.elapsed().as_nanos() as u64, minor));
        }
    }

    fn mark_roots(&mut self) {
        let t = self.heap.tracer();
        t.mark(self.registry);
        t.mark(self.globals);
        t.mark(self.loaded);
        t.mark(self.main_thread);
        t.mark(self.current);
        if let Some(f) = self.iterators.next {
            t.mark(f);
        }
        if let Some(f) = self.iterators.ipairs_aux {
            t.mark(f);
        }
        for s in &self.tm_names {
            t.mark(*s);
        }
        for m in self.type_metas.iter().flatten() {
            t.mark(*m);
        }
        for v in &self.roots {
            v.trace(t);
        }
        for th in &self.task_threads {
            t.mark(*th);
        }
        // Objects waiting for finalization stay alive until finalized.
        for v in &self.gc.tobefnz {
            v.trace(t);
        }
    }

    /// Calls pending `__gc` metamethods (errors in finalizers are ignored, as warnings are off
    /// by default).
    pub fn run_finalizers(&mut self) {
        if self.gc.in_finalizer {
            return;
        }
        self.gc.in_finalizer = true;
        while let Some(v) = self.gc.tobefnz.pop() {
            let tm = self.get_tm(v, Tm::Gc);
            if tm.is_function() {
                let was_running = self.gc.running;
                self.gc.running = false;
                let at = (self.current, self.current.data().frames.len());
                let outer = self.finalizer_frame.replace(at);
                let r = self.call_value(tm, &[v], 0);
                self.finalizer_frame = outer;
                if let Err(e) = r {
                    self.warn_finalizer_error(&e);
                }
                self.gc.running = was_running;
            }
        }
        self.gc.in_finalizer = false;
    }

    /// Registers `obj` for finalization if its new metatable has `__gc` (called by
    /// `setmetatable`).
    pub fn check_finalizer(&mut self, obj: Value) {
        if self.gc.closing {
            return;
        }
        if let Some(mt) = self.metatable_of(obj) {
            let tm = mt.get_str(self.tm_names[Tm::Gc as usize]);
            let registered = match obj {
                Value::Table(t) => t.finalizer_registered(),
                Value::UserData(u) => u.finalizer_registered.replace(true),
                _ => return,
            };
            if !tm.is_nil() && !registered {
                if let Value::Table(t) = obj {
                    t.set_finalizer_registered();
                }
                self.gc.finobj.push(obj);
            } else if tm.is_nil() {
                if let Value::UserData(u) = obj {
                    u.finalizer_registered.set(registered);
                }
            }
        }
    }

    /// An error in a finalizer becomes a warning, as in PUC: "error in __gc (message)".
    fn warn_finalizer_error(&mut self, e: &super::LuaError) {
        if !self.warnings_on {
            return;
        }
        let msg = match e.value() {
            Value::Str(s) => s.to_str_lossy().into_owned(),
            _ => "error object is not a string".to_string(),
        };
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "Lua warning: error in __gc ({})", msg);
    }

    /// Closes the state as `lua_close` does: the pending to-be-closed variables of the main
    /// thread are closed (innermost first, with a nil error), then the finalizers of all
    /// objects run. Objects given a finalizer after this point are not finalized, and the
    /// collector refuses to run (`collectgarbage` fails). Called again from a finalizer (by
    /// `os.exit(code, true)`), it runs the finalizers still pending.
    pub fn close_state(&mut self) {
        if !self.gc.closing {
            self.gc.closing = true;
            let main = self.main_thread;
            let saved = self.current;
            self.set_current(main);
            main.data().gc_top = None;
            let mut e = super::LuaError::new(Value::Nil);
            self.close_for_error(main, 0, &mut e);
            self.set_current(saved);
        }
        self.finalize_all();
    }

    /// Runs finalizers of all objects (at state close), as `lua_close` does.
    pub fn finalize_all(&mut self) {
        let all = std::mem::take(&mut self.gc.finobj);
        self.gc.tobefnz.extend(all);
        // (From inside a finalizer, e.g. `os.exit(0, true)`: run the rest now.)
        let was = std::mem::replace(&mut self.gc.in_finalizer, false);
        self.run_finalizers();
        self.gc.in_finalizer = was;
    }

    /// Memory in use, in bytes.
    pub fn memory_in_use(&mut self) -> usize {
        self.heap.bytes()
    }
}
