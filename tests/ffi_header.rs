//! The committed C header is exactly what cbindgen generates from `src/ffi` and
//! `cbindgen.toml`, and it compiles as C and as C++.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn committed_header_matches_the_rust_declarations() {
    let path = root().join("include/steady.h");
    let fresh = generate();
    if std::env::var_os("STEADY_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("writing include/steady.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(fresh.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "include/steady.h is stale (first difference at line {line}): the C ABI in src/ffi \
             or cbindgen.toml changed. Regenerate it with\n    STEADY_BLESS=1 cargo test --test \
             ffi_header\nand commit the result."
        );
    }
}

fn compiles_with(compiler: &str, args: &[&str], source: &str, ext: &str) -> Option<bool> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = dir.join(format!("header_check.{ext}"));
    std::fs::write(&src, source).unwrap();
    let out = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-fsyntax-only")
        .arg(&src)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Some(out.status.success())
}

const USES_THE_HEADER: &str = r#"
#include "steady.h"
#include "steady.h" /* the include guard makes a second include harmless */
#if STEADY_VERSION_MAJOR < 0
#error "version macros missing"
#endif
static steady_result use_it(steady_engine *e) {
    char *out = NULL;
    steady_result r = steady_engine_get(e, "Pod", NULL, "web", &out);
    steady_string_free(out);
    return r;
}
int main(void) { return (int)use_it(NULL) == (int)STEADY_OK; }
"#;

#[test]
fn header_compiles_as_strict_c() {
    let ok = compiles_with(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"],
        USES_THE_HEADER,
        "c",
    )
    .expect("the system C compiler `cc` runs");
    assert!(ok, "include/steady.h does not compile as C11");
}

#[test]
fn header_compiles_as_cplusplus() {
    match compiles_with(
        "c++",
        &["-std=c++11", "-Wall", "-Wextra", "-Werror"],
        USES_THE_HEADER,
        "cpp",
    ) {
        Some(ok) => assert!(ok, "include/steady.h does not compile as C++11"),
        None => eprintln!("skipped: no C++ compiler `c++` on this machine"),
    }
}
