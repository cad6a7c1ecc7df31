//! [`Gc<T>`], the pointer to a heap object, the [`Trace`] trait objects implement, and the
//! allocation and freeing of the boxes (ordinary ones, and those with bytes inline after the
//! value: [`InlineTail`]).

use crate::heap::Tracer;
use std::alloc::Layout;
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

    /// `true` for types whose `trace` marks nothing and registers nothing (strings): the
    /// tracer marks such objects without queueing them on the gray stack, which a big table
    /// of strings would otherwise fill with one 16-byte entry per string.
    const LEAF: bool = false;
}

/// A type whose objects carry a run of bytes inline, right after the value in the same
/// allocation (strings: one allocation and one cache line instead of a box and a buffer).
/// Such objects are allocated with [`crate::Heap::alloc_tail`] and their bytes read with
/// [`Gc::as_bytes`].
///
/// # Safety
/// Objects of the type must be allocated only with `alloc_tail`, and [`InlineTail::tail_len`]
/// must always return the length of the tail the object was allocated with: the collector
/// frees the allocation with the layout computed from it, and `as_bytes` reads that many bytes.
pub unsafe trait InlineTail: Trace {
    /// Number of bytes stored after the value.
    fn tail_len(&self) -> usize;
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
    /// Allocated by [`new_tail_box`] (in the padding: the header stays 8 bytes).
    pub(crate) tail: bool,
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
    /// Bytes attributed to the object: its allocation plus [`Trace::extra_size`].
    fn size(&self) -> usize;
    /// The layout the object's allocation was made with.
    fn layout(&self) -> Layout;
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
    fn layout(&self) -> Layout {
        Layout::new::<GcBox<T>>()
    }
}

/// A `GcBox<T>` followed by `T::tail_len()` bytes. Only the erased pointers in the heap's
/// lists have this type (so the collector sizes and frees the whole allocation); `Gc<T>`
/// points at the inner `GcBox<T>`, at the same address.
#[repr(transparent)]
pub(crate) struct TailBox<T: InlineTail>(GcBox<T>);

/// Layout of a `GcBox<T>` with `len` bytes after it (at offset `size_of::<GcBox<T>>()`).
fn tail_layout<T>(len: usize) -> Layout {
    let bytes = Layout::array::<u8>(len).expect("string too large");
    let (layout, offset) = Layout::new::<GcBox<T>>()
        .extend(bytes)
        .expect("string too large");
    debug_assert_eq!(offset, std::mem::size_of::<GcBox<T>>());
    layout.pad_to_align()
}

impl<T: InlineTail> Erased for TailBox<T> {
    fn header(&self) -> &Header {
        &self.0.header
    }
    fn trace_value(&self, tracer: &mut Tracer) {
        self.0.value.trace(tracer)
    }
    fn trace_ephemeron_value(&self, tracer: &mut Tracer) -> bool {
        self.0.value.trace_ephemeron(tracer)
    }
    fn clear_weak_value(&self, clear_values: bool) {
        self.0.value.clear_weak(clear_values)
    }
    fn size(&self) -> usize {
        self.layout().size() + self.0.value.extra_size()
    }
    fn layout(&self) -> Layout {
        tail_layout::<T>(self.0.value.tail_len())
    }
}

/// A new object: its box, its erased view for the heap's lists and its [`Erased::size`].
pub(crate) type NewBox<T> = (NonNull<GcBox<T>>, NonNull<dyn Erased>, usize);

/// Moves `value` into a new box.
pub(crate) fn new_box<T: Trace + 'static>(heap: u32, value: T) -> NewBox<T> {
    let header = Header {
        flags: Cell::new(0),
        tail: false,
        heap,
    };
    let b = Box::new(GcBox { header, value });
    let size = b.size();
    let ptr = NonNull::from(Box::leak(b));
    (ptr, ptr, size)
}

