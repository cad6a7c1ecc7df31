//! The `rua` command's global allocator: mimalloc for ordinary blocks, the kernel directly
//! for big ones.
//!
//! Lua programs allocate and free many small objects (tables, closures, strings) and the
//! collector frees them in batches, where mimalloc is much cheaper than the system allocator.
//! Big blocks (table array and hash parts of large tables, big string buffers) are another
//! matter: mimalloc keeps freed memory committed for a while (its purge delay, up to 100 ms
//! for big blocks) and grows a block by allocate + copy + free, so a table that doubles its
//! array part peaks at three times its size and programs that build and drop big tables
//! kept 1.6-2.8x PUC Lua's peak RSS. Blocks of at least [`BIG_BLOCK`] bytes are therefore
//! private anonymous mappings: freed memory goes back to the kernel at once (`munmap`) and
//! growth is `mremap`, which moves page-table entries instead of copying bytes. This is what
//! glibc's `malloc` does above its mmap threshold, which PUC Lua relies on.
//!
//! Whether a block is big is decided by its layout alone (size and alignment), which Rust
//! passes to `dealloc` and `realloc` too, so no per-block bookkeeping is needed. Mappings of
//! 4 MiB and more use transparent huge pages ([`advise_huge`]), and mimalloc reserves its
//! arenas in 64 MiB steps ([`configure`]): both choices are about the command's footprint
//! and page faults, measured in docs/PERFORMANCE.md.

use std::alloc::{GlobalAlloc, Layout};

/// mimalloc's option calls (`mimalloc.h`; the static library comes with the `mimalloc` crate,
/// whose bindings declare them only with an extra dependency).
mod mi {
    extern "C" {
        pub fn mi_option_set_default(option: i32, value: std::ffi::c_long);
    }
    /// `mi_option_arena_reserve` in mimalloc 3's `mi_option_t` (in KiB).
    pub const ARENA_RESERVE: i32 = 23;
}

/// The address space mimalloc reserves per arena, in KiB (its default is 1 GiB).
///
/// mimalloc initialises an arena's bitmaps (one bit per 64 KiB slice per bitmap, and one
/// bitmap per size class for abandoned pages) when it reserves the arena, so their resident
/// size follows the reserved size: a 1 GiB arena made 156 KB of the `rua -e ''` command's
/// 384 KB of anonymous memory. Later arenas grow (mimalloc doubles the size every 8 arenas),
/// and big blocks do not come from arenas here anyway.
const ARENA_RESERVE_KIB: std::ffi::c_long = 64 * 1024;

/// Sets mimalloc's options for the `rua` command. It must run before the first allocation,
/// and the Rust runtime allocates before `main` (the main thread's name), so it runs as an
/// ELF constructor ([`CONFIGURE_AT_LOAD`]). A `MIMALLOC_ARENA_RESERVE` environment variable
/// still wins.
fn configure() {
    // SAFETY: `mi_option_set_default` stores an integer in mimalloc's option table; it is
    // thread-safe for a valid option index, which `mi::ARENA_RESERVE` is (checked by the
    // test below against the library's default value).
    unsafe { mi::mi_option_set_default(mi::ARENA_RESERVE, ARENA_RESERVE_KIB) };
}

/// [`configure`] as an entry of `.init_array`, which the dynamic loader runs before the
/// program's start-up code. It only writes mimalloc's option table, which needs no
/// initialisation of its own.
#[used]
#[link_section = ".init_array"]
static CONFIGURE_AT_LOAD: extern "C" fn() = {
    extern "C" fn configure_at_load() {
        configure();
    }
    configure_at_load
};

/// Blocks of at least this many bytes are mapped directly from the kernel.
pub const BIG_BLOCK: usize = 1 << 20;

const PAGE: usize = 4096;

/// mimalloc below [`BIG_BLOCK`], anonymous mappings from it on.
pub struct CliAlloc;

#[inline]
fn is_big(size: usize, align: usize) -> bool {
    size >= BIG_BLOCK && align <= PAGE
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        advise_huge(p.cast(), size);
        p.cast()
    }
}

