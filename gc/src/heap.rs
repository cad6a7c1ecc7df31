//! The heap: allocation, byte accounting, and the mark/sweep phases the interpreter drives.
//!
//! A full collection, as the interpreter runs it:
//! 1. [`Heap::tracer`] → mark every root with [`Tracer::mark`];
//! 2. [`Heap::propagate`] until the gray stack is empty (ephemerons iterate to a fixed point);
//! 3. the embedder resurrects objects that need finalizers (marking them and propagating again)
//!    and clears its own weak structures (e.g. the string interner) using [`Gc::is_marked`];
//! 4. [`Heap::clear_weak`] removes dead entries from weak tables;
//! 5. [`Heap::sweep`] frees every unmarked object and resets marks.

use crate::ptr::{Erased, Gc, GcBox, Header, Trace};
use std::cell::Cell;
use std::ptr::NonNull;

thread_local! {
    static ALLOC_DEBT: Cell<usize> = const { Cell::new(0) };
}

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

/// The mark phase's work list.
pub struct Tracer {
    gray: Vec<NonNull<dyn Erased>>,
    weak: Vec<NonNull<dyn Erased>>,
}

impl Tracer {
    /// Marks `g` (and, later, everything reachable from it).
    #[inline]
    pub fn mark<T: Trace>(&mut self, g: Gc<T>) {
        let h = g.header();
        if !h.marked.get() {
            h.marked.set(true);
            let p: NonNull<dyn Erased> = g.ptr;
            self.gray.push(p);
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
    objects: Vec<NonNull<dyn Erased>>,
    /// Bytes in live objects as of the last sweep plus allocations since.
    bytes: usize,
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
            objects: Vec::new(),
            bytes: 0,
            tracer: Tracer {
                gray: Vec::new(),
                weak: Vec::new(),
            },
        }
    }

    /// Moves `value` into the heap.
    pub fn alloc<T: Trace + 'static>(&mut self, value: T) -> Gc<T> {
        let b = Box::new(GcBox {
            header: Header {
                marked: Cell::new(false),
            },
            value,
        });
        self.bytes += b.size();
        let ptr = NonNull::from(Box::leak(b));
        let erased: NonNull<dyn Erased> = ptr;
        self.objects.push(erased);
        Gc { ptr }
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

    /// Number of live (not yet swept) objects.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// The tracer, for marking roots.
    pub fn tracer(&mut self) -> &mut Tracer {
        &mut self.tracer
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

    /// Clears dead entries from the weak containers reached in this cycle.
    pub fn clear_weak(&mut self, clear_values: bool) {
        for p in &self.tracer.weak {
            // SAFETY: registered during this mark phase, still alive until `sweep`.
            unsafe { p.as_ref() }.clear_weak_value(clear_values);
        }
    }

    /// Frees every unmarked object, clears marks on the survivors, forgets the weak list and
    /// recomputes the byte count. Returns the bytes now in use.
    pub fn sweep(&mut self) -> usize {
        self.tracer.weak.clear();
        alloc_debt_take();
        let mut bytes = 0;
        self.objects.retain(|p| {
            // SAFETY: every pointer in `objects` is a live box allocated by `alloc` and freed
            // only here, after which it is removed from the list.
            let obj = unsafe { p.as_ref() };
            if obj.header().marked.get() {
                obj.header().marked.set(false);
                bytes += obj.size();
                true
            } else {
                // SAFETY: unmarked means unreachable from the roots (crate invariant), so no
                // `Gc` to it will be dereferenced again; the box came from `Box::leak`.
                drop(unsafe { Box::from_raw(p.as_ptr()) });
                false
            }
        });
        self.bytes = bytes;
        bytes
    }

    /// Frees everything (used when the owning state is dropped).
    ///
    /// # Safety
    /// No `Gc` into this heap may be dereferenced afterwards.
    pub unsafe fn free_all(&mut self) {
        for p in self.objects.drain(..) {
            // SAFETY: caller guarantees no further use; each box is freed exactly once.
            drop(unsafe { Box::from_raw(p.as_ptr()) });
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
}
