#!/usr/bin/env bash
# Installs steady for C and C++ hosts under a prefix, the layout cargo-c's `cargo cinstall`
# makes (cargo-c itself is a long build for one command; this does the same with cargo):
#
#   INCLUDEDIR/steady.h
#   LIBDIR/libsteady.so.X.Y.Z      SONAME libsteady.so.X (X: the crate's major version)
#   LIBDIR/libsteady.so.X       -> libsteady.so.X.Y.Z    (what programs load at run time)
#   LIBDIR/libsteady.so         -> libsteady.so.X        (what `-lsteady` links against)
#   LIBDIR/libsteady.a
#   LIBDIR/pkgconfig/steady.pc     (steady.pc.in rendered for this prefix)
#   DATADIR/steady/steady.supp     (valgrind suppressions for hosts' CI)
#
# Usage: scripts/install-c.sh [--prefix DIR] [--libdir DIR] [--includedir DIR]
#                             [--datadir DIR] [--destdir DIR] [--profile NAME]
#                             [--features LIST] [--target-dir DIR]
#
#   --prefix      where it goes (default /usr/local); --libdir, --includedir and --datadir
#                 default to PREFIX/lib, PREFIX/include and PREFIX/share
#   --destdir     stage the files under DIR (packaging), as if installed at PREFIX
#   --profile     cargo profile to build with (default release)
#   --features    cargo features of the library (default none: e.g. apiserver)
#   --target-dir  cargo's target dir for this build (default ${CARGO_TARGET_DIR:-target}/install,
#                 shared with the Python package's build, which makes the same library: a
#                 library with a soname in target/release would break linking from a checkout)
#
# Then: cc app.c $(pkg-config --cflags --libs steady)   (PKG_CONFIG_PATH=LIBDIR/pkgconfig
# unless LIBDIR is one pkg-config searches). Linux only.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/usr/local
libdir="" includedir="" datadir="" destdir="" profile=release features="" target_dir=""

die() {
  echo "install-c.sh: $*" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
  --prefix | --libdir | --includedir | --datadir | --destdir | --profile | --features | --target-dir)
    [ $# -ge 2 ] || die "$1 needs a value"
    name="${1#--}"
    name="${name//-/_}"
    printf -v "$name" '%s' "$2"
    shift 2
    ;;
  --prefix=* | --libdir=* | --includedir=* | --datadir=* | --destdir=* | --profile=* | --features=* | --target-dir=*)
    name="${1%%=*}"
    name="${name#--}"
    name="${name//-/_}"
    printf -v "$name" '%s' "${1#*=}"
    shift
    ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
    ;;
  *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ "$(uname -s)" = Linux ] || die "only Linux is supported (the soname and symlinks are ELF's)"
libdir="${libdir:-$prefix/lib}"
includedir="${includedir:-$prefix/include}"
datadir="${datadir:-$prefix/share}"
target_dir="${target_dir:-${CARGO_TARGET_DIR:-$root/target}/install}"
cargo="${CARGO:-cargo}"

# One source of truth for the version: Cargo.toml (`cargo pkgid` ends in #VERSION or @VERSION).
pkgid="$("$cargo" pkgid --quiet --manifest-path "$root/Cargo.toml")"
version="${pkgid##*[#@]}"
major="${version%%.*}"
soname="libsteady.so.$major"

# Only the two library kinds C needs, in one compile; the soname is a link argument of the
# shared library alone (rustc passes no link arguments for a static library). Python's
# package build (bindings/python/setup.py) runs the same compile, so each reuses the other's.
feature_args=()
[ -n "$features" ] && feature_args=(--features "$features")
"$cargo" rustc --manifest-path "$root/Cargo.toml" --lib --locked --profile "$profile" \
  --target-dir "$target_dir" --crate-type cdylib,staticlib "${feature_args[@]}" \
  -- -C "link-arg=-Wl,-soname,$soname"

case "$profile" in
dev | test) out="$target_dir/debug" ;;
bench) out="$target_dir/release" ;;
*) out="$target_dir/$profile" ;;
esac

install -d "$destdir$includedir" "$destdir$libdir/pkgconfig" "$destdir$datadir/steady"
install -m 644 "$root/include/steady.h" "$destdir$includedir/steady.h"
install -m 755 "$out/libsteady.so" "$destdir$libdir/libsteady.so.$version"
ln -sfn "libsteady.so.$version" "$destdir$libdir/$soname"
ln -sfn "$soname" "$destdir$libdir/libsteady.so"
install -m 644 "$out/libsteady.a" "$destdir$libdir/libsteady.a"
install -m 644 "$root/valgrind/steady.supp" "$destdir$datadir/steady/steady.supp"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
  -e "s|@VERSION@|$version|" -e "/^#/d" "$root/steady.pc.in" >"$destdir$libdir/pkgconfig/steady.pc"
chmod 644 "$destdir$libdir/pkgconfig/steady.pc"

echo "installed steady $version (SONAME $soname) under $destdir$prefix"
if [ -z "$destdir" ]; then
  echo "build with: PKG_CONFIG_PATH=$libdir/pkgconfig cc app.c \$(pkg-config --cflags --libs steady)"
  echo "run with $libdir on the loader's path (ldconfig, LD_LIBRARY_PATH or -Wl,-rpath,$libdir)"
fi
