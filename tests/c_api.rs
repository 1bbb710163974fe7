//! The C programs under `tests/c` compiled with the system C compiler against
//! `include/steady.h` and the built cdylib, and run; each covers one part of the C ABI with
//! its errors. One test runs them all again under valgrind memcheck.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder holding the cdylib `cargo test` built with this test binary: the binary's
/// own folder (`target/<profile>/deps`) or its parent (`target/<profile>`).
fn library_dir() -> PathBuf {
    let name = format!(
        "{}steady{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join(&name).exists() {
            return dir.to_path_buf();
        }
    }
    panic!("{name} not found next to {}", exe.display());
}

/// Compiles `tests/c/<name>.c` and gives the executable.
fn compile(name: &str) -> PathBuf {
    let lib = library_dir();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-pthread",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(root().join("tests/c").join(format!("{name}.c")))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lsteady")
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(
        out.status.success(),
        "compiling tests/c/{name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn report(what: &str, out: &Output) -> String {
    format!(
        "{what} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(name: &str) {
    let exe = compile(name);
    let out = Command::new(&exe).output().expect("running the C program");
    assert!(out.status.success(), "{}", report(name, &out));
}

#[test]
fn engines_are_created_from_configuration_and_freed() {
    run("engine_lifecycle");
}

#[test]
fn log_messages_reach_the_host_callback() {
    run("logging");
}

#[test]
fn objects_are_applied_read_written_and_deleted_as_json() {
    run("objects");
}

#[test]
fn bad_arguments_get_a_code_and_a_message() {
    run("bad_input");
}

#[test]
fn watches_deliver_events_blocking_and_by_callback() {
    run("watch");
}

#[test]
fn host_controllers_reconcile_and_reenter_the_api() {
    run("controller");
}

#[test]
fn host_workers_run_fail_restart_stop_and_are_replaced() {
    run("worker");
}

#[test]
fn services_resolve_to_ready_workers_in_turn() {
    run("services");
}

#[test]
fn transactions_commit_all_or_nothing() {
    run("transaction");
}

#[test]
fn state_in_a_data_dir_outlives_the_engine() {
    run("persist");
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    for name in [
        "engine_lifecycle",
        "objects",
        "bad_input",
        "watch",
        "controller",
        "worker",
        "services",
        "transaction",
        "persist",
        "logging",
    ] {
        let exe = compile(name);
        let out = Command::new("valgrind")
            .args([
                "--tool=memcheck",
                "--leak-check=full",
                "--show-leak-kinds=definite,indirect,possible",
                "--errors-for-leak-kinds=definite,indirect,possible",
                "--error-exitcode=99",
                "--quiet",
            ])
            .arg(format!(
                "--suppressions={}",
                root().join("valgrind/steady.supp").display()
            ))
            .arg(&exe)
            .output()
            .expect("running valgrind");
        assert!(
            out.status.success(),
            "{}",
            report(&format!("valgrind {name}"), &out)
        );
    }
}

/// `steady.pc.in` rendered for this checkout: the library folder of this build and the
/// committed header.
fn pkg_config_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pkgconfig");
    std::fs::create_dir_all(&dir).unwrap();
    let template = std::fs::read_to_string(root().join("steady.pc.in")).unwrap();
    let pc = template
        .replace("@PREFIX@", &root().display().to_string())
        .replace("@LIBDIR@", &library_dir().display().to_string())
        .replace(
            "@INCLUDEDIR@",
            &root().join("include").display().to_string(),
        )
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    assert!(
        !pc.lines().any(|l| !l.starts_with('#') && l.contains('@')),
        "steady.pc.in has a name this test does not fill:\n{pc}"
    );
    // Written once per test process: the tests using it run in parallel.
    static WRITTEN: std::sync::Once = std::sync::Once::new();
    WRITTEN.call_once(|| std::fs::write(dir.join("steady.pc"), pc).unwrap());
    dir
}

fn pkg_config(args: &[&str]) -> Option<Vec<String>> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("steady")
        .env("PKG_CONFIG_PATH", pkg_config_dir())
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", report("pkg-config", &out));
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn c_example_builds_with_pkg_config_and_runs() {
    let Some(flags) = pkg_config(&["--cflags", "--libs"]) else {
        eprintln!("skipped: pkg-config is not installed");
        return;
    };
    assert!(flags.iter().any(|f| f == "-lsteady"), "{flags:?}");
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("controller_host");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join("examples/c/controller_host.c"))
        .args(&flags)
        .arg(format!("-Wl,-rpath,{}", library_dir().display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(out.status.success(), "{}", report("cc", &out));
    let out = Command::new(&exe).output().expect("running the example");
    assert!(out.status.success(), "{}", report("controller_host", &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ConfigMap sky has color grey"), "{stdout}");
}

#[test]
fn c_worker_example_builds_with_pkg_config_and_runs() {
    let Some(flags) = pkg_config(&["--cflags", "--libs"]) else {
        eprintln!("skipped: pkg-config is not installed");
        return;
    };
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("worker_host");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join("examples/c/worker_host.c"))
        .args(&flags)
        .arg(format!("-Wl,-rpath,{}", library_dir().display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(out.status.success(), "{}", report("cc", &out));
    let out = Command::new(&exe).output().expect("running the example");
    assert!(out.status.success(), "{}", report("worker_host", &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "pool web: 2 of 2 ready, 0 restart(s)",
        "pool web: 2 of 2 ready, 1 restart(s)",
        "worker failed: lost its connection to the game database",
        "stopping web-0",
        "engine stopped",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("service web -> 127.").count(), 2, "{stdout}");
}

#[test]
fn c_example_links_statically_with_the_private_libraries() {
    let Some(flags) = pkg_config(&["--cflags", "--libs-only-other", "--libs-only-L"]) else {
        eprintln!("skipped: pkg-config is not installed");
        return;
    };
    let private = pkg_config(&["--static", "--libs-only-l"]).unwrap_or_default();
    let archive = library_dir().join("libsteady.a");
    assert!(archive.exists(), "{} not built", archive.display());
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("controller_host_static");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join("examples/c/controller_host.c"))
        .args(&flags)
        .arg(&archive)
        .args(private.iter().filter(|l| *l != "-lsteady"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(out.status.success(), "{}", report("cc (static)", &out));
    let out = Command::new(&exe).output().expect("running the example");
    assert!(
        out.status.success(),
        "{}",
        report("controller_host_static", &out)
    );
}
