//! The heap: allocation, byte accounting, the write barrier's remembered list, and the
//! mark/sweep phases the interpreter drives, for full and minor (generational) collections.
//!
//! A full collection, as the interpreter runs it:
//! 1. [`Heap::start_full`], then [`Heap::tracer`] → mark every root with [`Tracer::mark`];
//! 2. [`Heap::propagate`] until the gray stack is empty (ephemerons iterate to a fixed point);
//! 3. the embedder resurrects objects that need finalizers (marking them and propagating again)
//!    and clears its own weak structures (e.g. the string interner) using [`Gc::is_marked`];
//! 4. [`Heap::clear_weak`] removes dead entries from weak tables;
//! 5. [`Heap::sweep`] frees every unmarked object.
//!
//! # Generational mode
//!
//! Non-moving: the heap keeps three lists, `old`, `survival` and `young` (allocation order). As
//! in Lua 5.4, an object becomes old after surviving two minor collections (young → survival →
//! old; a full collection makes every survivor old), so objects allocated just before a minor
//! collection are not promoted by it. Old objects *keep their mark bit* between collections
//! ("old objects are black"), so a minor collection's marking skips them for free and
//! weak-entry clearing sees them as alive; young and survival objects are unmarked ("young" in
//! [`Gc::is_young`]). A minor collection ([`Heap::start_minor`] instead of `start_full`, then
//! the same steps, then [`Heap::sweep_young`]) marks from the roots, the *remembered* old
//! objects and the old objects that are always re-scanned ([`Trace::RESCAN`], threads), and
//! sweeps only the young and survival lists.
//!
//! The invariant a minor collection relies on: an old object refers to a young or survival
//! object only if it is in the remembered list. Mutators keep it with the write barrier: after
//! storing a young value into an object `o`, `if o.is_old() { o.remember() }` (the fast path is
//! one header-bit test; in incremental mode no object is old between collections). A
//! remembered object stays in the list for two minor collections (what it refers to is
//! survival after the first, old after the second; Lua's "touched1/touched2"), and objects
//! promoted from survival to old, which may refer to survival objects, join the list when
//! promoted (Lua's "old1").
//!
//! The remembered list is thread-local (barriers run inside object methods that do not know
//! their heap); entries carry their heap's id in the object header, so several heaps on one
//! thread each take only their own entries.

use crate::ptr::{free, new_box, new_tail_box, try_new_tail_box_with};
use crate::ptr::{Erased, Gc, InlineTail, Trace};
use crate::ptr::{MARKED, ROUND2, TOUCHED};
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

thread_local! {
    static ALLOC_DEBT: Cell<usize> = const { Cell::new(0) };
    static REMEMBERED: RefCell<Vec<NonNull<dyn Erased>>> = const { RefCell::new(Vec::new()) };
}

static NEXT_HEAP_ID: AtomicU32 = AtomicU32::new(1);

/// Records `bytes` allocated by an object after its creation (a table growing its parts, a
/// buffer growing). The interpreter drains this into its heap's debt at safepoints, so growth
/// of existing objects also paces the collector.
#[inline]
pub fn alloc_debt_add(bytes: usize) {
    ALLOC_DEBT.with(|d| d.set(d.get().wrapping_add(bytes)));
}

fn alloc_debt_take() -> usize {
    ALLOC_DEBT.with(|d| d.replace(0))
}

/// Replaces this thread's pending allocation debt with `bytes` and returns the old value.
///
/// The debt recorded by [`alloc_debt_add`] is thread-local scratch that belongs to whichever
/// heap is running on the thread. An embedder that runs a heap on several threads (one at a
/// time) brackets every entry: it saves the thread's debt with `alloc_debt_swap(0)`, runs the
/// heap, hands what accumulated to that heap with [`Heap::add_debt`]
/// (`heap.add_debt(alloc_debt_swap(saved))`), so the scratch is back to what it was and no
/// debt is left behind on the thread the heap leaves, nor charged to another heap.
#[inline]
pub fn alloc_debt_swap(bytes: usize) -> usize {
    ALLOC_DEBT.with(|d| d.replace(bytes))
}

