//! `cargo install --path . --features cli`, as the README says, into a temporary root: the
//! installed `steady` runs and prints the crate's version as `steady X.Y.Z`.
//!
//! It installs the unoptimised build (`--debug`) from this `cargo test`'s own target dir, so
//! it reuses what `cargo test --all-features` compiled (`cli` implies every other feature)
//! instead of a release build of its own: only the crates whose features the
//! dev-dependencies widened (hyper) and steady itself are compiled again. `--locked` keeps
//! Cargo.lock's versions, as an install from a checkout should.
#![cfg(feature = "cli")]

mod nested_cargo;

use std::path::Path;
use std::process::Command;

#[test]
fn cargo_install_puts_a_working_steady_under_the_root() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cargo-install");
    let _ = std::fs::remove_dir_all(&root);
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<binary>");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = nested_cargo::without_test_env(&mut Command::new(cargo))
        .args(["install", "--locked", "--debug", "--path"])
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(["--features", "cli", "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(target)
        .output()
        .expect("running cargo install");
    assert!(
        out.status.success(),
        "cargo install failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steady = root.join("bin/steady");
    assert!(steady.is_file(), "{} not installed", steady.display());
    let out = Command::new(&steady)
        .arg("--version")
        .output()
        .expect("running the installed steady");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("steady {}\n", env!("CARGO_PKG_VERSION"))
    );
}