/// Size of a transparent huge page (x86-64 and aarch64 with 4 KiB pages).
const HUGE_PAGE: usize = 2 << 20;

/// Asks for transparent huge pages on a mapping of `size` bytes that holds a big block, if
/// the mapping spans at least two huge pages.
///
/// A fresh anonymous page costs a page fault and zeroing when it is first written. Big
/// tables are written whole soon after they are allocated (an array part as it fills up, a
/// hash part when it is rebuilt), and programs that rebuild big tables spent 0.1-0.3 s of
/// system time in those faults, one per 4 KiB (sieve, hash). With `MADV_HUGEPAGE` one fault
/// maps 2 MiB. The cost: a huge page is resident as soon as any byte of it is written, so a
/// block that is not written to its end (a vector's spare capacity) can hold up to one huge
/// page more than with small pages; mappings of one huge page (blocks of 1-2 MiB), where that
/// would double the block, keep small pages. The kernel ignores the advice when transparent
/// huge pages are off.
fn advise_huge(p: *mut u8, size: usize) {
    if size >= 2 * HUGE_PAGE {
        // SAFETY: `p` is a whole mapping of `size` bytes; the advice changes only how the
        // kernel backs it, never its contents.
        unsafe { libc::madvise(p.cast(), size, libc::MADV_HUGEPAGE) };
    }
}

fn unmap(p: *mut u8, size: usize) {
    // SAFETY: callers pass a whole mapping of `size` bytes that nothing refers to any more.
    unsafe { libc::munmap(p.cast(), size) };
}

/// Resizes the mapping `p` of `old` bytes to `new` bytes (null on failure, `p` intact).
fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    // SAFETY: `p` is a whole mapping of `old` bytes; MREMAP_MAYMOVE keeps the contents (up to
    // the smaller size) and unmaps the old range when it moves.
    let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
    if q == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        q.cast()
    }
}

/// The size of the mapping that holds a big block of `size` bytes: the next power of two.
/// Pages of a mapping that are never written cost no memory, and rounding lets a growing
/// vector stay in its mapping until it doubles and lets freed mappings be reused by size.
#[inline]
fn class_size(size: usize) -> usize {
    size.checked_next_power_of_two().unwrap_or(size)
}

/// Mappings of big blocks freed recently, kept for reuse so that a program that keeps
/// building and dropping big tables does not pay a page fault per page of every new one
/// (the collector frees old tables in batches, just before new ones are built). The cache
/// holds at most [`CACHE_MAX_ENTRIES`] mappings and at most half the bytes of the big blocks
/// in use (at least [`CACHE_MIN_BYTES`]), which bounds what it adds to the peak footprint.
struct Cache {
    /// `(address, mapping size)`.
    entries: [(usize, usize); CACHE_MAX_ENTRIES],
    len: usize,
    cached_bytes: usize,
    /// Bytes of the mappings of big blocks in use.
    live_bytes: usize,
}

const CACHE_MAX_ENTRIES: usize = 16;
const CACHE_MIN_BYTES: usize = 4 << 20;

static CACHE: std::sync::Mutex<Cache> = std::sync::Mutex::new(Cache {
    entries: [(0, 0); CACHE_MAX_ENTRIES],
    len: 0,
    cached_bytes: 0,
    live_bytes: 0,
});

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// A cached mapping of exactly `class` bytes, or null.
    fn take(&mut self, class: usize) -> *mut u8 {
        for i in 0..self.len {
            if self.entries[i].1 == class {
                let p = self.entries[i].0;
                self.len -= 1;
                self.entries[i] = self.entries[self.len];
                self.cached_bytes -= class;
                return p as *mut u8;
            }
        }
        std::ptr::null_mut()
    }

    /// Keeps a freed mapping if the bounds allow, else returns it to the kernel.
    fn put(&mut self, p: *mut u8, class: usize) {
        let limit = (self.live_bytes / 4).max(CACHE_MIN_BYTES);
        if self.len < CACHE_MAX_ENTRIES && self.cached_bytes + class <= limit {
            self.entries[self.len] = (p as usize, class);
            self.len += 1;
            self.cached_bytes += class;
        } else {
            unmap(p, class);
        }
    }
}

