//! Builds the WebAssembly guests with one nested `cargo build --target wasm32-wasip2`:
//! the bundled plugins (`plugins/*`, embedded in the binary), the example plugin
//! (`examples/plugin-*`) and the test guests (`tests/plugins/*`), whose paths the tests get
//! as constants. `MOAT_SKIP_GUEST_BUILD=1` skips it (lint-only runs): the binary then has no
//! bundled plugins and the test paths name the problem.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";
/// The guests' code generation flags. Build a guest by hand with the same
/// (`CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS`) to measure it.
///
/// `--initial-memory`: 30 pages (1,920 KiB), under the smallest memory cap an operator may
/// set (2 MiB), instead of the linker's 17. A guest that grows its memory past its
/// initial size makes the next instance in the same pool slot shrink it back, an
/// `mprotect` whose TLB shootdown interrupts every core: the headers plugin grew by one
/// page on a 21.5 KB message, which cost more CPU than the growth saved.
const GUEST_RUSTFLAGS: &str = "-Ctarget-feature=+simd128 -Clink-arg=--initial-memory=1966080";

struct Guest {
    package: String,
    kind: Kind,
    dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bundled,
    Example,
    Test,
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_owned();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in [
        "plugins",
        "sdk",
        "wit",
        "examples",
        "tests/plugins",
        "Cargo.lock",
        // The `guest` profile the plugins are built with.
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=MOAT_SKIP_GUEST_BUILD");

    let guests = find_guests(&root);
    let skip = env::var("MOAT_SKIP_GUEST_BUILD").is_ok_and(|v| v == "1");
    let artifacts = if skip {
        None
    } else {
        Some(build(&root, &out_dir, &guests))
    };

    let mut bundled = String::from("pub(super) static WASM: &[(&str, &[u8])] = &[\n");
    let mut paths = String::new();
    for guest in &guests {
        let file = guest.package.replace('-', "_") + ".wasm";
        let path = artifacts.as_ref().map(|dir| dir.join(&file));
        match guest.kind {
            Kind::Bundled => {
                if let Some(path) = &path {
                    let name = guest.package.trim_start_matches("moat-plugin-");
                    let _ = writeln!(
                        bundled,
                        "    ({name:?}, include_bytes!({:?})),",
                        path.display().to_string()
                    );
                }
            }
            Kind::Example | Kind::Test => {
                let constant = guest
                    .package
                    .trim_start_matches("moat-")
                    .replace('-', "_")
                    .to_uppercase();
                let value = path.map_or_else(
                    || "guest not built: MOAT_SKIP_GUEST_BUILD=1 was set".to_owned(),
                    |p| p.display().to_string(),
                );
                let _ = writeln!(
                    paths,
                    "/// The component of `{}` ({}).\npub const {constant}: &str = {value:?};",
                    guest.package,
                    guest.dir.display()
                );
            }
        }
    }
    bundled.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), bundled).expect("write bundled.rs");
    std::fs::write(out_dir.join("guests.rs"), paths).expect("write guests.rs");
}

fn find_guests(root: &Path) -> Vec<Guest> {
    let mut guests = Vec::new();
    for (dir, kind) in [
        ("plugins", Kind::Bundled),
        ("examples", Kind::Example),
        ("tests/plugins", Kind::Test),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("Cargo.toml").exists())
            .collect();
        dirs.sort();
        for dir in dirs {
            let manifest =
                std::fs::read_to_string(dir.join("Cargo.toml")).expect("read guest Cargo.toml");
            let package = manifest
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("name = \"")
                        .and_then(|r| r.strip_suffix('"'))
                })
                .unwrap_or_else(|| panic!("{}: no package name", dir.display()))
                .to_owned();
            guests.push(Guest {
                package,
                kind,
                dir: dir.strip_prefix(root).unwrap_or(&dir).to_owned(),
            });
        }
    }
    guests
}

fn build(root: &Path, out_dir: &Path, guests: &[Guest]) -> PathBuf {
    let sysroot = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if !Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .exists()
    {
        panic!(
            "error: the `{TARGET}` target is not installed; the plugins are built for it.\n  consider: rustup target add {TARGET}"
        );
    }
    // One target dir for guests, shared by every host profile (debug, release, clippy).
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| out_dir.ancestors().nth(4).map(Path::to_owned))
        .unwrap_or_else(|| root.join("target"))
        .join("guests");
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        // Wasm SIMD (which wasmtime runs natively) for memchr's searches and the
        // compiler's loops: the headers plugin's cost per message fell by a quarter.
        .env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", GUEST_RUSTFLAGS);
    for guest in guests {
        cmd.args(["-p", &guest.package]);
    }
    let status = cmd.status().expect("run cargo for the wasm guests");
    assert!(
        status.success(),
        "building the wasm guests failed (see the cargo output above)"
    );
    target_dir.join(TARGET).join(PROFILE)
}