/// Appends an old object to this thread's remembered list (called by [`Gc::remember`]).
pub(crate) fn remember_erased(p: NonNull<dyn Erased>) {
    REMEMBERED.with(|r| r.borrow_mut().push(p));
}

/// Removes and returns the remembered entries that belong to heap `id`.
fn take_remembered(id: u32) -> Vec<NonNull<dyn Erased>> {
    REMEMBERED
        .try_with(|r| {
            let mut r = r.borrow_mut();
            // SAFETY: as below.
            if r.iter().all(|p| unsafe { p.as_ref() }.header().heap == id) {
                // The usual case, one heap on the thread: hand over the list itself rather
                // than a copy (promotions can make it one entry per surviving object).
                return std::mem::take(&mut *r);
            }
            let mut mine = Vec::new();
            r.retain(|p| {
                // SAFETY: entries are live objects: a heap removes its own entries (this
                // function) before it frees any object that may be in the list.
                if unsafe { p.as_ref() }.header().heap == id {
                    mine.push(*p);
                    false
                } else {
                    true
                }
            });
            mine
        })
        .unwrap_or_default()
}

/// The mark phase's work list.
pub struct Tracer {
    gray: Vec<NonNull<dyn Erased>>,
    weak: Vec<NonNull<dyn Erased>>,
}

impl Tracer {
    /// Marks `g` (and, later, everything reachable from it). Already-marked objects, which in
    /// a minor collection include every old object, are skipped.
    #[inline]
    pub fn mark<T: Trace>(&mut self, g: Gc<T>) {
        let h = g.header();
        if !h.marked() {
            h.set_marked(true);
            if !T::LEAF {
                let p: NonNull<dyn Erased> = g.ptr;
                self.gray.push(p);
            }
        }
    }

    /// Registers a weak container reached during marking; its [`Trace::trace_ephemeron`] and
    /// [`Trace::clear_weak`] are called after propagation. Call this from `trace`.
    pub fn register_weak<T: Trace>(&mut self, g: Gc<T>) {
        self.weak.push(g.ptr);
    }
}

