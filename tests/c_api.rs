//! The C programs under `tests/c` compiled with the system C compiler against
//! `include/steady.h` and the built cdylib, and run; each covers one part of the C ABI with
//! its errors. One test runs them all again under valgrind memcheck; others install the
//! library with `scripts/install-c.sh` into a temporary prefix, build against it with
//! pkg-config, and run the programs under memcheck against that optimised build too.

mod nested_cargo;

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
fn evictions_honour_budgets_and_nodes_cordon_and_drain() {
    run("maintenance");
}

#[test]
fn state_in_a_data_dir_outlives_the_engine() {
    run("persist");
}

/// Every C program under `tests/c`: the memcheck runs cover them all.
const PROGRAMS: [&str; 11] = [
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
    "maintenance",
];

fn valgrind_installed() -> bool {
    let found = Command::new("valgrind").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: valgrind is not installed (apt-get install valgrind)");
    }
    found
}

/// Runs the programs under memcheck with the suppressions `supp` and fails naming every
/// program with a report. Two at a time: memcheck runs a program's threads on one core and
/// most of a program's time is spent waiting for the engine, while the other memcheck test
/// runs beside this one and the programs' deadlines (10 s and more) must still hold.
fn memcheck_all(programs: &[(&str, PathBuf)], supp: &Path, env: &[(&str, &Path)]) {
    let failures: Vec<String> = programs
        .chunks(2)
        .flat_map(|chunk| {
            std::thread::scope(|s| {
                let runs: Vec<_> = chunk
                    .iter()
                    .map(|(name, exe)| {
                        s.spawn(move || {
                            let mut cmd = Command::new("valgrind");
                            cmd.args([
                                "--tool=memcheck",
                                "--leak-check=full",
                                "--show-leak-kinds=definite,indirect,possible",
                                "--errors-for-leak-kinds=definite,indirect,possible",
                                "--error-exitcode=99",
                                "--quiet",
                            ])
                            .arg(format!("--suppressions={}", supp.display()))
                            .arg(exe);
                            for (k, v) in env {
                                cmd.env(k, v);
                            }
                            let out = cmd.output().expect("running valgrind");
                            (!out.status.success())
                                .then(|| report(&format!("valgrind {name}"), &out))
                        })
                    })
                    .collect();
                runs.into_iter()
                    .filter_map(|r| r.join().expect("a memcheck thread"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The shipped suppression file (`valgrind/steady.supp`) with the debug library.
#[test]
fn c_programs_are_clean_under_valgrind() {
    if !valgrind_installed() {
        return;
    }
    let programs: Vec<_> = PROGRAMS.iter().map(|n| (*n, compile(n))).collect();
    memcheck_all(&programs, &root().join("valgrind/steady.supp"), &[]);
}

/// A prefix installed by `scripts/install-c.sh`: a release build with the default features
/// (no API server), in its own target dir; once per test process (the tests using it run in
/// parallel and wait for the first).
fn installed_prefix() -> &'static Path {
    static PREFIX: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-install/prefix");
        let _ = std::fs::remove_dir_all(&prefix);
        let out = nested_cargo::without_test_env(&mut Command::new("bash"))
            .arg(root().join("scripts/install-c.sh"))
            .arg("--prefix")
            .arg(&prefix)
            .output()
            .expect("running scripts/install-c.sh");
        assert!(out.status.success(), "{}", report("install-c.sh", &out));
        prefix
    })
}

fn pkg_config_found() -> bool {
    let found = Command::new("pkg-config").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: pkg-config is not installed");
    }
    found
}

/// `pkg-config ARGS steady` with `.pc` files from `dir`: its words; `None` without
/// pkg-config.
fn pkg_config_in(dir: &Path, args: &[&str]) -> Option<Vec<String>> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("steady")
        .env("PKG_CONFIG_PATH", dir)
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

fn pkg_config_installed(prefix: &Path, args: &[&str]) -> Option<Vec<String>> {
    pkg_config_in(&prefix.join("lib/pkgconfig"), args)
}

/// `cc SOURCE $(pkg-config --cflags --libs steady)` against the installed prefix.
fn compile_installed(prefix: &Path, source: &Path, exe: &Path, flags: &[String]) {
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
        .arg(source)
        .args(flags)
        .arg("-o")
        .arg(exe)
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(
        out.status.success(),
        "{}",
        report(&format!("cc {}", source.display()), &out)
    );
}

fn dynamic_section(file: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(file)
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success(), "{}", report("readelf -d", &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_install_script_installs_what_pkg_config_builds_against() {
    if !pkg_config_found() {
        return;
    }
    let prefix = installed_prefix();
    let version = env!("CARGO_PKG_VERSION");
    let lib = prefix.join("lib");
    for file in [
        prefix.join("include/steady.h"),
        lib.join(format!("libsteady.so.{version}")),
        lib.join("libsteady.a"),
        lib.join("pkgconfig/steady.pc"),
        prefix.join("share/steady/steady.supp"),
    ] {
        assert!(file.is_file(), "{} not installed", file.display());
    }
    for (link, to) in [
        ("libsteady.so.0", format!("libsteady.so.{version}")),
        ("libsteady.so", "libsteady.so.0".to_string()),
    ] {
        assert_eq!(
            std::fs::read_link(lib.join(link)).unwrap(),
            PathBuf::from(&to),
            "{link}"
        );
    }
    let dynamic = dynamic_section(&lib.join(format!("libsteady.so.{version}")));
    assert!(
        dynamic.contains("Library soname: [libsteady.so.0]"),
        "{dynamic}"
    );
    assert_eq!(
        pkg_config_installed(prefix, &["--modversion"]).unwrap(),
        [version]
    );

    // Dynamically linked, found at run time through LD_LIBRARY_PATH.
    let flags = pkg_config_installed(prefix, &["--cflags", "--libs"]).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-install");
    let exe = dir.join("controller_host");
    compile_installed(
        prefix,
        &root().join("examples/c/controller_host.c"),
        &exe,
        &flags,
    );
    let dynamic = dynamic_section(&exe);
    assert!(
        dynamic.contains("Shared library: [libsteady.so.0]"),
        "the program needs the soname, not the file: {dynamic}"
    );
    let out = Command::new(&exe)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("running the example");
    assert!(out.status.success(), "{}", report("controller_host", &out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ConfigMap sky has color grey"));

    // Statically linked: the archive and the private libraries of the .pc file.
    let mut flags = pkg_config_installed(prefix, &["--cflags"]).unwrap();
    flags.push(lib.join("libsteady.a").display().to_string());
    flags.extend(
        pkg_config_installed(prefix, &["--static", "--libs-only-l"])
            .unwrap()
            .into_iter()
            .filter(|l| l != "-lsteady"),
    );
    let exe = dir.join("controller_host_static");
    compile_installed(
        prefix,
        &root().join("examples/c/controller_host.c"),
        &exe,
        &flags,
    );
    assert!(!dynamic_section(&exe).contains("libsteady"));
    let out = Command::new(&exe).output().expect("running the example");
    assert!(
        out.status.success(),
        "{}",
        report("controller_host_static", &out)
    );
}

/// The optimised library, as installed, with the installed suppression file: the release
/// build's false positives (an `Option`'s unused payload read by optimised code) are
/// suppressed, and nothing else is reported. `engine_lifecycle` starts the API server, which
/// the installed library (default features) does not have.
#[test]
fn c_programs_are_clean_under_valgrind_in_a_release_build() {
    if !valgrind_installed() {
        return;
    }
    if !pkg_config_found() {
        return;
    }
    let prefix = installed_prefix();
    let flags = pkg_config_installed(prefix, &["--cflags", "--libs"]).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-install/release");
    std::fs::create_dir_all(&dir).unwrap();
    let programs: Vec<_> = PROGRAMS
        .iter()
        .filter(|n| **n != "engine_lifecycle")
        .map(|n| {
            let exe = dir.join(n);
            compile_installed(prefix, &root().join(format!("tests/c/{n}.c")), &exe, &flags);
            (*n, exe)
        })
        .collect();
    let lib = prefix.join("lib");
    memcheck_all(
        &programs,
        &prefix.join("share/steady/steady.supp"),
        &[("LD_LIBRARY_PATH", &lib)],
    );
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
    pkg_config_in(&pkg_config_dir(), args)
}

/// `cc -std=c11 -Wall -Wextra -Werror SOURCE ARGS -o EXE`, which must succeed.
fn cc_example(source: &str, args: &[String], exe: &Path) {
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join(source))
        .args(args)
        .arg("-o")
        .arg(exe)
        .output()
        .expect("the system C compiler `cc` runs");
    assert!(
        out.status.success(),
        "{}",
        report(&format!("cc {source}"), &out)
    );
}

#[test]
fn c_example_builds_with_pkg_config_and_runs() {
    let Some(flags) = pkg_config(&["--cflags", "--libs"]) else {
        eprintln!("skipped: pkg-config is not installed");
        return;
    };
    assert!(flags.iter().any(|f| f == "-lsteady"), "{flags:?}");
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("controller_host");
    let mut args = flags;
    args.push(format!("-Wl,-rpath,{}", library_dir().display()));
    cc_example("examples/c/controller_host.c", &args, &exe);
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
    let mut args = flags;
    args.push(format!("-Wl,-rpath,{}", library_dir().display()));
    cc_example("examples/c/worker_host.c", &args, &exe);
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
    let mut args = flags;
    args.push(archive.display().to_string());
    args.extend(private.into_iter().filter(|l| l != "-lsteady"));
    cc_example("examples/c/controller_host.c", &args, &exe);
    let out = Command::new(&exe).output().expect("running the example");
    assert!(
        out.status.success(),
        "{}",
        report("controller_host_static", &out)
    );
}
