//! Running cargo from inside `cargo test` (the tests of the install paths).
//!
//! `cargo test` gives a test the variables of its package (`CARGO_PKG_NAME`,
//! `CARGO_MANIFEST_DIR`, ...). Build scripts watch some of them with `rerun-if-env-changed`
//! (ring's does), so a nested cargo that inherits them reruns those scripts, rebuilds what
//! depends on them, and the next `cargo test` rebuilds it all again. Commands that run cargo
//! go without them.

use std::process::Command;

/// Removes the variables `cargo test` set for this test from `cmd`'s environment.
pub fn without_test_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_the_test = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_the_test {
            cmd.env_remove(key);
        }
    }
    cmd
}
