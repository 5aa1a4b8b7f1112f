//! Links the `cortex-status` binary as a position-dependent executable on Linux.
//!
//! A PIE binary is relocated at start: the loader reads every entry of `.rela.dyn` and writes
//! the relocated pointers into `.data.rel.ro`, which makes both resident (about 0.5 MB here).
//! Linked without PIE, the linker resolves those at build time and the pages stay clean and
//! mostly untouched. RSS is a budget of this project (6 MiB, see the README), and the daemon
//! gains nothing from address randomisation of its own image that it needs. Only binaries are
//! affected: the library, tests' code and proc-macros build as usual.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