/// Owner of all collectable objects.
pub struct Heap {
    id: u32,
    /// Objects that survived a collection.
    old: Vec<NonNull<dyn Erased>>,
    /// Objects that survived one minor collection (generational mode).
    survival: Vec<NonNull<dyn Erased>>,
    /// Objects allocated since the last collection, in allocation order.
    young: Vec<NonNull<dyn Erased>>,
    /// Objects whose type has [`Trace::RESCAN`] (old and young).
    rescan: Vec<NonNull<dyn Erased>>,
    /// Bytes in live objects as of the last sweep plus allocations since.
    bytes: usize,
    /// Generational mode: survivors keep their mark bit between collections.
    generational: bool,
    /// The remembered objects traversed by the current minor collection.
    remembered: Vec<NonNull<dyn Erased>>,
    /// Remembered entries moved off the thread-local list by [`Heap::park_thread_state`].
    parked: Vec<NonNull<dyn Erased>>,
    tracer: Tracer,
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    pub fn new() -> Heap {
        Heap {
            id: NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed),
            old: Vec::new(),
            survival: Vec::new(),
            young: Vec::new(),
            rescan: Vec::new(),
            bytes: 0,
            generational: false,
            remembered: Vec::new(),
            parked: Vec::new(),
            tracer: Tracer {
                gray: Vec::new(),
                weak: Vec::new(),
            },
        }
    }

    /// Moves `value` into the heap (as a young object).
    pub fn alloc<T: Trace + 'static>(&mut self, value: T) -> Gc<T> {
        let (ptr, erased, size) = new_box(self.id, value);
        self.adopt::<T>(erased, size);
        Gc { ptr }
    }

    /// Moves `value` into the heap followed by a copy of `tail` in the same allocation (as a
    /// young object); the bytes are read back with [`Gc::as_bytes`].
    pub fn alloc_tail<T: InlineTail + 'static>(&mut self, value: T, tail: &[u8]) -> Gc<T> {
        let (ptr, erased, size) = new_tail_box(self.id, value, tail);
        self.adopt::<T>(erased, size);
        Gc { ptr }
    }

    /// Like [`Heap::alloc_tail`], for a tail of `value.tail_len()` bytes written in place by
    /// `fill` (they start zeroed), without a buffer to copy from. `None` if the allocator
    /// failed.
    pub fn try_alloc_tail_with<T: InlineTail + 'static>(
        &mut self,
        value: T,
        fill: impl FnOnce(&mut [u8]),
    ) -> Option<Gc<T>> {
        let (ptr, erased, size) = try_new_tail_box_with(self.id, value, fill)?;
        self.adopt::<T>(erased, size);
        Some(Gc { ptr })
    }

    /// Accounts for a new object of `size` bytes and lists it as young.
    #[inline]
    fn adopt<T: Trace>(&mut self, erased: NonNull<dyn Erased>, size: usize) {
        self.bytes += size;
        self.young.push(erased);
        if T::RESCAN {
            self.rescan.push(erased);
        }
    }

    /// Bytes currently attributed to the heap (objects and their buffers, as estimated).
    pub fn bytes(&mut self) -> usize {
        self.bytes += alloc_debt_take();
        self.bytes
    }

    /// Charges `bytes` of growth of existing objects to this heap (see [`alloc_debt_swap`]).
    #[inline]
    pub fn add_debt(&mut self, bytes: usize) {
        self.bytes = self.bytes.wrapping_add(bytes);
    }

    /// Moves the calling thread's remembered entries of this heap (recorded by the write
    /// barrier in a thread-local list) into the heap. An embedder that runs a heap on several
    /// threads, one at a time, calls this whenever it leaves the heap (together with
    /// [`alloc_debt_swap`]), so no entry of this heap is left on a thread it no longer runs on.
    pub fn park_thread_state(&mut self) {
        let mine = take_remembered(self.id);
        self.parked.extend(mine);
    }

    /// Number of live (not yet swept) objects.
    pub fn object_count(&self) -> usize {
        self.old.len() + self.survival.len() + self.young.len()
    }

    /// Number of objects allocated since the last collection.
    pub fn young_count(&self) -> usize {
        self.young.len()
    }

    /// `true` in generational mode.
    pub fn is_generational(&self) -> bool {
        self.generational
    }

    /// Switches generational mode. Turning it off clears the marks old objects keep (and the
    /// remembered list); after turning it on, objects become old at the next collection, which
    /// should be a full one.
    pub fn set_generational(&mut self, on: bool) {
        if self.generational && !on {
            self.reset_flags();
        }
        self.generational = on;
    }

    fn all(&self) -> impl Iterator<Item = &NonNull<dyn Erased>> {
        self.old
            .iter()
            .chain(self.survival.iter())
            .chain(self.young.iter())
    }

    fn reset_flags(&mut self) {
        take_remembered(self.id);
        self.parked.clear();
        for p in self.all() {
            // SAFETY: every pointer in the lists is a live box owned by this heap.
            unsafe { p.as_ref() }.header().flags.set(0);
        }
    }

    /// The tracer, for marking roots.
    pub fn tracer(&mut self) -> &mut Tracer {
        &mut self.tracer
    }

    /// Begins a full collection: in generational mode, old objects lose their mark (every
    /// object is traced again) and the remembered list is dropped.
    pub fn start_full(&mut self) {
        if self.generational {
            self.reset_flags();
        }
    }

    /// Begins a minor collection (generational mode only): the remembered old objects and the
    /// old [`Trace::RESCAN`] objects are queued for traversal; the embedder then marks its
    /// roots and propagates as in a full collection, and finishes with [`Heap::sweep_young`].
    pub fn start_minor(&mut self) {
        assert!(
            self.generational,
            "minor collection outside generational mode"
        );
        let mut remembered = std::mem::take(&mut self.parked);
        remembered.extend(take_remembered(self.id));
        self.remembered = remembered;
        self.tracer.gray.extend_from_slice(&self.remembered);
        for p in &self.rescan {
            // SAFETY: `rescan` holds live objects of this heap (pruned at every sweep).
            if unsafe { p.as_ref() }.header().flags.get() & MARKED != 0 {
                self.tracer.gray.push(*p);
            }
        }
    }

    /// Empties the gray stack, then iterates ephemeron tables until nothing new is marked.
    pub fn propagate(&mut self) {
        loop {
            while let Some(p) = self.tracer.gray.pop() {
                // SAFETY: objects on the gray stack were reached from roots during this mark
                // phase and nothing is freed before `sweep`.
                unsafe { p.as_ref() }.trace_value(&mut self.tracer);
            }
            let mut changed = false;
            let weak = std::mem::take(&mut self.tracer.weak);
            for p in &weak {
                // SAFETY: as above: registered during this mark phase, still alive.
                changed |= unsafe { p.as_ref() }.trace_ephemeron_value(&mut self.tracer);
            }
            self.tracer.weak = weak;
            if !changed && self.tracer.gray.is_empty() {
                break;
            }
        }
    }

    /// Clears dead entries from the weak containers reached in this cycle. In a minor
    /// collection those are the young weak tables reached and the remembered old ones, and
    /// only young objects can be dead (old ones are marked).
    pub fn clear_weak(&mut self, clear_values: bool) {
        for p in &self.tracer.weak {
            // SAFETY: registered during this mark phase, still alive until `sweep`.
            unsafe { p.as_ref() }.clear_weak_value(clear_values);
        }
    }

    fn prune_rescan(&mut self) {
        // SAFETY: `rescan` holds live objects; unmarked ones are about to be freed.
        self.rescan
            .retain(|p| unsafe { p.as_ref() }.header().flags.get() & MARKED != 0);
    }

    /// Ends a full collection: frees every unmarked object; survivors become old (keeping
    /// their mark in generational mode, unmarked otherwise). Recomputes the byte count and
    /// returns it.
    pub fn sweep(&mut self) -> usize {
        self.tracer.weak.clear();
        alloc_debt_take();
        self.prune_rescan();
        let keep_marks = self.generational;
        let mut bytes = 0;
        // Each list is compacted in place (no second list of survivors: at 16 bytes per
        // object it would add to the peak footprint exactly when the heap is largest).
        let mut keep = |p: &NonNull<dyn Erased>| {
            // SAFETY: every pointer in the lists is a live box allocated by `alloc` and freed
            // only here or in `sweep_young`, after which it is no longer in any list.
            let obj = unsafe { p.as_ref() };
            if obj.header().marked() {
                obj.header().flags.set(if keep_marks { MARKED } else { 0 });
                bytes += obj.size();
                true
            } else {
                // SAFETY: unmarked means unreachable from the roots (crate invariant), so no
                // `Gc` to it will be dereferenced again; `retain` drops the list entry right
                // after.
                unsafe { free(*p) };
                false
            }
        };
        self.old.retain(&mut keep);
        self.survival.retain(&mut keep);
        self.young.retain(&mut keep);
        self.old.append(&mut self.survival);
        self.old.append(&mut self.young);
        if self.old.capacity() > 4 * self.old.len().max(1024) {
            self.old.shrink_to(2 * self.old.len());
        }
        self.bytes = bytes;
        bytes
    }

    /// Ends a minor collection: frees the unmarked young and survival objects; marked young
    /// objects become survival (unmarked again), marked survival objects become old (they
    /// keep their mark and are remembered for the next minor collection, as they may refer to
    /// survival objects). Old objects are not visited. Returns the bytes now in use.
    pub fn sweep_young(&mut self) -> usize {
        self.tracer.weak.clear();
        self.bytes += alloc_debt_take();
        self.prune_rescan();
        let mut freed = 0;
        let mut release = |p: NonNull<dyn Erased>| {
            // SAFETY: as in `sweep`: young or survival, unmarked, hence unreachable (old
            // objects referring to it would be remembered and have been traversed).
            freed += unsafe { free(p) };
        };
        for p in self.survival.drain(..) {
            // SAFETY: as in `sweep`.
            let obj = unsafe { p.as_ref() };
            if obj.header().marked() {
                obj.header().flags.set(MARKED | TOUCHED);
                remember_erased(p);
                self.old.push(p);
            } else {
                release(p);
            }
        }
        // Remembered objects after their first round stay listed for a second one.
        for p in std::mem::take(&mut self.remembered) {
            // SAFETY: remembered objects are old, hence not freed by a minor collection.
            let h = unsafe { p.as_ref() }.header();
            let f = h.flags.get();
            if f & ROUND2 == 0 {
                h.flags.set(f | ROUND2);
                remember_erased(p);
            } else {
                h.flags.set(f & !(TOUCHED | ROUND2));
            }
        }
        let mut survival = Vec::with_capacity(self.young.len() / 4);
        for p in self.young.drain(..) {
            // SAFETY: as in `sweep`.
            let obj = unsafe { p.as_ref() };
            if obj.header().marked() {
                obj.header().flags.set(0);
                survival.push(p);
            } else {
                release(p);
            }
        }
        self.survival = survival;
        self.bytes = self.bytes.saturating_sub(freed);
        self.bytes
    }

    /// Frees everything (used when the owning state is dropped).
    ///
    /// # Safety
    /// No `Gc` into this heap may be dereferenced afterwards.
    pub unsafe fn free_all(&mut self) {
        take_remembered(self.id);
        self.parked.clear();
        self.rescan.clear();
        let all = self
            .old
            .drain(..)
            .chain(self.survival.drain(..))
            .chain(self.young.drain(..));
        for p in all {
            // SAFETY: caller guarantees no further use; each box is freed exactly once.
            unsafe { free(p) };
        }
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Node {
        next: RefCell<Option<Gc<Node>>>,
        payload: Vec<u8>,
    }
    impl Trace for Node {
        fn trace(&self, t: &mut Tracer) {
            if let Some(n) = *self.next.borrow() {
                t.mark(n);
            }
        }
        fn extra_size(&self) -> usize {
            self.payload.capacity()
        }
    }

    #[test]
    fn unreachable_objects_are_freed() {
        let mut heap = Heap::new();
        let a = heap.alloc(Node {
            next: RefCell::new(None),
            payload: vec![0; 100],
        });
        let b = heap.alloc(Node {
            next: RefCell::new(None),
            payload: vec![],
        });
        *a.next.borrow_mut() = Some(b);
        for _ in 0..10 {
            heap.alloc(Node {
                next: RefCell::new(None),
                payload: vec![1; 1000],
            });
        }
        assert_eq!(heap.object_count(), 12);
        heap.tracer().mark(a);
        heap.propagate();
        heap.sweep();
        assert_eq!(heap.object_count(), 2);
        assert!(heap.bytes() >= 100);
        assert!(heap.bytes() < 1000);
        // marks are reset
        assert!(!a.is_marked());
        unsafe { heap.free_all() };
    }

    #[test]
    fn cycles_are_collected() {
        let mut heap = Heap::new();
        let a = heap.alloc(Node {
            next: RefCell::new(None),
            payload: vec![],
        });
        let b = heap.alloc(Node {
            next: RefCell::new(Some(a)),
            payload: vec![],
        });
        *a.next.borrow_mut() = Some(b);
        heap.propagate();
        heap.sweep();
        assert_eq!(heap.object_count(), 0);
    }

    fn node(heap: &mut Heap) -> Gc<Node> {
        heap.alloc(Node {
            next: RefCell::new(None),
            payload: vec![],
        })
    }

    /// Stores `to` into `from.next` with the write barrier, as mutators must.
    fn link(from: Gc<Node>, to: Gc<Node>) {
        *from.next.borrow_mut() = Some(to);
        if from.is_old() && to.is_young() {
            from.remember();
        }
    }

    fn full(heap: &mut Heap, roots: &[Gc<Node>]) {
        heap.start_full();
        for r in roots {
            heap.tracer().mark(*r);
        }
        heap.propagate();
        heap.sweep();
    }

    fn minor(heap: &mut Heap, roots: &[Gc<Node>]) {
        heap.start_minor();
        for r in roots {
            heap.tracer().mark(*r);
        }
        heap.propagate();
        heap.sweep_young();
    }

    #[test]
    fn minor_keeps_young_objects_reachable_only_from_remembered_old_ones() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let old = node(&mut heap);
        full(&mut heap, &[old]);
        assert!(old.is_old());
        // The root is old and its only reference to `young` goes through the barrier.
        let young = node(&mut heap);
        let grandchild = node(&mut heap);
        link(young, grandchild);
        link(old, young);
        let garbage = node(&mut heap);
        link(garbage, node(&mut heap));
        assert_eq!(heap.object_count(), 5);
        // Roots are not even marked here: `old` is reachable from a root, but old objects are
        // not traversed unless remembered.
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 3, "young garbage freed");
        assert!(young.is_young() && grandchild.is_young(), "first survival");
        assert_eq!(heap.young_count(), 0);
        // `old` is not remembered any more, but its referents are survival objects that the
        // next minor still sweeps: they must survive it (through `young`, remembered when it
        // was promoted) and become old.
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 3);
        assert!(
            young.is_old() && grandchild.is_old(),
            "promoted after two survivals"
        );
        // Next minor: nothing remembered, nothing young; old objects are not swept.
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 3);
        // Unreachable old objects wait for a full collection.
        *old.next.borrow_mut() = None;
        minor(&mut heap, &[old]);
        assert_eq!(heap.object_count(), 3);
        full(&mut heap, &[old]);
        assert_eq!(heap.object_count(), 1);
        assert!(old.is_old());
        unsafe { heap.free_all() };
    }

    #[test]
    fn without_the_barrier_a_minor_would_free_a_live_object() {
        // Documents why the barrier exists: the same store without `remember`.
        let mut heap = Heap::new();
        heap.set_generational(true);
        let old = node(&mut heap);
        full(&mut heap, &[old]);
        let young = node(&mut heap);
        *old.next.borrow_mut() = Some(young);
        minor(&mut heap, &[old]);
        assert_eq!(heap.object_count(), 1);
        *old.next.borrow_mut() = None;
        unsafe { heap.free_all() };
    }

    #[test]
    fn remembered_objects_are_rescanned_once_per_minor() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let old = node(&mut heap);
        full(&mut heap, &[old]);
        let a = node(&mut heap);
        link(old, a);
        link(old, a); // second store: already remembered
        minor(&mut heap, &[]);
        minor(&mut heap, &[]);
        assert!(a.is_old());
        // After promotion the list is empty: a new young object stored into an old one is
        // remembered again.
        let b = node(&mut heap);
        link(a, b);
        minor(&mut heap, &[]);
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 3);
        assert!(b.is_old());
        // A survival object that loses its last reference is freed by the next minor.
        let c = node(&mut heap);
        link(b, c);
        minor(&mut heap, &[]);
        *b.next.borrow_mut() = None;
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 3);
        unsafe { heap.free_all() };
    }

    struct Stack {
        slots: RefCell<Vec<Gc<Node>>>,
    }
    impl Trace for Stack {
        fn trace(&self, t: &mut Tracer) {
            for n in self.slots.borrow().iter() {
                t.mark(*n);
            }
        }
        const RESCAN: bool = true;
    }

    #[test]
    fn rescan_objects_are_traversed_in_every_minor_without_barriers() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let st = heap.alloc(Stack {
            slots: RefCell::new(vec![]),
        });
        heap.start_full();
        heap.tracer().mark(st);
        heap.propagate();
        heap.sweep();
        assert!(st.is_old());
        let n = node(&mut heap);
        st.slots.borrow_mut().push(n); // no barrier
        minor(&mut heap, &[]);
        minor(&mut heap, &[]);
        assert_eq!(heap.object_count(), 2);
        assert!(n.is_old());
        unsafe { heap.free_all() };
    }

    #[test]
    fn leaving_generational_mode_clears_old_marks() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let a = node(&mut heap);
        full(&mut heap, &[a]);
        let b = node(&mut heap);
        link(a, b);
        heap.set_generational(false);
        assert!(!a.is_old() && !a.is_marked());
        // A barrier in incremental mode does nothing (nothing is old).
        link(b, node(&mut heap));
        full(&mut heap, &[a]);
        assert_eq!(heap.object_count(), 3);
        assert!(
            !a.is_marked(),
            "incremental mode resets marks after a sweep"
        );
        unsafe { heap.free_all() };
    }

    #[test]
    fn heaps_on_one_thread_take_only_their_remembered_entries() {
        let mut h1 = Heap::new();
        let mut h2 = Heap::new();
        h1.set_generational(true);
        h2.set_generational(true);
        let r1 = node(&mut h1);
        let r2 = node(&mut h2);
        full(&mut h1, &[r1]);
        full(&mut h2, &[r2]);
        let y1 = node(&mut h1);
        let y2 = node(&mut h2);
        link(r1, y1);
        link(r2, y2);
        minor(&mut h1, &[]);
        minor(&mut h1, &[]);
        assert!(y1.is_old());
        assert!(y2.is_young());
        minor(&mut h2, &[]);
        minor(&mut h2, &[]);
        assert!(y2.is_old());
        assert_eq!(h1.object_count() + h2.object_count(), 4);
        unsafe { h1.free_all() };
        unsafe { h2.free_all() };
    }

    struct Bytes {
        len: usize,
    }
    impl Trace for Bytes {
        fn trace(&self, _t: &mut Tracer) {}
    }
    // SAFETY: allocated only with `alloc_tail` and a tail of `len` bytes (in the test below).
    unsafe impl InlineTail for Bytes {
        fn tail_len(&self) -> usize {
            self.len
        }
    }

    #[test]
    fn inline_tails_are_read_accounted_and_freed_whole() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let big: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let kept = heap.alloc_tail(Bytes { len: 5 }, b"hello");
        let dead = heap.alloc_tail(Bytes { len: big.len() }, &big);
        let empty = heap.alloc_tail(Bytes { len: 0 }, b"");
        assert_eq!(kept.as_bytes(), b"hello");
        assert_eq!(dead.as_bytes(), &big[..]);
        assert!(empty.as_bytes().is_empty());
        let filled = heap
            .try_alloc_tail_with(Bytes { len: 3 }, |b| {
                assert_eq!(b, [0, 0, 0]);
                b.copy_from_slice(b"abc");
            })
            .unwrap();
        assert_eq!(filled.as_bytes(), b"abc");
        // A 16-byte box (header and `len`) plus the tail, rounded up to the alignment.
        assert_eq!(heap.bytes(), 24 + 1016 + 16 + 24);
        heap.start_minor();
        heap.tracer().mark(kept);
        heap.propagate();
        assert_eq!(heap.sweep_young(), 24);
        assert_eq!(heap.object_count(), 1);
        heap.start_full();
        heap.tracer().mark(kept);
        heap.propagate();
        assert_eq!(heap.sweep(), 24);
        assert_eq!(kept.as_bytes(), b"hello");
        unsafe { heap.free_all() };
    }

    /// A leaf type whose traversal would be a bug: the tracer must mark it without queueing.
    struct Leaf;
    impl Trace for Leaf {
        fn trace(&self, _t: &mut Tracer) {
            panic!("a leaf object was queued on the gray stack");
        }
        const LEAF: bool = true;
    }
    struct Holder {
        leaf: Gc<Leaf>,
    }
    impl Trace for Holder {
        fn trace(&self, t: &mut Tracer) {
            t.mark(self.leaf);
        }
    }

    #[test]
    fn leaves_are_marked_without_being_traversed() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let kept = heap.alloc(Leaf);
        let holder = heap.alloc(Holder { leaf: kept });
        heap.alloc(Leaf);
        heap.start_minor();
        heap.tracer().mark(holder);
        heap.propagate();
        heap.sweep_young();
        assert_eq!(heap.object_count(), 2);
        heap.start_full();
        heap.tracer().mark(holder);
        heap.propagate();
        heap.sweep();
        assert!(kept.is_marked());
        assert_eq!(heap.object_count(), 2);
        unsafe { heap.free_all() };
    }

    #[test]
    fn a_store_during_the_second_round_keeps_the_object_remembered() {
        let mut heap = Heap::new();
        heap.set_generational(true);
        let old = node(&mut heap);
        full(&mut heap, &[old]);
        let y1 = node(&mut heap);
        link(old, y1);
        minor(&mut heap, &[]); // first round: y1 survival
        let y2 = node(&mut heap);
        link(old, y2); // already listed: restarts the rounds
        minor(&mut heap, &[]); // y1 freed, y2 survival
        assert_eq!(heap.object_count(), 2);
        minor(&mut heap, &[]); // y2 must still be reached through `old`
        assert_eq!(heap.object_count(), 2);
        assert!(y2.is_old());
        unsafe { heap.free_all() };
    }
}