/// Allocates a box for `value` with room for its tail (zeroed if `zeroed`) and moves the value
/// in; returns the new object and the address of its tail, or `None` if the allocator failed.
fn tail_box_raw<T: InlineTail + 'static>(
    heap: u32,
    value: T,
    zeroed: bool,
) -> Option<(NewBox<T>, *mut u8)> {
    let header = Header {
        flags: Cell::new(0),
        tail: true,
        heap,
    };
    let layout = tail_layout::<T>(value.tail_len());
    let size = layout.size() + value.extra_size();
    // SAFETY: the layout has a non-zero size (it holds at least the header).
    let raw = unsafe {
        if zeroed {
            std::alloc::alloc_zeroed(layout)
        } else {
            std::alloc::alloc(layout)
        }
    };
    let raw = raw.cast::<GcBox<T>>();
    let ptr = NonNull::new(raw)?;
    // SAFETY: `raw` is a fresh allocation of `layout`, which holds a `GcBox<T>` at offset 0
    // (suitably aligned) and the tail at offset `size_of::<GcBox<T>>()`.
    let tail = unsafe {
        raw.write(GcBox { header, value });
        raw.cast::<u8>().add(std::mem::size_of::<GcBox<T>>())
    };
    Some(((ptr, ptr.cast::<TailBox<T>>(), size), tail))
}

/// Allocates a box holding `value` followed by a copy of `tail`.
pub(crate) fn new_tail_box<T: InlineTail + 'static>(heap: u32, value: T, tail: &[u8]) -> NewBox<T> {
    assert_eq!(value.tail_len(), tail.len(), "tail length mismatch");
    let layout = tail_layout::<T>(tail.len());
    let Some((new, dst)) = tail_box_raw(heap, value, false) else {
        std::alloc::handle_alloc_error(layout)
    };
    // SAFETY: `dst` is the start of the fresh object's `tail.len()`-byte tail, which `tail`
    // cannot overlap.
    unsafe { std::ptr::copy_nonoverlapping(tail.as_ptr(), dst, tail.len()) };
    new
}

/// Allocates a box holding `value` followed by `value.tail_len()` bytes that `fill` writes
/// (they start zeroed); `None` if the allocator failed. If `fill` panics the object leaks.
pub(crate) fn try_new_tail_box_with<T: InlineTail + 'static>(
    heap: u32,
    value: T,
    fill: impl FnOnce(&mut [u8]),
) -> Option<NewBox<T>> {
    let len = value.tail_len();
    let (new, dst) = tail_box_raw(heap, value, true)?;
    // SAFETY: `dst` is the start of the fresh object's `len`-byte tail, initialised (zeroed)
    // and reachable by no one else until the object is returned.
    fill(unsafe { std::slice::from_raw_parts_mut(dst, len) });
    Some(new)
}

/// Drops and deallocates an object made by [`new_box`] or [`new_tail_box`]; returns its
/// [`Erased::size`].
///
/// # Safety
/// `p` must be such an object's erased pointer, not used again afterwards (no `Gc` to it
/// dereferenced, no list entry kept).
#[inline]
pub(crate) unsafe fn free(p: NonNull<dyn Erased>) -> usize {
    // SAFETY: the object is alive until here (caller's contract).
    let obj = unsafe { p.as_ref() };
    let size = obj.size();
    if !obj.header().tail {
        // SAFETY: made by `new_box`, i.e. `Box::leak`; freed once.
        drop(unsafe { Box::from_raw(p.as_ptr()) });
    } else {
        let layout = obj.layout();
        // SAFETY: made by `new_tail_box` with `layout` (which the object's constant `tail_len`
        // recomputes); the value is dropped once; `TailBox<T>` is transparent over
        // `GcBox<T>`, whose drop leaves the tail bytes alone.
        unsafe {
            std::ptr::drop_in_place(p.as_ptr());
            std::alloc::dealloc(p.as_ptr().cast::<u8>(), layout);
        }
    }
    size
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

impl<T: InlineTail> Gc<T> {
    /// The bytes stored inline after the object.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let len = (**self).tail_len();
        // SAFETY: objects of an `InlineTail` type are allocated by `new_tail_box`, which
        // copies `tail_len()` bytes right after the `GcBox<T>` (and `tail_len` is constant by
        // the trait's contract); `self.ptr` carries the provenance of the whole allocation;
        // the bytes are never written after allocation and live as long as the object.
        unsafe {
            let start = self
                .ptr
                .as_ptr()
                .cast::<u8>()
                .add(std::mem::size_of::<GcBox<T>>());
            std::slice::from_raw_parts(start, len)
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
