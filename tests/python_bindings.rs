//! The Python bindings' unittest suite (`bindings/python/tests`), run against the cdylib this
//! `cargo test` built, so that `cargo test` covers them. Skipped with a message when no
//! `python3` is installed.

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
