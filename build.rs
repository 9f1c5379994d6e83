//! Two link-time settings for the kisha binary, each used only where the
//! toolchain takes it (probed first; elsewhere kisha links as before).
//!
//! **Packed relative relocations (DT_RELR).** A position-independent Rust
//! binary carries some 69,000 relative relocations (vtables, string slices in
//! static data): 1.6 MB of `.rela.dyn` that the loader reads at every start,
//! all of it resident. Packed, they take 28 KB, and the binary stays
//! position-independent (ASLR is kept). Measured with `/usr/bin/time -v`:
//! `kisha --version` 7.0 → 5.4 MiB, a warm cycle of 1,000 sources 27 → 25.5
//! MiB. It needs GNU ld ≥ 2.38 or lld ≥ 15 to link, and glibc ≥ 2.36 to run
//! (the binary then records that requirement, so a package built with it
//! says so).
//!
//! **The functions a cycle runs, laid out together.** `link/symbol-order.txt`
//! (written by `scripts/order-symbols`) names them in the order a cycle first
//! runs them, and lld's `--symbol-ordering-file` puts them at the start of
//! the code. The kernel maps a binary's pages 64 KiB at a time around each
//! one touched, so a cycle's code spread over the whole 8 MB `.text` made
//! most of it resident; gathered, a few MB are. A name the file gives that
//! this build lacks is skipped: a stale file orders less, it breaks nothing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RELR: &str = "-Wl,-z,pack-relative-relocs";
const ORDER_FILE: &str = "link/symbol-order.txt";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os != "linux" || target_env != "gnu" {
        return;
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else { return };
    if c_linker_accepts(&out_dir, RELR) {
        println!("cargo:rustc-link-arg-bins={RELR}");
    }
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join(ORDER_FILE);
    if order.is_file() {
        let args = [format!("-Wl,--symbol-ordering-file={}", order.display()), "-Wl,--no-warn-symbol-ordering".into()];
        if rust_linker_accepts(&out_dir, &args) {
            for arg in args {
                println!("cargo:rustc-link-arg-bins={arg}");
            }
        }
    }
}

/// Whether `cc` links an empty C program with `flag`, without a warning (GNU
/// ld before 2.38 ignores an unknown `-z` keyword with one), and the program
/// runs here.
fn c_linker_accepts(out_dir: &Path, flag: &str) -> bool {
    let out = out_dir.join("relr-probe");
    let probe = Command::new("cc")
        .args(["-x", "c", "-", "-o"])
        .arg(&out)
        .arg(flag)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().map(|mut stdin| stdin.write_all(b"int main(void) { return 0; }\n")).transpose()?;
            child.wait_with_output()
        });
    matches!(probe, Ok(output) if output.status.success() && output.stderr.is_empty())
        && Command::new(&out).status().is_ok_and(|s| s.success())
}

/// Whether rustc, as this build calls it (its target, linker and flags),
/// links an empty Rust program with `args`. The linker is whatever rustc
/// picks (rust-lld by default on x86_64 Linux since Rust 1.90), which a C
/// probe would not see.
fn rust_linker_accepts(out_dir: &Path, args: &[String]) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let source = out_dir.join("order-probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut command = Command::new(rustc);
    command.arg(&source).arg("-o").arg(out_dir.join("order-probe")).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(target) = std::env::var_os("TARGET") {
        command.arg("--target").arg(target);
    }
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        command.arg(concat_os("-Clinker=", &linker));
    }
    if let Ok(flags) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        command.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    for arg in args {
        command.arg(format!("-Clink-arg={arg}"));
    }
    command.status().is_ok_and(|s| s.success())
}

fn concat_os(prefix: &str, value: &std::ffi::OsStr) -> OsString {
    let mut joined = OsString::from(prefix);
    joined.push(value);
    joined
}
