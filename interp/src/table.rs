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
use std::mem::MaybeUninit;

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

/// A hash-part key: a [`Value`] with the low 32 bits of its hash in bytes 4..8, which are
/// padding in every variant of `Value`'s `#[repr(C, u8)]` layout (tag byte at 0, payload at 8).
/// Rehashing and probes read the hash from the node instead of from a string key's header,
/// which on a big table is a cache miss per key. Node stays 32 bytes.
#[derive(Clone, Copy)]
#[repr(C)]
union Key {
    value: Value,
    parts: KeyParts,
}

/// [`Key`]'s bytes with the hash field; every byte is covered (`MaybeUninit` where the value's
/// tag and payload are), so copies of a `Key` keep the hash.
#[derive(Clone, Copy)]
#[repr(C)]
struct KeyParts {
    _tag: [MaybeUninit<u8>; 4],
    hash: u32,
    _payload: MaybeUninit<u64>,
}

const _: () = assert!(std::mem::size_of::<Key>() == 16 && std::mem::size_of::<Node>() == 32);

impl Key {
    const FREE: Key = Key::new(Value::Nil, 0);

    #[inline(always)]
    const fn new(value: Value, hash: u32) -> Key {
        let mut k = Key { value };
        k.parts.hash = hash;
        k
    }

    #[inline(always)]
    fn value(&self) -> &Value {
        // SAFETY: every `Key` is made by `Key::new`, which writes a whole `Value` and then only
        // bytes 4..8, padding of every variant of the `#[repr(C, u8)]` enum; so the bytes
        // read as a `Value` are the ones written as one.
        unsafe { &self.value }
    }

    #[inline(always)]
    fn hash(&self) -> u32 {
        // SAFETY: `Key::new` writes the hash field last; nothing else writes bytes 4..8.
        unsafe { self.parts.hash }
    }

