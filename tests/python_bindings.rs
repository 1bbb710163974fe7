//! The Python bindings' unittest suite (`bindings/python/tests`), run against the cdylib this
//! `cargo test` built, so that `cargo test` covers them. Skipped with a message when no
//! `python3` is installed.

mod nested_cargo;

use std::path::Path;
use std::process::Command;

/// The cdylib next to this test binary (`target/<profile>/deps`) or in its parent.
fn library() -> std::path::PathBuf {
    let name = format!(
        "{}steady{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join(&name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not found next to {}", exe.display()))
}

#[test]
fn python_unittest_suite_passes() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("bindings/python");
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."])
        .current_dir(&python)
        .env("PYTHONPATH", &python)
        .env("STEADY_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python suite failed:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("{stderr}");
}

#[test]
fn python_example_controller_runs() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("examples/python/widgets.py"))
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("STEADY_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "examples/python/widgets.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ConfigMap sky has color grey"), "{stdout}");
}

#[test]
fn python_game_fleet_example_runs_short() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("examples/python/game_fleet.py"))
        .arg("--short")
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("STEADY_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "examples/python/game_fleet.py --short failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(a bad autoscaler is refused: "),
        "{stdout}"
    );
    assert!(stdout.contains(": Unhealthy ("), "{stdout}");
    assert!(
        stdout.contains("fleet settled: 3 replicas, 3 ready, 0 allocated"),
        "{stdout}"
    );
    assert!(stdout.contains("== done: "), "{stdout}");
    assert!(!stdout.contains("PROBLEM"), "{stdout}");
}

fn run_ok(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What a Python user does: a wheel built from `bindings/python` (setuptools-rust runs cargo
/// and puts the library into the package), installed with pip into a fresh virtual
/// environment; then `import steady` and the whole unittest suite, from a folder outside the
/// checkout, with neither PYTHONPATH nor STEADY_LIBRARY. Needs the `venv` module and PyPI
/// (for setuptools and setuptools-rust, in pip's isolated build environment). The release
/// library is the one `scripts/install-c.sh` compiles (the same compile, in
/// `target/install`): after `tests/c_api.rs` installed it, cargo only finds it fresh.
#[test]
fn the_package_installs_with_pip_and_its_suite_passes_outside_the_checkout() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pip-install");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let venv = work.join("venv");
    run_ok(
        "python3 -m venv (Debian: apt-get install python3-venv)",
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
    );
    let python = venv.join("bin/python");
    let wheels = work.join("wheels");
    let pip = |what: &str, args: &[&std::ffi::OsStr]| {
        run_ok(
            what,
            nested_cargo::without_test_env(&mut Command::new(&python))
                .args(["-m", "pip", "--disable-pip-version-check", "--no-input"])
                .args(args)
                .current_dir(&work)
                .env_remove("PYTHONPATH")
                .env_remove("STEADY_LIBRARY"),
        )
    };
    pip(
        "pip wheel ./bindings/python",
        &[
            "wheel".as_ref(),
            "--no-deps".as_ref(),
            "--wheel-dir".as_ref(),
            wheels.as_os_str(),
            root.join("bindings/python").as_os_str(),
        ],
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("pip wheel wrote a wheel");
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("steady-{}-py3-none-", env!("CARGO_PKG_VERSION"))),
        "{name}: the crate's version, for any Python 3"
    );
    pip(
        "pip install the wheel",
        &["install".as_ref(), wheel.as_os_str()],
    );

    let clean_env = |cmd: &mut Command| -> String {
        run_ok(
            "python in the virtual environment",
            cmd.current_dir(&work)
                .env_remove("PYTHONPATH")
                .env_remove("STEADY_LIBRARY")
                .env("PYTHONDONTWRITEBYTECODE", "1"),
        )
    };
    let out = clean_env(Command::new(&python).args([
        "-c",
        "import importlib.metadata, steady; steady.Engine().close(); \
         print(steady.library_path()); print(steady.__version__); \
         print(importlib.metadata.version('steady'))",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let library = Path::new(lines[0]);
    assert!(
        library.starts_with(&venv) && library.ends_with("steady/libsteady.so"),
        "the installed package loads its own library, not the checkout's: {out}"
    );
    assert_eq!(lines[1], env!("CARGO_PKG_VERSION"), "{out}");
    assert_eq!(lines[2], env!("CARGO_PKG_VERSION"), "{out}");

    // The suite, copied out of the checkout so that `import steady` finds only the installed
    // package (unittest puts the top-level folder first on sys.path).
    let tests = work.join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    for entry in std::fs::read_dir(root.join("bindings/python/tests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, tests.join(path.file_name().unwrap())).unwrap();
        }
    }
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."])
        .current_dir(&work)
        .env_remove("PYTHONPATH")
        .env_remove("STEADY_LIBRARY")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running the suite");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python suite failed against the installed package:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("{stderr}");
}
