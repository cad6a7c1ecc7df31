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
}

/// Per-object header.
pub(crate) struct Header {
    pub(crate) marked: Cell<bool>,
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
        self.header().marked.get()
    }

    /// Marks an object during the clearing phase without tracing it. Only for objects that
    /// hold no `Gc` pointers (strings): anything they referenced would not be marked.
    #[inline]
    pub fn mark_leaf(self) {
        self.header().marked.set(true);
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