fn big_alloc(size: usize, zeroed: bool) -> *mut u8 {
    let class = class_size(size);
    let mut c = cache();
    let p = if zeroed {
        std::ptr::null_mut()
    } else {
        c.take(class)
    };
    let p = if p.is_null() { map(class) } else { p };
    if !p.is_null() {
        c.live_bytes += class;
    }
    p
}

fn big_free(p: *mut u8, size: usize) {
    let class = class_size(size);
    let mut c = cache();
    c.live_bytes -= class;
    c.put(p, class);
}

fn big_realloc(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    let (old, new) = (class_size(old), class_size(new));
    if old == new {
        return p;
    }
    let mut c = cache();
    if new > old {
        // Growing into a cached mapping of the new size: move the block's pages over the
        // start of that mapping, whose remaining pages are already faulted in.
        let target = c.take(new);
        if !target.is_null() {
            // SAFETY: `p` is a whole mapping of `old` bytes and `target` one of `new > old`
            // bytes that nothing refers to; MREMAP_FIXED moves `p`'s pages to `target`,
            // replacing the pages there, and unmaps the range at `p`.
            let q = unsafe {
                libc::mremap(
                    p.cast(),
                    old,
                    old,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    target.cast::<libc::c_void>(),
                )
            };
            if q != libc::MAP_FAILED {
                c.live_bytes = c.live_bytes - old + new;
                advise_huge(target, new);
                return target;
            }
            unmap(target, new);
        }
    }
    let mut q = remap(p, old, new);
    if q.is_null() {
        // mremap needs the old range to be one kernel mapping; a block grown into a cached
        // mapping may be two (its moved pages and the cached tail). Copy instead.
        q = map(new);
        if q.is_null() {
            return q;
        }
        // SAFETY: `p` holds `old` readable bytes, `q` is a fresh mapping of `new > old` or
        // `new < old` bytes; the two do not overlap; `p` is unmapped once copied.
        unsafe { std::ptr::copy_nonoverlapping(p, q, old.min(new)) };
        unmap(p, old);
    }
    c.live_bytes = c.live_bytes - old + new;
    if new > old {
        advise_huge(q, new);
    }
    q
}

