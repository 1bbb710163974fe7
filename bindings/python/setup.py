"""Builds the wheel: the pure-Python package `steady` plus the crate's C library, compiled by
setuptools-rust (cargo) and copied into the package as `steady/libsteady.so`, where
`steady/_lib.py` looks first.

The library is loaded with ctypes, not imported: it is not a CPython extension module, so
it keeps its plain name and the wheel is tagged for any Python 3 (`py3-none-<platform>`).
The version is the crate's (`../../Cargo.toml`).

The library is compiled exactly as `scripts/install-c.sh` compiles it for C (the shared and
static library in one compile, with the soname `libsteady.so.<major>`, in
`<target>/install`, where `<target>` is `CARGO_TARGET_DIR` or the checkout's `target/`), so
either reuses the other's build, and a build with a soname never lands in `target/release`,
where a C program linked from the checkout would then look for `libsteady.so.0`.
`SETUPTOOLS_RUST_CARGO_PROFILE` picks another cargo profile than release, and
`STEADY_CARGO_FEATURES` (comma-separated) cargo features of the library.
"""

import os
import sys

from setuptools import setup
from setuptools_rust import Binding, RustExtension, build_rust

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

# Relative to this folder: pip builds a local directory in place.
CRATE = os.path.join("..", "..", "Cargo.toml")

if sys.platform == "darwin":
    LIBRARY = "libsteady.dylib"
elif sys.platform == "win32":
    LIBRARY = "steady.dll"
else:
    LIBRARY = "libsteady.so"


def crate_version() -> str:
    with open(CRATE, "rb") as f:
        return tomllib.load(f)["package"]["version"]


VERSION = crate_version()
os.environ["CARGO_TARGET_DIR"] = os.path.join(
    os.environ.get("CARGO_TARGET_DIR") or os.path.abspath(os.path.join("..", "..", "target")),
    "install",
)
# install-c.sh's link argument; ELF only (ctypes loads the file by its path either way).
SONAME = [] if sys.platform in ("darwin", "win32") else [
    "-C", f"link-arg=-Wl,-soname,libsteady.so.{VERSION.split('.')[0]}"
]


class build_rust_library(build_rust):
    """Copies the cdylib to `steady/<LIBRARY>` instead of an extension module's name
    (`libsteady.cpython-311-x86_64-linux-gnu.so`): the name `_lib.py` loads."""

    def get_dylib_ext_path(self, ext, target_fname):
        path = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(path), LIBRARY)


cmdclass = {"build_rust": build_rust_library}

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel


class bdist_wheel_any_python(bdist_wheel):
    """A platform wheel for every Python 3: the library does not use the Python C API."""

    def get_tag(self):
        _python, _abi, platform = super().get_tag()
        return "py3", "none", platform


cmdclass["bdist_wheel"] = bdist_wheel_any_python

setup(
    version=VERSION,
    packages=["steady"],
    package_data={"steady": ["py.typed"]},
    rust_extensions=[
        RustExtension(
            "steady.libsteady",
            path=CRATE,
            binding=Binding.NoBinding,
            # The library only, with the crate's default features unless asked for more
            # (STEADY_CARGO_FEATURES=apiserver: the Kubernetes API server).
            features=[f for f in os.environ.get("STEADY_CARGO_FEATURES", "").split(",") if f],
            args=["--locked", "--crate-type", "cdylib,staticlib"],
            rustc_flags=SONAME,
        )
    ],
    cmdclass=cmdclass,
    zip_safe=False,
)
