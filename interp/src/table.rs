//! Lua tables: an array part for keys `1..=n` plus an open-addressing hash part.
//!
//! Invariants:
//! * every key lives in exactly one part: an integer key `k` with `1 <= k <= array.len()` is in
//!   the array part, everything else in the hash part;
//! * hash-part keys are normalised (floats with an integral value are stored as integers) and
//!   never nil or NaN (the VM rejects those before calling `set`);
//! * assigning nil to an existing hash key keeps the key ("dead" entry), so `next` keeps
//!   working while a traversal clears fields; dead entries disappear at the next rehash;
//! * a table's interior is only touched through `&self` methods that copy values in and out and
//!   never call back into Lua, so the `UnsafeCell` borrows below never overlap;
//! * every `Table` lives in the heap (the only constructor is [`Table::alloc`]), so the store
//!   methods can run the collector's write barrier on their own header: storing a young value
//!   into an old table puts the table in the remembered list (see `rua_gc`'s generational mode).

use crate::string::{LuaStr, StrExt};
use crate::value::Value;
use rua_gc::{alloc_debt_add, Gc, Heap, Trace, Tracer};
use std::cell::{Cell, UnsafeCell};

/// Metamethods whose absence is cached in [`Table::flags`] (bit = absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CachedMeta {
    Index = 0,
    NewIndex = 1,
    Gc = 2,
    Mode = 3,
    Len = 4,
    Eq = 5,
}

/// Weak-mode bits.
pub const WEAK_KEYS: u8 = 1;
pub const WEAK_VALUES: u8 = 2;
/// Key of a weak-table slot whose entry the collector removed (Lua code cannot create a
/// light userdata, so no key equals it).
const DEAD_KEY: Value = Value::LightUserData(usize::MAX);
/// Not a weak mode: set once the table is in the collector's finalization list.
const FINALIZER_REGISTERED: u8 = 4;

#[derive(Clone, Copy, Default)]
struct Node {
    key: Value,
    val: Value,
}

/// A table's contents. Laid out so that a [`Table`] is 56 bytes (64 in the heap with the
/// collector's header, one allocator size class below the 80 it took with a `Vec` for the
/// hash part and separate flag cells).
#[derive(Default)]
struct Inner {
    array: Vec<Value>,
    /// Power-of-two sized (or empty); `Nil` key = free slot.
    nodes: Box<[Node]>,
    /// Slots with a non-nil key (live or dead). At most `nodes.len()`, which a `u32`
    /// bounds: 2^32 nodes would be 128 GiB.
    used: u32,
    /// Cache: bit `CachedMeta as u8` set means that metamethod is known to be absent from this
    /// table (when used as a metatable). Cleared by every store.
    flags: u8,
    /// Weak mode bits and [`FINALIZER_REGISTERED`].
    weak: u8,
}

/// A Lua table (always in the heap: see [`Table::alloc`]).
pub struct Table {
    inner: UnsafeCell<Inner>,
    meta: Cell<Option<Gc<Table>>>,
}

/// Error from `next` with a key that is not in the table.
#[derive(Debug)]
pub struct InvalidKey;

#[inline]
fn hash_int(i: i64) -> u64 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

#[inline]
fn hash_value(k: &Value) -> u64 {
    match *k {
        Value::Int(i) => hash_int(i),
        Value::Str(s) => s.hash(),
        Value::Float(f) => hash_int(f.to_bits() as i64),
        Value::Bool(b) => b as u64 + 1,
        _ => hash_int(k.gc_addr() as i64),
    }
}

/// Key equality for normalised keys (int/float never mix: integral floats are ints). `a` is a
/// node's key, `b` the key looked up (see [`LuaStr::eq_gc`]).
#[inline]
fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => LuaStr::eq_gc(*x, *y),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a.raw_eq(b) && std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// Normalises a key: floats with integral values become integers.
#[inline]
pub fn normalize_key(k: Value) -> Value {
    if let Value::Float(f) = k {
        if let Some(i) = crate::number::float_to_int_exact(f) {
            return Value::Int(i);
        }
    }
    k
}