// SAFETY: every block is handed to exactly one of the two allocators according to `is_big`
// of its layout, and freed or resized by the same one (layouts passed to `dealloc` and
// `realloc` are those the block was allocated with, as `GlobalAlloc` requires).
unsafe impl GlobalAlloc for CliAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_big(layout.size(), layout.align()) {
            big_alloc(layout.size(), false)
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_big(layout.size(), layout.align()) {
            // Fresh anonymous pages are zero-filled (cached ones are not used).
            big_alloc(layout.size(), true)
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_big(layout.size(), layout.align()) {
            big_free(ptr, layout.size());
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (is_big(layout.size(), align), is_big(new_size, align)) {
            // SAFETY: forwarded with the caller's guarantees.
            (false, false) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            (true, true) => big_realloc(ptr, layout.size(), new_size),
            _ => {
                // Crossing the threshold: allocate in the other allocator and copy.
                // SAFETY: `new_size` is non-zero (GlobalAlloc contract) and `align` is valid.
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                // SAFETY: as for `alloc`.
                let q = unsafe { self.alloc(new_layout) };
                if !q.is_null() {
                    // SAFETY: both blocks are valid for the smaller of the two sizes and do
                    // not overlap (`q` is a new block); `ptr` is then freed with its layout.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimalloc_reserves_arenas_of_the_configured_size() {
        if std::env::var_os("MIMALLOC_ARENA_RESERVE").is_some() {
            return;
        }
        // This test binary has `CliAlloc` as its allocator and ran the constructor; with a
        // wrong option index mimalloc would have reserved its default 1 GiB arena.
        let v: Vec<u64> = (0..1000).collect();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let largest = maps
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_whitespace().next()?.split_once('-')?;
                Some(usize::from_str_radix(b, 16).ok()? - usize::from_str_radix(a, 16).ok()?)
            })
            .max()
            .unwrap();
        assert!(largest < 1 << 30, "largest mapping {largest} bytes");
        assert!(largest >= ARENA_RESERVE_KIB as usize * 1024);
        assert_eq!(v.len(), 1000);
    }

    /// The `VmFlags` line of the mapping of /proc/self/smaps that contains `p`.
    fn vm_flags(p: *const u8) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let addr = p as usize;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        inside = a <= addr && addr < b;
                        continue;
                    }
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.to_string();
                }
            }
        }
        panic!("no mapping holds {p:?}");
    }

    #[test]
    fn blocks_of_two_huge_pages_and_more_ask_for_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return; // a kernel without transparent huge pages refuses the advice
        }
        let a = CliAlloc;
        let one = Layout::from_size_align(BIG_BLOCK, 8).unwrap();
        let four = Layout::from_size_align(4 * BIG_BLOCK, 8).unwrap();
        // SAFETY: layouts are non-zero; each block is freed once with its current layout.
        unsafe {
            let p = a.alloc(one);
            assert!(!vm_flags(p).contains(" hg"), "{}", vm_flags(p));
            // Grown by mremap: the advice must cover the grown mapping too.
            let p = a.realloc(p, one, 3 * BIG_BLOCK);
            assert!(vm_flags(p).contains(" hg"), "{}", vm_flags(p));
            a.dealloc(p, Layout::from_size_align(3 * BIG_BLOCK, 8).unwrap());
            let q = a.alloc_zeroed(four);
            assert!(vm_flags(q).contains(" hg"), "{}", vm_flags(q));
            a.dealloc(q, four);
        }
    }

    #[test]
    fn blocks_cross_the_threshold_both_ways_with_their_contents() {
        let a = CliAlloc;
        let small = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: layouts are non-zero; each block is freed once with its current layout.
        unsafe {
            let p = a.alloc(small);
            assert!(!p.is_null());
            for i in 0..1000 {
                *p.add(i) = i as u8;
            }
            let big = BIG_BLOCK * 3;
            let q = a.realloc(p, small, big);
            assert!(!q.is_null());
            assert!((0..1000).all(|i| *q.add(i) == i as u8));
            *q.add(big - 1) = 7;
            let bigger = BIG_BLOCK * 5 + 123;
            let q2 = a.realloc(q, Layout::from_size_align(big, 8).unwrap(), bigger);
            assert!((0..1000).all(|i| *q2.add(i) == i as u8));
            assert_eq!(*q2.add(big - 1), 7);
            let r = a.realloc(q2, Layout::from_size_align(bigger, 8).unwrap(), 500);
            assert!((0..500).all(|i| *r.add(i) == i as u8));
            a.dealloc(r, Layout::from_size_align(500, 8).unwrap());
            // Grow into a cached mapping (freed block of the target size), then grow again:
            // the block may span two kernel mappings by then.
            let l1 = Layout::from_size_align(BIG_BLOCK, 8).unwrap();
            let l4 = Layout::from_size_align(4 * BIG_BLOCK, 8).unwrap();
            let spare = a.alloc(l4);
            *spare.add(4 * BIG_BLOCK - 1) = 1;
            a.dealloc(spare, l4);
            let b = a.alloc(l1);
            for i in (0..BIG_BLOCK).step_by(4096) {
                *b.add(i) = (i / 4096) as u8;
            }
            let b = a.realloc(b, l1, 4 * BIG_BLOCK);
            assert!(!b.is_null());
            *b.add(4 * BIG_BLOCK - 1) = 9;
            let b = a.realloc(b, l4, 16 * BIG_BLOCK);
            assert!(!b.is_null());
            assert!((0..BIG_BLOCK)
                .step_by(4096)
                .all(|i| *b.add(i) == (i / 4096) as u8));
            assert_eq!(*b.add(4 * BIG_BLOCK - 1), 9);
            a.dealloc(b, Layout::from_size_align(16 * BIG_BLOCK, 8).unwrap());
            let z = Layout::from_size_align(BIG_BLOCK, 16).unwrap();
            let zp = a.alloc_zeroed(z);
            assert!((0..BIG_BLOCK).step_by(4093).all(|i| *zp.add(i) == 0));
            a.dealloc(zp, z);
        }
    }
}
