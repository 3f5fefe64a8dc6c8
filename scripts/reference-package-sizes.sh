#!/usr/bin/env bash
# The native package figure of docs/src/results.md for crates.io programs (the reference set by
# default): `cargo share package --format deb` of the programs, with the command's defaults,
# against static packages of the same programs as `cargo-deb` makes them (the binaries `cargo
# install --locked` builds, stripped, in /usr/bin: examples/package_sizes.rs), gzip as written
# and with xz -6 data archives on both sides. REACHES CRATES.IO; release builds of every
# program twice (static and shared) take long: minutes a program on a quiet 2-core machine.
#
# A program's static package is named by the program and holds its binary of the same name;
# programs whose binary has another name (ripgrep's rg, fd-find's fd, du-dust's dust) are
# linked under the program's name (the same bytes; only the file name in the archive differs).
#
# Usage: scripts/reference-package-sizes.sh WORK_DIR [PROGRAMS_FILE]
#   (default PROGRAMS_FILE: examples/reference-programs.txt; a second run in the same WORK_DIR
#   reuses the static binaries it finds and the shared build's cache)
# Environment: CARGO_SHARE (default: cargo-share on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: scripts/reference-package-sizes.sh WORK_DIR [PROGRAMS_FILE]}
list=${2:-$root/examples/reference-programs.txt}
cs=${CARGO_SHARE:-cargo-share}
mkdir -p "$work" && work=$(cd "$work" && pwd)
mapfile -t specs < <(grep -v '^#' "$list" | grep -v '^[[:space:]]*$')
names=()
for spec in "${specs[@]}"; do names+=("${spec%@*}"); done

# Static: one `cargo install --locked` each, one target directory for all.
for spec in "${specs[@]}"; do
  name=${spec%@*}
  [ -e "$work/static/$name" ] && continue
  before=$(ls "$work/static-root/bin" 2>/dev/null || true)
  CARGO_TARGET_DIR=$work/static-target cargo install -q --locked --root "$work/static-root" \
    "$name" --version "${spec#*@}"
  mkdir -p "$work/static"
  # The binary this install added (or the one named as the program).
  bin=$(comm -13 <(echo "$before") <(ls "$work/static-root/bin") | head -1)
  [ -x "$work/static-root/bin/$name" ] && bin=$name
  ln -sf "../static-root/bin/$bin" "$work/static/$name"
done

# Shared: the command with its defaults.
rm -rf "$work/deb"
"$cs" --cache-dir "$work/cache" package -q --format deb --programs "$list" \
  --maintainer "Measure <measure@example.org>" --out-dir "$work/deb"

cd "$root"
# No fix here: the "after" directories are the "before" ones (the fix rows read 0).
cargo run -q --release --example package_sizes -- \
  "$work/deb" "$work/deb" "$work/static" "$work/static" "${names[@]}"
ls -l "$work/deb"
