//! Lua strings ([`LuaStr`]: immutable byte strings with a cached hash) and the interner that
//! makes every short string unique, so short-string equality is pointer equality.
//!
//! Short strings (at most [`SHORT_MAX`] bytes) are interned at creation; long strings are not,
//! and hash lazily. The interner is weak: after marking, the collector removes unmarked strings
//! from it ([`Interner::remove_dead`]) before sweeping.

//!
//! A string is one allocation: the collector's header, the [`LuaStr`] fields (hash and length),
//! then the bytes inline ([`rua_gc::InlineTail`]), read with `Gc::<LuaStr>::as_bytes`. Comparing
//! or hashing a short string touches one cache line, and a string costs one allocation.

use rua_gc::{Gc, Heap, InlineTail, Trace, Tracer};
use std::borrow::Cow;
use std::cell::Cell;

/// Longest string that is interned.
pub const SHORT_MAX: usize = 40;

/// An immutable Lua string: the header of an allocation whose bytes follow it (so the object
/// with the collector's header is 24 bytes plus the bytes, rounded up to 8).
pub struct LuaStr {
    /// The content hash, or 0 while not computed ([`hash_bytes`] never returns 0).
    hash: Cell<u64>,
    len: usize,
}

impl Trace for LuaStr {
    fn trace(&self, _t: &mut Tracer) {}
    const LEAF: bool = true;
}

// SAFETY: `LuaStr`s are created only by `alloc_str` and `Interner::try_build`, which allocate
// them with `alloc_tail`/`try_alloc_tail_with` and a tail of exactly `len` bytes; `len` is
// private and never changes.
unsafe impl InlineTail for LuaStr {
    #[inline]
    fn tail_len(&self) -> usize {
        self.len
    }
}

/// Allocates a string object with content `bytes` and hash `hash` (0: not computed).
fn alloc_str(heap: &mut Heap, bytes: &[u8], hash: u64) -> Gc<LuaStr> {
    let head = LuaStr {
        hash: Cell::new(hash),
        len: bytes.len(),
    };
    heap.alloc_tail(head, bytes)
}

impl LuaStr {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn is_short(&self) -> bool {
        self.len <= SHORT_MAX
    }

    /// Content equality, using pointer equality when both are interned.
    ///
    /// Equal contents have equal lengths, so `a` and `b` are either both short or both long:
    /// only `b` is looked at to tell. Pass as `b` the string likely in cache (the key being
    /// looked up): a table probe that meets another key `a` then decides without loading
    /// `a`'s header, which on a big table is a cache miss per collision.
    #[inline]
    pub fn eq_gc(a: Gc<LuaStr>, b: Gc<LuaStr>) -> bool {
        Gc::ptr_eq(a, b) || (!b.is_short() && eq_long(a, b))
    }
}

/// Content equality of two strings, out of line (the table probes inlined into the fast loop
/// keep only the pointer test).
#[cold]
#[inline(never)]
fn eq_long(a: Gc<LuaStr>, b: Gc<LuaStr>) -> bool {
    a.as_bytes() == b.as_bytes()
}

/// Computes and caches the hash of a long string, out of line like [`eq_long`].
#[cold]
#[inline(never)]
fn hash_long(s: Gc<LuaStr>) -> u64 {
    let h = hash_bytes(s.as_bytes());
    s.hash.set(h);
    h
}

/// Methods of a string that need its bytes, hence the `Gc` (whose pointer reaches them).
pub trait StrExt {
    /// The string's hash (computed on first use for long strings).
    fn hash(&self) -> u64;
    /// Lossy UTF-8 view for messages.
    fn to_str_lossy(&self) -> Cow<'_, str>;
}

impl StrExt for Gc<LuaStr> {
    #[inline]
    fn hash(&self) -> u64 {
        let h = self.hash.get();
        if h != 0 {
            h
        } else {
            hash_long(*self)
        }
    }
    fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

/// Hash function for strings (FxHash-style word mixing with a final avalanche). Never 0
/// (0 marks a long string whose hash is not computed yet).
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    h.max(1)
}

/// The set of interned short strings.
#[derive(Default)]
pub struct Interner {
    set: hashbrown::HashTable<Gc<LuaStr>>,
}

impl Interner {
    /// Returns the string with content `bytes`, allocating it if needed.
    pub fn intern(&mut self, heap: &mut Heap, bytes: &[u8]) -> Gc<LuaStr> {
        if bytes.len() > SHORT_MAX {
            return alloc_str(heap, bytes, 0);
        }
        let h = hash_bytes(bytes);
        if let Some(s) = self.set.find(h, |s| s.as_bytes() == bytes) {
            return *s;
        }
        let s = alloc_str(heap, bytes, h);
        self.set.insert_unique(h, s, |s| s.hash());
        s
    }

    /// The string of `len` bytes that `fill` writes (into zeroed bytes): a long string is
    /// written in place, in its own allocation, with no buffer to copy from. `None` if the
    /// allocator failed.
    pub fn try_build(
        &mut self,
        heap: &mut Heap,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Option<Gc<LuaStr>> {
        if len <= SHORT_MAX {
            let mut buf = [0u8; SHORT_MAX];
            fill(&mut buf[..len]);
            return Some(self.intern(heap, &buf[..len]));
        }
        let head = LuaStr {
            hash: Cell::new(0),
            len,
        };
        heap.try_alloc_tail_with(head, fill)
    }

    /// Forgets every string that was not marked in the current collection.
    pub fn remove_dead(&mut self) {
        self.set.retain(|s| s.is_marked());
    }

    /// Number of interned strings.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_unique() {
        let mut heap = Heap::new();
        let mut i = Interner::default();
        let a = i.intern(&mut heap, b"hello");
        let b = i.intern(&mut heap, b"hello");
        assert!(Gc::ptr_eq(a, b));
        let long = vec![b'x'; 100];
        let c = i.intern(&mut heap, &long);
        let d = i.intern(&mut heap, &long);
        assert!(!Gc::ptr_eq(c, d));
        assert!(LuaStr::eq_gc(c, d));
        assert_eq!(c.hash(), d.hash());
        assert_ne!(c.hash(), 0);
        assert_eq!(std::mem::size_of::<LuaStr>(), 16);
        assert_eq!(c.as_bytes(), &long[..]);
        assert_eq!(a.as_bytes(), b"hello");
        heap.tracer().mark(a);
        heap.propagate();
        i.remove_dead();
        heap.sweep();
        assert_eq!(i.len(), 1);
        assert_eq!(heap.object_count(), 1);
        let fill = |b: &mut [u8]| b.fill(b'y');
        let short = i.try_build(&mut heap, 3, fill).unwrap();
        assert!(Gc::ptr_eq(short, i.intern(&mut heap, b"yyy")));
        let built = i.try_build(&mut heap, 50, fill).unwrap();
        assert_eq!(built.as_bytes(), &[b'y'; 50][..]);
        assert_eq!(built.hash(), hash_bytes(&[b'y'; 50]));
    }
}