    #[inline(always)]
    fn is_free(&self) -> bool {
        self.value().is_nil()
    }
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Node {
    key: Key,
    val: Value,
}

impl Node {
    const FREE: Node = Node {
        key: Key::FREE,
        val: Value::Nil,
    };
}

/// A table's contents. Laid out so that a [`Table`] is 56 bytes (64 in the heap with the
/// collector's header, one allocator size class below the 80 it took with a `Vec` for the
/// hash part and separate flag cells).
#[derive(Default)]
struct Inner {
    array: Vec<Value>,
    /// Power-of-two sized (or empty); `Nil` key = free slot. Linear probing with Robin Hood
    /// placement (see [`Inner::insert_node`]); a part of at most 4 slots may be full, so
    /// probes stop at a free slot or after `probe_max` steps.
    nodes: Box<[Node]>,
    /// Slots with a non-nil key (live or dead). At most `nodes.len()`, which a `u32`
    /// bounds: 2^32 nodes would be 128 GiB.
    used: u32,
    /// Longest distance of a key from its hash's slot (saturated at `u16::MAX`, which means
    /// "unknown": probe every slot): a lookup that did not find its key within that many steps
    /// after its slot stops. Misses in small full parts (records) mostly cost one probe.
    probe_max: u16,
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

/// A key's hash, truncated to the 32 bits a node keeps (a hash part has at most 2^32 slots).
#[inline]
fn hash_value(k: &Value) -> u32 {
    (match *k {
        Value::Int(i) => hash_int(i),
        Value::Str(s) => s.hash(),
        Value::Float(f) => hash_int(f.to_bits() as i64),
        Value::Bool(b) => b as u64 + 1,
        _ => hash_int(k.gc_addr() as i64),
    }) as u32
}

/// String-key equality for a probe: `k` is the node's key (with its stored hash `kh`), `s` the
/// key looked up (hash `h`). Short strings are interned, so only long strings of equal hash
/// get their bytes compared: a collision is decided without loading `k`'s header.
#[inline(always)]
fn str_key_eq(k: Gc<LuaStr>, kh: u32, s: Gc<LuaStr>, h: u32) -> bool {
    Gc::ptr_eq(k, s) || (kh == h && LuaStr::eq_gc(k, s))
}

/// Key equality for normalised keys (int/float never mix: integral floats are ints). `a` is a
/// node's key, `b` the key looked up, whose hash is `h`.
#[inline]
fn key_eq(a: &Key, b: &Value, h: u32) -> bool {
    let av = a.value();
    match (av, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => str_key_eq(*x, a.hash(), *y, h),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => av.raw_eq(b) && std::mem::discriminant(av) == std::mem::discriminant(b),
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

/// Most entries a hash part of `slots` slots holds: all of them up to 4 slots (a record of 2
/// fields takes 2 slots, 64 bytes), else 7/8 of them (Robin Hood placement keeps probe
/// sequences short at that load).
#[inline]
fn max_fill(slots: usize) -> usize {
    if slots <= 4 {
        slots
    } else {
        slots / 8 * 7
    }
}

/// Slots of a hash part for `n` entries: the smallest power of two that holds them.
fn hash_slots(n: usize) -> usize {
    let mut slots = n.next_power_of_two();
    while max_fill(slots) < n {
        slots *= 2;
    }
    slots
}

impl Inner {
    #[inline]
    fn find_slot(&self, key: &Value, h: u32) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let mask = self.nodes.len() - 1;
        let mut i = (h as usize) & mask;
        let limit = self.probe_limit();
        let mut dist = 0;
        loop {
            let n = &self.nodes[i];
            if n.key.is_free() {
                return None;
            }
            if key_eq(&n.key, key, h) {
                return Some(i);
            }
            if dist == limit || self.displacement(i) < dist {
                return None;
            }
            dist += 1;
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
    ///
    /// The probe loop is written out rather than calling [`Inner::find_str`]: built on it
    /// (unchecked slot read), the inlined probe moved the fast loop's register allocation,
    /// oop 234 -> 241 M instructions, nbody 220 -> 223, fib 62.4 -> 63.1.
    #[inline]
    fn get_str_ref(&self, s: Gc<LuaStr>) -> &Value {
        if self.nodes.is_empty() {
            return NIL;
        }
        let mask = self.nodes.len() - 1;
        let h = s.hash() as u32;
        let mut i = (h as usize) & mask;
        let mut left = self.probe_limit();
        loop {
            let n = &self.nodes[i];
            match *n.key.value() {
                Value::Nil => return NIL,
                Value::Str(k) if LuaStr::eq_gc(k, s) => return &n.val,
                _ => {}
            }
            if left == 0 {
                return NIL;
            }
            left -= 1;
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
        let mut i = (s.hash() as u32 as usize) & mask;
        let mut left = self.probe_limit();
        loop {
            // SAFETY: `i` is masked by `len - 1` with `len > 0`, so `i < len` (no bounds
            // check in the probe loop of every field access).
            let n = unsafe { self.nodes.get_unchecked(i) };
            match *n.key.value() {
                Value::Nil => return None,
                Value::Str(k) if LuaStr::eq_gc(k, s) => return Some(i),
                _ => {}
            }
            if left == 0 {
                return None;
            }
            left -= 1;
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
        if self.used as usize >= max_fill(self.nodes.len()) {
            self.rehash(&key);
            // The key may now belong to the array part; `reinsert` never rehashes again.
            self.reinsert(Node {
                key: Key::new(key, h),
                val,
            });
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

    /// Stores a key known to be absent; the caller made sure a slot is free.
    fn insert_new(&mut self, key: Value, val: Value, h: u32) {
        self.insert_node(Node {
            key: Key::new(key, h),
            val,
        });
    }

    /// Robin Hood placement: walking from its own slot, the entry takes the place of the
    /// first entry that sits closer to its own slot, which then walks on. So every key's
    /// displacement is at least that of the keys it passed, and a lookup can stop at a key
    /// closer to home than the probe (see [`Inner::displacement`]). Moves entries: only
    /// inserts do this, and Lua's `next` does not allow new keys during a traversal.
    fn insert_node(&mut self, mut node: Node) {
        let mask = self.nodes.len() - 1;
        let mut i = (node.key.hash() as usize) & mask;
        let mut dist = 0;
        loop {
            if self.nodes[i].key.is_free() {
                self.nodes[i] = node;
                self.note_displacement(dist);
                self.used += 1;
                return;
            }
            let d = self.displacement(i);
            if d < dist {
                std::mem::swap(&mut self.nodes[i], &mut node);
                self.note_displacement(dist);
                dist = d;
            }
            dist += 1;
            i = (i + 1) & mask;
        }
    }

    #[inline(always)]
    fn note_displacement(&mut self, dist: usize) {
        if dist > self.probe_max as usize {
            self.probe_max = dist.min(u16::MAX as usize) as u16;
        }
    }

    /// Distance of the (occupied) slot `i` from its key's own slot.
    #[inline(always)]
    fn displacement(&self, i: usize) -> usize {
        let mask = self.nodes.len() - 1;
        i.wrapping_sub(self.nodes[i].key.hash() as usize) & mask
    }

    /// How many slots after a key's own slot a lookup must look at, at most.
    #[inline(always)]
    fn probe_limit(&self) -> usize {
        match self.probe_max {
            u16::MAX => self.nodes.len(),
            p => p as usize,
        }
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
            if !n.key.is_free() && !n.val.is_nil() {
                live_hash += 1;
                if let Value::Int(k) = *n.key.value() {
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
        self.nodes = vec![Node::FREE; node_size].into_boxed_slice();
        self.used = 0;
        self.probe_max = 0;
        let new_bytes = self.array.capacity() * 16 + self.nodes.len() * 32;
        if new_bytes > old_bytes {
            alloc_debt_add(new_bytes - old_bytes);
        }
        for (i, v) in old_array.into_iter().enumerate() {
            if !v.is_nil() {
                let key = Value::Int(i as i64 + 1);
                self.reinsert(Node {
                    key: Key::new(key, hash_value(&key)),
                    val: v,
                });
            }
        }
        for n in old_nodes.iter() {
            if !n.key.is_free() && !n.val.is_nil() {
                self.reinsert(*n);
            }
        }
    }

    /// Stores an entry during a rehash: in the array part if its key belongs there, otherwise
    /// in the hash part, at the hash the node carries.
    fn reinsert(&mut self, node: Node) {
        if let Value::Int(i) = *node.key.value() {
            let idx = (i as u64).wrapping_sub(1);
            if idx < self.array.len() as u64 {
                self.array[idx as usize] = node.val;
                return;
            }
        }
        if self.used as usize >= max_fill(self.nodes.len()) {
            // Can only happen if the sizing above undercounted; grow defensively.
            let mut bigger = vec![Node::FREE; (self.nodes.len() * 2).max(4)].into_boxed_slice();
            std::mem::swap(&mut bigger, &mut self.nodes);
            self.used = 0;
            self.probe_max = 0;
            for n in bigger.iter() {
                if !n.key.is_free() {
                    self.insert_node(*n);
                }
            }
        }
        self.insert_node(node);
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
            inner.nodes = vec![Node::FREE; size].into_boxed_slice();
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
            if !n.key.is_free() && !n.val.is_nil() {
                return Ok(Some((*n.key.value(), n.val)));
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
                n.key.value().trace(t);
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
                n.key.value().trace(t);
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
            if !n.key.value().is_dead_object() && n.val.is_dead_object() {
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
            let dead_key = !values_only && weak & WEAK_KEYS != 0 && n.key.value().is_dead_object();
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
                let k = n.key.value();
                if matches!(k, Value::Str(_)) || k.is_dead_object() {
                    n.key = Key::new(DEAD_KEY, n.key.hash());
                }
            } else if let Value::Str(s) = *n.key.value() {
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
    fn small_hash_parts_fill_completely_and_probes_of_absent_keys_stop() {
        let t = new_table();
        let keys = [
            Value::Bool(true),
            Value::Bool(false),
            Value::Float(0.5),
            Value::Int(-7),
        ];
        let slots = [1, 2, 4, 4];
        for (n, k) in keys.iter().enumerate() {
            t.set(*k, Value::Int(n as i64));
            assert_eq!(t.inner().nodes.len(), slots[n]);
            for (m, k2) in keys.iter().enumerate() {
                let got = t.get(*k2);
                if m <= n {
                    assert!(matches!(got, Value::Int(v) if v == m as i64));
                } else {
                    // Absent from a full hash part: the probe must stop after every slot.
                    assert!(got.is_nil());
                }
            }
        }
        assert!(t.get(Value::Float(1.5)).is_nil());
        assert!(t.get(Value::Int(1000)).is_nil());
        // Assigning nil keeps a full part full (dead entries stay until the next rehash).
        t.set(Value::Bool(false), Value::Nil);
        assert!(t.get(Value::Float(1.5)).is_nil());
        t.set(Value::Float(1.5), Value::Int(9));
        assert!(matches!(t.get(Value::Float(1.5)), Value::Int(9)));
        assert!(t.get(Value::Bool(false)).is_nil());
        assert_eq!(hash_slots(1), 1);
        assert_eq!(hash_slots(2), 2);
        assert_eq!(hash_slots(3), 4);
        assert_eq!(hash_slots(4), 4);
        assert_eq!(hash_slots(5), 8);
        assert_eq!(hash_slots(6), 8);
        assert_eq!(hash_slots(7), 8);
        assert_eq!(hash_slots(8), 16);
    }

    #[test]
    fn nodes_keep_the_key_hash_across_copies_and_rehashes() {
        let heap = Box::leak(Box::new(Heap::new()));
        let mut strings = crate::string::Interner::default();
        let t = Table::alloc(heap, 0, 0);
        // Short (interned) and long (not interned, compared by content) keys.
        let name = |i: i32| {
            if i % 2 == 0 {
                format!("k{i}")
            } else {
                format!("{i}{}", "-long".repeat(10))
            }
        };
        for i in 0..200 {
            let s = strings.intern(heap, name(i).as_bytes());
            t.set(Value::Str(s), Value::Int(i as i64));
        }
        for n in t.inner().nodes.iter() {
            if let Value::Str(s) = *n.key.value() {
                assert_eq!(n.key.hash(), s.hash() as u32);
            }
        }
        for i in 0..200 {
            // A fresh long string: equal content, another object.
            let s = strings.intern(heap, name(i).as_bytes());
            assert!(matches!(t.get_str(s), Value::Int(v) if v == i as i64));
        }
        let absent = strings.intern(heap, name(1001).as_bytes());
        assert!(t.get_str(absent).is_nil());
    }

    #[test]
    fn lookups_stop_after_probe_max_and_probe_every_slot_when_it_saturates() {
        let t = new_table();
        for i in 0..40 {
            t.set(Value::Float(i as f64 + 0.25), Value::Int(i));
        }
        let inner = t.inner();
        // The bound is the largest displacement: every key is found within it.
        for (slot, n) in inner.nodes.iter().enumerate() {
            if !n.key.is_free() {
                let home = n.key.hash() as usize & (inner.nodes.len() - 1);
                let dist = slot.wrapping_sub(home) & (inner.nodes.len() - 1);
                assert!(dist <= inner.probe_max as usize);
            }
        }
        // Saturated ("unknown"): lookups fall back to probing up to a free slot.
        t.inner_mut().probe_max = u16::MAX;
        for i in 0..40 {
            assert!(matches!(t.get(Value::Float(i as f64 + 0.25)), Value::Int(v) if v == i));
        }
        assert!(t.get(Value::Float(100.25)).is_nil());
    }

    #[test]
    fn robin_hood_placement_keeps_displacements_ordered_and_every_key_reachable() {
        let t = new_table();
        let key = |i: i64| Value::Float(i as f64 * 7.25 + 0.5);
        for i in 0..300 {
            t.set(key(i), Value::Int(i));
            let inner = t.inner();
            let len = inner.nodes.len();
            if len > 4 {
                assert!(inner.used as usize <= len / 8 * 7);
            }
            // Robin Hood: along a run of occupied slots, a key's displacement exceeds the
            // previous slot's by at most one (it would have taken that slot otherwise).
            for s in 0..len {
                let next = (s + 1) & (len - 1);
                if !inner.nodes[s].key.is_free() && !inner.nodes[next].key.is_free() {
                    assert!(inner.displacement(next) <= inner.displacement(s) + 1);
                }
            }
        }
        for i in 0..300 {
            assert!(matches!(t.get(key(i)), Value::Int(v) if v == i));
            assert!(t.get(Value::Float(i as f64 * 7.25 + 0.75)).is_nil());
        }
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
