//! Link options for the `rua` command.
//!
//! On GNU/Linux the command is linked with `-z pack-relative-relocs`: a position-independent
//! executable carries one relocation per pointer in its read-only data (vtables, string and
//! function tables), 24 bytes each in `.rela.dyn` (76 KB for `rua`), which the dynamic loader
//! reads at every start. The packed form (`.relr.dyn`, glibc 2.36, binutils 2.38, lld 15)
//! takes about 1 KB; the loaded pages shrink by the difference (see docs/PERFORMANCE.md,
//! Memory). GNU ld and lld add a `GLIBC_ABI_DT_RELR` version requirement to such an
//! executable, which a glibc older than 2.36 refuses to load, so the option is used only for
//! native builds whose own glibc (the one the build script runs on) is 2.36 or newer.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if os == "linux" && env == "gnu" && native && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the glibc this build script runs on has at least version `major.minor`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    use std::ffi::{c_char, CStr};
    extern "C" {
        fn gnu_get_libc_version() -> *const c_char;
    }
    // SAFETY: glibc returns a pointer to a static NUL-terminated string such as "2.36".
    let version = unsafe { CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version
        .to_str()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn host_glibc_at_least(_major: u32, _minor: u32) -> bool {
    false
}
