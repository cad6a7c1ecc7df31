//! Link options for the `rua` command.
//!
//! On GNU/Linux the command is linked with `-z pack-relative-relocs`: a position-independent
//! executable carries one relocation per pointer in its read-only data (vtables, string and
//! function tables), 24 bytes each in `.rela.dyn` (76 KB for `rua`), which the dynamic loader
//! reads at every start. The packed form (`.relr.dyn`, glibc 2.36, binutils 2.38, lld 15)
//! takes about 1 KB; the loaded pages shrink by the difference (see docs/PERFORMANCE.md,
//! Memory). Older linkers ignore an unknown `-z` keyword with a warning; GNU ld and lld
//! (Rust's default linker here) add a `GLIBC_ABI_DT_RELR` version requirement, so that an
//! older glibc refuses the executable with a clear error instead of running it unrelocated.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