/// What the by-reference lookups answer for an absent key.
const NIL: &Value = &Value::Nil;

/// Slots of a hash part for `n` entries: a power of two with load factor at most 3/4, so at
/// least one slot stays free (probes stop at a free slot). A single entry takes 2 slots
/// (64 bytes), which one-field records and small metatables need.
fn hash_slots(n: usize) -> usize {
    (n * 4 / 3 + 1).next_power_of_two().max(2)
}

impl Inner {
    #[inline]
    fn find_slot(&self, key: &Value, h: u64) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let mask = self.nodes.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let n = &self.nodes[i];
            if n.key.is_nil() {
                return None;
            }
            if key_eq(&n.key, key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn get_hash(&self, key: &Value) -> Value {
        *self.get_hash_ref(key)
    }

    /// [`Inner::get_hash`] by reference (see [`Inner::get_str_ref`]).
    #[inline]
    fn get_hash_ref(&self, key: &Value) -> &Value {
        match self.find_slot(key, hash_value(key)) {
            Some(i) => &self.nodes[i].val,
            None => NIL,
        }
    }

    /// The value under string key `s` (nil when absent).
    ///
    /// Answers a reference, to the node's value or to a constant nil, so that a caller can copy
    /// the value once from memory. A `Value` held in a local (the fast loop's `GETFIELD` tests
    /// its tag, then stores it) is split by the compiler into a tag byte and 15 bytes, moved
    /// through overlapping stack stores whose reloads stall on store forwarding: about a
    /// tenth of the fast loop's cycles on field-heavy code.
    #[inline]
    fn get_str_ref(&self, s: Gc<LuaStr>) -> &Value {
        if self.nodes.is_empty() {
            return NIL;
        }
        let mask = self.nodes.len() - 1;
        let mut i = (s.hash() as usize) & mask;
        loop {
            let n = &self.nodes[i];
            match n.key {
                Value::Nil => return NIL,
                Value::Str(k) if LuaStr::eq_gc(k, s) => return &n.val,
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    /// The hash-part slot holding string key `s` (live or dead), if any.
    #[inline(always)]
    fn find_str(&self, s: Gc<LuaStr>) -> Option<usize> {
        let len = self.nodes.len();
        if len == 0 {
            return None;
        }
        let mask = len - 1;
        let mut i = (s.hash() as usize) & mask;
        loop {
            // SAFETY: `i` is masked by `len - 1` with `len > 0`, so `i < len` (no bounds
            // check in the probe loop of every field access).
            let n = unsafe { self.nodes.get_unchecked(i) };
            match n.key {
                Value::Nil => return None,
                Value::Str(k) if LuaStr::eq_gc(k, s) => return Some(i),
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn get_str(&self, s: Gc<LuaStr>) -> Value {
        *self.get_str_ref(s)
    }

    #[inline]
    fn get_int(&self, i: i64) -> Value {
        *self.get_int_ref(i)
    }

    /// [`Inner::get_int`] by reference (see [`Inner::get_str_ref`]).
    #[inline]
    fn get_int_ref(&self, i: i64) -> &Value {
        let idx = (i as u64).wrapping_sub(1);
        if idx < self.array.len() as u64 {
            &self.array[idx as usize]
        } else {
            self.get_hash_ref(&Value::Int(i))
        }
    }

    fn set(&mut self, key: Value, val: Value) {
        if let Value::Int(i) = key {
            let idx = (i as u64).wrapping_sub(1);
            let len = self.array.len() as u64;
            if idx < len {
                self.array[idx as usize] = val;
                return;
            }
            if idx == len && !val.is_nil() {
                // Appending right after the array part: move into the array.
                if let Some(slot) = self.find_slot(&key, hash_value(&key)) {
                    self.nodes[slot].val = Value::Nil;
                }
                let cap = self.array.capacity();
                self.array.push(val);
                if self.array.capacity() != cap {
                    alloc_debt_add((self.array.capacity() - cap) * 16);
                }
                self.migrate_from_hash();
                return;
            }
        }
        let h = hash_value(&key);
        if let Some(slot) = self.find_slot(&key, h) {
            self.nodes[slot].val = val;
            return;
        }
        if val.is_nil() {
            return;
        }
        if (self.used as usize + 1) * 4 > self.nodes.len() * 3 {
            self.rehash(&key);
            // The key may now belong to the array part; `reinsert` never rehashes again.
            self.reinsert(key, val);
            return;
        }
        self.insert_new(key, val, h);
    }

    /// After the array grew, pull the following integer keys out of the hash part.
    fn migrate_from_hash(&mut self) {
        if self.used == 0 {
            return;
        }
        loop {
            let next = Value::Int(self.array.len() as i64 + 1);
            match self.find_slot(&next, hash_value(&next)) {
                Some(slot) if !self.nodes[slot].val.is_nil() => {
                    let v = self.nodes[slot].val;
                    self.nodes[slot].val = Value::Nil;
                    self.array.push(v);
                }
                _ => break,
            }
        }
    }

    fn insert_new(&mut self, key: Value, val: Value, h: u64) {
        let mask = self.nodes.len() - 1;
        let mut i = (h as usize) & mask;
        while !self.nodes[i].key.is_nil() {
            i = (i + 1) & mask;
        }
        self.nodes[i] = Node { key, val };
        self.used += 1;
    }

    /// Rebuilds both parts sized for the live entries plus `extra`.
    fn rehash(&mut self, extra: &Value) {
        // nums[b]: number of integer keys k with 2^(b-1) < k <= 2^b (nums[0]: k == 1).
        let mut nums = [0usize; 65];
        let mut total_int = 0usize;
        let count_int = |k: i64, nums: &mut [usize; 65], total: &mut usize| {
            if k >= 1 {
                let b = 64 - ((k - 1) as u64).leading_zeros() as usize;
                nums[b] += 1;
                *total += 1;
            }
        };
        for (i, v) in self.array.iter().enumerate() {
            if !v.is_nil() {
                count_int(i as i64 + 1, &mut nums, &mut total_int);
            }
        }
        let mut live_hash = 0usize;
        for n in &self.nodes {
            if !n.key.is_nil() && !n.val.is_nil() {
                live_hash += 1;
                if let Value::Int(k) = n.key {
                    count_int(k, &mut nums, &mut total_int);
                }
            }
        }
        if let Value::Int(k) = *extra {
            count_int(k, &mut nums, &mut total_int);
        }
        // Largest power of two n such that more than n/2 of the slots 1..=n would be used.
        let mut acc = 0usize;
        let mut array_size = 0usize;
        let mut in_array = 0usize;
        for (b, &c) in nums.iter().enumerate().take(62) {
            let twotoi = 1usize << b;
            if total_int <= twotoi / 2 {
                break;
            }
            acc += c;
            if acc > twotoi / 2 {
                array_size = twotoi;
                in_array = acc;
            }
        }
        let total = self.array.iter().filter(|v| !v.is_nil()).count() + live_hash + 1;
        let hash_count = total - in_array.min(total);
        let old_array = std::mem::take(&mut self.array);
        let old_nodes = std::mem::take(&mut self.nodes);
        let old_bytes = old_array.capacity() * 16 + old_nodes.len() * 32;
        self.array = vec![Value::Nil; array_size];
        let node_size = if hash_count == 0 {
            0
        } else {
            hash_slots(hash_count)
        };
        self.nodes = vec![Node::default(); node_size].into_boxed_slice();
        self.used = 0;
        let new_bytes = self.array.capacity() * 16 + self.nodes.len() * 32;
        if new_bytes > old_bytes {
            alloc_debt_add(new_bytes - old_bytes);
        }
        for (i, v) in old_array.into_iter().enumerate() {
            if !v.is_nil() {
                self.reinsert(Value::Int(i as i64 + 1), v);
            }
        }
        for n in old_nodes.iter() {
            if !n.key.is_nil() && !n.val.is_nil() {
                self.reinsert(n.key, n.val);
            }
        }
    }

    fn reinsert(&mut self, key: Value, val: Value) {
        if let Value::Int(i) = key {
            let idx = (i as u64).wrapping_sub(1);
            if idx < self.array.len() as u64 {
                self.array[idx as usize] = val;
                return;
            }
        }
        if self.nodes.is_empty() || (self.used as usize + 1) * 4 > self.nodes.len() * 3 {
            // Can only happen if the sizing above undercounted; grow defensively.
            let mut bigger =
                vec![Node::default(); (self.nodes.len() * 2).max(4)].into_boxed_slice();
            std::mem::swap(&mut bigger, &mut self.nodes);
            self.used = 0;
            for n in bigger.iter() {
                if !n.key.is_nil() {
                    let h = hash_value(&n.key);
                    self.insert_new(n.key, n.val, h);
                }
            }
        }
        let h = hash_value(&key);
        self.insert_new(key, val, h);
    }

    fn border(&self) -> u64 {
        let n = self.array.len();
        if n > 0 && self.array[n - 1].is_nil() {
            // Binary search for a border inside the array: array[lo] non-nil (or lo == 0),
            // array[hi] nil.
            let (mut lo, mut hi) = (0usize, n);
            while hi - lo > 1 {
                let m = (lo + hi) / 2;
                if self.array[m - 1].is_nil() {
                    hi = m;
                } else {
                    lo = m;
                }
            }
            return lo as u64;
        }
        if self.used == 0 {
            return n as u64;
        }
        // Unbounded search in the hash part.
        let mut i = n as u64;
        let mut j = i + 1;
        while !self.get_int(j as i64).is_nil() {
            i = j;
            if j > (i64::MAX as u64) / 2 {
                // Pathological: linear search.
                let mut k = 1u64;
                while !self.get_int(k as i64).is_nil() {
                    k += 1;
                }
                return k - 1;
            }
            j *= 2;
        }
        while j - i > 1 {
            let m = (i + j) / 2;
            if self.get_int(m as i64).is_nil() {
                j = m;
            } else {
                i = m;
            }
        }
        i
    }
}

impl Table {
    /// A new table in `heap` with room for `narray` array items and `nhash` hash entries.
    pub fn alloc(heap: &mut Heap, narray: usize, nhash: usize) -> Gc<Table> {
        // The array part is presized with nils (as PUC's constructor does), so `#` of a
        // constructor with trailing positional items sees them: `#{1, nil, nil, 4} == 4`.
        let mut inner = Inner {
            array: vec![Value::Nil; narray],
            ..Inner::default()
        };
        if nhash > 0 {
            let size = hash_slots(nhash);
            inner.nodes = vec![Node::default(); size].into_boxed_slice();
        }
        heap.alloc(Table {
            inner: UnsafeCell::new(inner),
            meta: Cell::new(None),
        })
    }

    /// A new table whose array part is `array` (`array[0]` at key 1), for a buffer the caller
    /// allocated fallibly (see `State::try_vec`).
    pub fn from_array(heap: &mut Heap, array: Vec<Value>) -> Gc<Table> {
        heap.alloc(Table {
            inner: UnsafeCell::new(Inner {
                array,
                ..Inner::default()
            }),
            meta: Cell::new(None),
        })
    }

    /// Write barrier for a store of `v` into this table: one header-bit test unless the table
    /// is old (generational mode).
    #[inline(always)]
    fn barrier(&self, v: Value) {
        let me = self.as_gc();
        if me.is_old() {
            crate::value::barrier_slow(me, v);
        }
    }

    /// Write barrier for a store of the entry `k = v`.
    #[inline(always)]
    fn barrier_entry(&self, k: Value, v: Value) {
        let me = self.as_gc();
        if me.is_old() {
            crate::value::barrier_slow(me, k);
            crate::value::barrier_slow(me, v);
        }
    }

    #[inline(always)]
    fn as_gc(&self) -> Gc<Table> {
        // SAFETY: every Table is the value of a live GcBox<Table> (module invariant: the only
        // constructor is `Table::alloc`), and `&self` proves it is alive.
        unsafe { Gc::from_ptr(self as *const Table) }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline]
    fn inner_mut(&self) -> &mut Inner {
        // SAFETY: see the module invariants: methods borrow the interior only for their own
        // duration, never call out, and the VM is single-threaded, so no two borrows overlap.
        unsafe { &mut *self.inner.get() }
    }

    #[inline]
    fn inner(&self) -> &Inner {
        // SAFETY: as for `inner_mut`.
        unsafe { &*self.inner.get() }
    }

    /// Raw get (no metamethods).
    #[inline]
    pub fn get(&self, key: Value) -> Value {
        match key {
            Value::Int(i) => self.inner().get_int(i),
            Value::Str(s) => self.inner().get_str(s),
            Value::Nil => Value::Nil,
            Value::Float(f) => match crate::number::float_to_int_exact(f) {
                Some(i) => self.inner().get_int(i),
                None => self.inner().get_hash(&key),
            },
            _ => self.inner().get_hash(&key),
        }
    }

    /// Raw get with an integer key.
    #[inline]
    pub fn get_int(&self, i: i64) -> Value {
        self.inner().get_int(i)
    }

    /// Raw get with a string key.
    #[inline]
    pub fn get_str(&self, s: Gc<LuaStr>) -> Value {
        self.inner().get_str(s)
    }

    /// Raw get with an integer key, as a reference (see [`Table::get_str_ref`]).
    #[inline]
    pub fn get_int_ref(&self, i: i64) -> &Value {
        self.inner().get_int_ref(i)
    }

    /// Raw get with a string key, as a reference (to the entry's value, or to a constant
    /// nil): for hot paths that store the value straight into a register, so that it is
    /// copied once, memory to memory (see `Inner::get_str_ref`). The reference must not
    /// outlive the next store into this table.
    #[inline]
    pub fn get_str_ref(&self, s: Gc<LuaStr>) -> &Value {
        self.inner().get_str_ref(s)
    }

    /// Raw set. The key must not be nil or NaN (the caller raises the Lua error).
    #[inline]
    pub fn set(&self, key: Value, val: Value) {
        debug_assert!(!key.is_nil());
        self.barrier_entry(key, val);
        let inner = self.inner_mut();
        inner.flags = 0;
        inner.set(normalize_key(key), val)
    }

    /// Raw set with a string key: overwrites an existing entry in place, otherwise inserts
    /// out of line. Not inlined: in the fast loop it took registers from the dispatch state.
    #[inline(never)]
    pub fn set_str(&self, s: Gc<LuaStr>, val: Value) {
        // The key of an existing entry is already in the table: only the value needs the
        // barrier here; `insert_str` runs it for a new key.
        self.barrier(val);
        let inner = self.inner_mut();
        inner.flags = 0;
        match inner.find_str(s) {
            // SAFETY: `find_str` answers an index of `nodes`.
            Some(i) => unsafe { inner.nodes.get_unchecked_mut(i).val = val },
            None => self.insert_str(s, val),
        }
    }

    /// [`Table::set_str`] of a key not in the table.
    #[inline(never)]
    fn insert_str(&self, s: Gc<LuaStr>, val: Value) {
        self.barrier(Value::Str(s));
        self.inner_mut().set(Value::Str(s), val)
    }

    /// Raw set with an integer key.
    #[inline]
    pub fn set_int(&self, i: i64, val: Value) {
        self.barrier(val);
        let inner = self.inner_mut();
        let idx = (i as u64).wrapping_sub(1);
        let len = inner.array.len();
        if idx < len as u64 {
            inner.array[idx as usize] = val;
        } else if idx == len as u64
            && inner.used == 0
            && len < inner.array.capacity()
            && !val.is_nil()
        {
            // Appending with room to spare and no hash part to migrate keys from.
            inner.array.push(val);
        } else {
            inner.flags = 0;
            inner.set(Value::Int(i), val)
        }
    }

    /// The border `#t` (raw).
    pub fn len(&self) -> u64 {
        self.inner().border()
    }

    /// `true` if `#t == 0`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the array part.
    pub fn array_len(&self) -> usize {
        self.inner().array.len()
    }

    /// Traversal: the entry after `key` (`Nil` starts), or `None` at the end.
    pub fn next(&self, key: Value) -> Result<Option<(Value, Value)>, InvalidKey> {
        let inner = self.inner();
        let alen = inner.array.len();
        let mut pos = match normalize_key(key) {
            Value::Nil => 0,
            Value::Int(i) if i >= 1 && (i as u64) <= alen as u64 => i as usize,
            k => match inner.find_slot(&k, hash_value(&k)) {
                Some(slot) => alen + slot + 1,
                None => return Err(InvalidKey),
            },
        };
        while pos < alen {
            let v = inner.array[pos];
            if !v.is_nil() {
                return Ok(Some((Value::Int(pos as i64 + 1), v)));
            }
            pos += 1;
        }
        let mut slot = pos - alen;
        while slot < inner.nodes.len() {
            let n = &inner.nodes[slot];
            if !n.key.is_nil() && !n.val.is_nil() {
                return Ok(Some((n.key, n.val)));
            }
            slot += 1;
        }
        Ok(None)
    }

    #[inline]
    pub fn metatable(&self) -> Option<Gc<Table>> {
        self.meta.get()
    }

    /// Sets the metatable; `weak` is the weak mode (`WEAK_KEYS | WEAK_VALUES` bits) computed by
    /// the caller from the metatable's `__mode`.
    pub fn set_metatable(&self, mt: Option<Gc<Table>>, weak: u8) {
        if let Some(m) = mt {
            self.barrier(Value::Table(m));
        }
        self.meta.set(mt);
        let inner = self.inner_mut();
        inner.weak = (inner.weak & FINALIZER_REGISTERED) | (weak & (WEAK_KEYS | WEAK_VALUES));
    }

    /// `true` if the metamethod is known to be absent (cache bit set).
    #[inline]
    pub fn meta_absent(&self, m: CachedMeta) -> bool {
        self.inner().flags & (1 << m as u8) != 0
    }

    /// Records that the metamethod is absent.
    #[inline]
    pub fn set_meta_absent(&self, m: CachedMeta) {
        self.inner_mut().flags |= 1 << m as u8;
    }

    /// `true` if this table was registered for finalization.
    pub fn finalizer_registered(&self) -> bool {
        self.inner().weak & FINALIZER_REGISTERED != 0
    }

    /// Marks the table as registered for finalization.
    pub fn set_finalizer_registered(&self) {
        self.inner_mut().weak |= FINALIZER_REGISTERED;
    }

    /// Weak mode bits.
    pub fn weak_mode(&self) -> u8 {
        self.inner().weak & (WEAK_KEYS | WEAK_VALUES)
    }

    /// Appends the array part and then the hash part entries (live only) — for bulk reads.
    pub fn array_slice_copy(&self, from: usize, to: usize) -> Vec<Value> {
        (from..=to).map(|i| self.get_int(i as i64)).collect()
    }
}

impl Trace for Table {
    fn trace(&self, t: &mut Tracer) {
        if let Some(mt) = self.meta.get() {
            t.mark(mt);
        }
        let inner = self.inner();
        let weak = self.weak_mode();
        if weak == 0 {
            for v in &inner.array {
                v.trace(t);
            }
            for n in &inner.nodes {
                // Tombstone keys (nil value) are marked too: string keys are compared by
                // content, so they must stay valid while they sit in the hash part.
                n.key.trace(t);
                n.val.trace(t);
            }
            return;
        }
        t.register_weak(self.as_gc());
        // Strings are never weak; strong parts are marked now.
        for v in &inner.array {
            if weak & WEAK_VALUES == 0 || matches!(v, Value::Str(_)) {
                v.trace(t);
            }
        }
        for n in &inner.nodes {
            // Keys of weak-key tables, strings included, are dealt with in `clear_weak`.
            if weak & WEAK_KEYS == 0 {
                n.key.trace(t);
            }
            if n.val.is_nil() {
                continue;
            }
            // Values of weak-value tables are not marked (strings are values, never cleared);
            // values of ephemeron tables are marked in `trace_ephemeron`.
            if matches!(n.val, Value::Str(_)) {
                n.val.trace(t);
            }
        }
    }

    fn trace_ephemeron(&self, t: &mut Tracer) -> bool {
        let weak = self.weak_mode();
        if weak & WEAK_KEYS == 0 || weak & WEAK_VALUES != 0 {
            return false;
        }
        let mut changed = false;
        for n in &self.inner().nodes {
            if n.val.is_nil() {
                continue;
            }
            if !n.key.is_dead_object() && n.val.is_dead_object() {
                n.val.trace(t);
                changed = true;
            }
        }
        changed
    }

    fn clear_weak(&self, values_only: bool) {
        let weak = self.weak_mode();
        let inner = self.inner_mut();
        if weak & WEAK_VALUES != 0 {
            for v in inner.array.iter_mut() {
                if v.is_dead_object() {
                    *v = Value::Nil;
                }
            }
        }
        for n in inner.nodes.iter_mut() {
            if n.val.is_nil() {
                continue;
            }
            let dead_key = !values_only && weak & WEAK_KEYS != 0 && n.key.is_dead_object();
            let dead_val = weak & WEAK_VALUES != 0 && n.val.is_dead_object();
            if dead_key || dead_val {
                n.val = Value::Nil;
            }
        }
        if values_only || weak & WEAK_KEYS == 0 {
            return;
        }
        // Last pass before sweeping: string keys were not marked by `trace`. Keys of surviving
        // entries are kept (strings are values, never weak); keys of removed entries and
        // tombstones are replaced by a placeholder no Lua key equals, so the slot stays
        // occupied (probe chains) without referring to a string about to be freed.
        for n in inner.nodes.iter_mut() {
            if n.val.is_nil() {
                // Also dead object keys: were the table ever made strong again, `trace` would
                // otherwise mark freed objects.
                if matches!(n.key, Value::Str(_)) || n.key.is_dead_object() {
                    n.key = DEAD_KEY;
                }
            } else if let Value::Str(s) = n.key {
                s.mark_leaf();
            }
        }
    }

    fn extra_size(&self) -> usize {
        let inner = self.inner();
        inner.array.capacity() * 16 + inner.nodes.len() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table in a throwaway heap (leaked: these tests hold no other objects).
    pub(super) fn new_table() -> Gc<Table> {
        let heap = Box::leak(Box::new(Heap::new()));
        Table::alloc(heap, 0, 0)
    }

    #[test]
    fn one_hash_entry_takes_two_slots_and_lookups_of_absent_keys_stop() {
        let t = new_table();
        let k = Value::Bool(true);
        t.set(k, Value::Int(1));
        assert_eq!(t.inner().nodes.len(), 2);
        assert!(matches!(t.get(k), Value::Int(1)));
        assert!(t.get(Value::Bool(false)).is_nil());
        assert!(t.get(Value::Float(0.5)).is_nil());
        t.set(Value::Bool(false), Value::Int(2));
        assert_eq!(t.inner().nodes.len(), 4);
        assert!(matches!(t.get(k), Value::Int(1)));
        assert!(matches!(t.get(Value::Bool(false)), Value::Int(2)));
        assert_eq!(hash_slots(1), 2);
        assert_eq!(hash_slots(2), 4);
        assert_eq!(hash_slots(3), 8);
    }

    #[test]
    fn a_table_fits_the_64_byte_size_class_with_its_header() {
        // 8-byte collector header + 56: tables are the most numerous objects of many programs.
        assert_eq!(std::mem::size_of::<Table>(), 56);
    }

    #[test]
    fn cached_meta_bits_and_weak_mode_share_the_interior_without_clobbering() {
        let t = new_table();
        t.set_meta_absent(CachedMeta::Index);
        t.set_finalizer_registered();
        assert!(t.meta_absent(CachedMeta::Index));
        assert!(t.finalizer_registered());
        // A store clears the cache but not the finalizer registration.
        t.set_int(1, Value::Int(1));
        assert!(!t.meta_absent(CachedMeta::Index));
        assert!(t.finalizer_registered());
        assert_eq!(t.weak_mode(), 0);
    }

    #[test]
    fn array_and_hash_parts() {
        let t = new_table();
        for i in 1..=100 {
            t.set(Value::Int(i), Value::Int(i * 10));
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.array_len(), 100);
        assert!(matches!(t.get(Value::Int(50)), Value::Int(500)));
        assert!(matches!(t.get(Value::Float(50.0)), Value::Int(500)));
        t.set(Value::Int(1000), Value::Bool(true));
        t.set(Value::Float(1.5), Value::Bool(false));
        assert!(matches!(t.get(Value::Float(1.5)), Value::Bool(false)));
        assert!(matches!(t.get(Value::Int(1000)), Value::Bool(true)));
        assert_eq!(t.len(), 100);
        t.set(Value::Int(100), Value::Nil);
        assert_eq!(t.len(), 99);
    }

    #[test]
    fn reverse_fill_moves_to_array_on_rehash() {
        let t = new_table();
        for i in (1..=64).rev() {
            t.set(Value::Int(i), Value::Int(i));
        }
        assert_eq!(t.len(), 64);
        let mut n = 0;
        let mut k = Value::Nil;
        while let Some((key, _)) = t.next(k).unwrap() {
            n += 1;
            k = key;
        }
        assert_eq!(n, 64);
    }

    #[test]
    fn next_survives_clearing() {
        let t = new_table();
        for i in 0..50 {
            t.set(Value::Float(i as f64 + 0.5), Value::Int(i));
        }
        let mut k = Value::Nil;
        let mut seen = 0;
        while let Some((key, _)) = t.next(k).unwrap() {
            t.set(key, Value::Nil);
            seen += 1;
            k = key;
        }
        assert_eq!(seen, 50);
        assert!(t.next(Value::Nil).unwrap().is_none());
        assert!(t.next(Value::Float(1000.5)).is_err());
    }
}

#[cfg(test)]
mod regression_tests {
    use super::tests::new_table;
    use super::*;

    /// A key that the sizing places in the array part beyond the current contents must not
    /// send `set` into endless rehashing.
    #[test]
    fn sparse_int_keys_after_rehash() {
        let t = new_table();
        t.set(Value::Int(1), Value::Int(1));
        t.set(Value::Int(2), Value::Int(2));
        t.set(Value::Int(4), Value::Int(4));
        for k in [8, 3, 16, 5, 6, 7, 100, 64, 9] {
            t.set(Value::Int(k), Value::Int(k));
        }
        for k in [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 64, 100] {
            assert!(matches!(t.get(Value::Int(k)), Value::Int(v) if v == k));
        }
        assert!(t.get(Value::Int(10)).is_nil());
    }
}
