//! [`Gc<T>`], the pointer to a heap object, and the [`Trace`] trait objects implement.

use crate::heap::Tracer;
use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

/// Implemented by every type stored in the heap: reports the `Gc` pointers it holds.
pub trait Trace {
    /// Marks every `Gc` this object refers to (strongly) with `tracer.mark(..)`.
    fn trace(&self, tracer: &mut Tracer);

    /// For weak containers registered with [`Tracer::register_weak`]: after the ordinary mark
    /// phase, mark the values of entries whose keys are marked (ephemeron semantics). Returns
    /// `true` if anything new was marked, so the collector iterates to a fixed point.
    fn trace_ephemeron(&self, _tracer: &mut Tracer) -> bool {
        false
    }

    /// For weak containers: remove entries that refer to objects that are not marked.
    /// `clear_values` selects whether dead *values* are cleared in this pass (they are cleared
    /// after finalizers are resurrected for keys, as in Lua's rules).
    fn clear_weak(&self, _clear_values: bool) {}

    /// Approximate number of bytes this object owns outside its box (buffers, vectors).
    fn extra_size(&self) -> usize {
        0
    }

    /// `true` for objects whose contents change without write barriers (threads: their
    /// stacks are written by every instruction). Such objects are traversed again in every
    /// minor collection while they are old, like roots.
    const RESCAN: bool = false;
}

/// Header bit: marked in the current mark phase; between collections in generational mode,
/// set on every old object (old objects are "black").
pub(crate) const MARKED: u8 = 1;
/// Header bit: an old object already in the remembered list for the next minor collection.
pub(crate) const TOUCHED: u8 = 2;
/// Header bit: a remembered object in its second minor collection (it stays remembered for
/// two, since what it refers to is survival, not old, after the first).
pub(crate) const ROUND2: u8 = 4;

/// Per-object header.
pub(crate) struct Header {
    pub(crate) flags: Cell<u8>,
    /// Id of the owning heap (the remembered list is per thread, shared by the heaps on it).
    pub(crate) heap: u32,
}

impl Header {
    #[inline]
    pub(crate) fn marked(&self) -> bool {
        self.flags.get() & MARKED != 0
    }
    #[inline]
    pub(crate) fn set_marked(&self, on: bool) {
        let f = self.flags.get();
        self.flags.set(if on { f | MARKED } else { f & !MARKED });
    }
}

/// An object in the heap: header then value.
#[repr(C)]
pub(crate) struct GcBox<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// Type-erased view of a `GcBox<T>` used by the collector.
pub(crate) trait Erased {
    fn header(&self) -> &Header;
    fn trace_value(&self, tracer: &mut Tracer);
    fn trace_ephemeron_value(&self, tracer: &mut Tracer) -> bool;
    fn clear_weak_value(&self, clear_values: bool);
    fn size(&self) -> usize;
}

impl<T: Trace> Erased for GcBox<T> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn trace_value(&self, tracer: &mut Tracer) {
        self.value.trace(tracer)
    }
    fn trace_ephemeron_value(&self, tracer: &mut Tracer) -> bool {
        self.value.trace_ephemeron(tracer)
    }
    fn clear_weak_value(&self, clear_values: bool) {
        self.value.clear_weak(clear_values)
    }
    fn size(&self) -> usize {
        std::mem::size_of::<GcBox<T>>() + self.value.extra_size()
    }
}

/// A pointer to a garbage-collected `T`. Copyable; equality and hashing are by address.
pub struct Gc<T: Trace + 'static> {
    pub(crate) ptr: NonNull<GcBox<T>>,
}

impl<T: Trace> Gc<T> {
    /// The object's address (stable: objects never move).
    #[inline]
    pub fn as_ptr(self) -> *const T {
        // SAFETY: only computes a field address inside the box; nothing is read.
        unsafe { std::ptr::addr_of!((*self.ptr.as_ptr()).value) }
    }

    /// `true` if both point at the same object.
    #[inline]
    pub fn ptr_eq(a: Gc<T>, b: Gc<T>) -> bool {
        a.ptr == b.ptr
    }

    /// `true` if the object was marked in the current (or last) mark phase. Used by weak
    /// containers while clearing and by the string interner.
    #[inline]
    pub fn is_marked(self) -> bool {
        self.header().marked()
    }

    /// `true` if the object is old: between collections in generational mode, every object
    /// that survived a collection. In incremental mode nothing is old, so write barriers
    /// cost one header test. This is the barrier's fast-path test.
    #[inline(always)]
    pub fn is_old(self) -> bool {
        self.header().flags.get() & MARKED != 0
    }

    /// `true` if the object is young (allocated since the last collection); the value side of
    /// a write barrier.
    #[inline]
    pub fn is_young(self) -> bool {
        !self.is_old()
    }

    /// The slow half of the write barrier (Lua's `barrierback`): `self` is an old object into
    /// which a young value was stored; it joins the remembered list and is traversed again by
    /// the next minor collection. Idempotent until that collection.
    #[cold]
    #[inline(never)]
    pub fn remember(self) {
        let h = self.header();
        let f = h.flags.get();
        if f & MARKED == 0 {
            return;
        }
        if f & TOUCHED == 0 {
            h.flags.set(f | TOUCHED);
            crate::heap::remember_erased(self.ptr);
        } else {
            // Already listed; a new young value restarts its two rounds.
            h.flags.set(f & !ROUND2);
        }
    }

    /// Marks an object during the clearing phase without tracing it. Only for objects that
    /// hold no `Gc` pointers (strings): anything they referenced would not be marked.
    #[inline]
    pub fn mark_leaf(self) {
        self.header().set_marked(true);
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the box is alive by the crate invariant (reachable at every collection).
        unsafe { &(*self.ptr.as_ptr()).header }
    }

    /// Rebuilds a `Gc` from an address obtained with [`Gc::as_ptr`].
    ///
    /// # Safety
    /// `p` must come from `as_ptr` of a `Gc<T>` whose object is still alive.
    pub unsafe fn from_ptr(p: *const T) -> Gc<T> {
        let offset = std::mem::offset_of!(GcBox<T>, value);
        // SAFETY: by the caller's contract `p` points at the `value` field of a live GcBox<T>,
        // so stepping back by the field offset yields the box address.
        let boxp = unsafe { (p as *const u8).sub(offset) as *mut GcBox<T> };
        Gc {
            // SAFETY: derived from a non-null pointer into a live allocation.
            ptr: unsafe { NonNull::new_unchecked(boxp) },
        }
    }
}

impl<T: Trace> Clone for Gc<T> {
    #[inline]
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Trace> Copy for Gc<T> {}

impl<T: Trace> Deref for Gc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the object is alive by the crate invariant; objects are never moved, and
        // mutation goes through interior mutability inside T.
        unsafe { &(*self.ptr.as_ptr()).value }
    }
}

impl<T: Trace> PartialEq for Gc<T> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}
impl<T: Trace> Eq for Gc<T> {}

impl<T: Trace> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ptr.hash(state)
    }
}

impl<T: Trace> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gc({:p})", self.ptr.as_ptr())
    }
}
