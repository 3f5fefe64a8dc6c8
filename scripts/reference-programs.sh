#!/usr/bin/env bash
# Build every program of a list (crates.io NAME@VERSION, one a line, `#` comments) twice:
# statically with `cargo install --locked` (each with its own profile), and with cargo-share into
# one shared tree; then compare each binary's `--version` output. Prints a table.
# REACHES CRATES.IO. Takes a while: 1 to 5 minutes per program and build kind on 2 cores.
#
# Usage: scripts/reference-programs.sh [PROGRAMS_FILE] [WORK_DIR]
#   PROGRAMS_FILE  default: examples/reference-programs.txt
#   WORK_DIR       default: a new temporary directory; reusing one skips finished static installs
# Environment: CARGO_SHARE (default: cargo-share on PATH).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list=${1:-$root/examples/reference-programs.txt}
work=${2:-$(mktemp -d)}
cs=${CARGO_SHARE:-cargo-share}
mkdir -p "$work/static" "$work/logs"
mapfile -t programs < <(grep -v '^[[:space:]]*#' "$list" | grep -v '^[[:space:]]*$')
echo "work dir: $work" >&2

for p in "${programs[@]}"; do
  name=${p%@*}; version=${p#*@}
  if [ ! -f "$work/static/$name/.done" ]; then
    echo "static: $p" >&2
    start=$(date +%s)
    if cargo install --locked -q --root "$work/static/$name" "$name" --version "$version" \
         > "$work/logs/static-$name.log" 2>&1; then
      echo $(( $(date +%s) - start )) > "$work/static/$name/.done"
    else
      echo "  static build of $p failed: $work/logs/static-$name.log" >&2
    fi
  fi
done

for p in "${programs[@]}"; do
  name=${p%@*}
  [ -f "$work/shared-$name.done" ] && continue
  echo "shared: $p" >&2
  start=$(date +%s)
  if "$cs" build -q --crate "$p" --out "$work/shared" --cache-dir "$work/cache" \
       > "$work/logs/shared-$name.log" 2>&1; then
    echo $(( $(date +%s) - start )) > "$work/shared-$name.done"
  else
    echo "  shared build of $p failed: $work/logs/shared-$name.log" >&2
  fi
done

printf '%-18s %-10s %-8s %-8s %s\n' program binary static shared "--version (static | shared)"
for p in "${programs[@]}"; do
  name=${p%@*}
  for bin in "$work/static/$name/bin/"*; do
    [ -x "$bin" ] || continue
    b=$(basename "$bin")
    sv=$(env -i "$bin" --version 2>&1 | head -n 1)
    if [ -x "$work/shared/bin/$b" ]; then
      dv=$(cd / && env -i "$work/shared/bin/$b" --version 2>&1 | head -n 1)
      if [ "$sv" = "$dv" ]; then verdict=same; else verdict=DIFFERS; fi
    else
      dv="(not built)"; verdict=MISSING
    fi
    printf '%-18s %-10s %-8s %-8s %s | %s\n' "$p" "$b" built "$verdict" "$sv" "$dv"
  done
done

# Real workloads, where a program has one: the same command with the static and the shared binary,
# from an empty environment; the outputs must be identical.
echo
printf '%-10s %-8s %s\n' binary result workload
workload() {
  local bin=$1; shift
  local static_bin shared_bin
  static_bin=$(ls "$work"/static/*/bin/"$bin" 2>/dev/null | head -n 1)
  shared_bin="$work/shared/bin/$bin"
  [ -x "$static_bin" ] && [ -x "$shared_bin" ] || { printf '%-10s %-8s %s\n' "$bin" skipped "$*"; return; }
  local a b
  a=$(cd "$root" && env -i "$static_bin" "$@" 2>&1 < /dev/null)
  b=$(cd "$root" && env -i "$shared_bin" "$@" 2>&1 < /dev/null)
  if [ "$a" = "$b" ]; then r=same; else r=DIFFERS; fi
  printf '%-10s %-8s %s (%s lines)\n' "$bin" "$r" "$*" "$(printf '%s\n' "$a" | wc -l)"
}
workload rg -n --sort path 'fn [a-z_]+\(' src tests
workload tokei src tests
workload hexyl --length 256 Cargo.toml
workload sd -p 'fn ' 'function ' crates/cargo-share-compile/src/plan.rs
workload fd --type f --extension rs . src
