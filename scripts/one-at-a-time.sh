#!/usr/bin/env bash
# Install a list of programs one at a time into one store, then the same list at once into
# another, and compare what each program loads. REACHES CRATES.IO; long: every install builds
# the installed programs again as one set (Cargo's fingerprints keep the crates that did not
# change) and runs the tests of those it moves to other crate versions.
#
# Usage: scripts/one-at-a-time.sh [PROGRAMS_FILE] [WORK_DIR]
#   PROGRAMS_FILE  default: examples/reference-programs.txt
#   WORK_DIR       default: a new temporary directory
# Environment: CARGO_SHARE (default: cargo-share on PATH); WITH_CARGO_INSTALL=1 also runs
# `cargo install --locked` of each program alone (a fresh target directory, into WORK_DIR/static)
# just before its one-at-a-time install, and prints both times and their ratio. ONE_FLAGS adds
# install flags to the one-at-a-time installs only (`--no-regroup`, `--keep-installed-versions`).
# TOGETHER_FROM=DIR compares with the together install of an earlier run's WORK_DIR (same
# list, same cargo-share) instead of installing the list together again; it waits until that
# run has listed its together store (DIR/all.json), so both runs can start at once.
# Prints one line per install (wall seconds, and CPU seconds: user + system of the command and
# every process it waited for, as /usr/bin/time reports them; CPU is the figure to compare when
# the machine is shared), each log line prefixed by the seconds since its command started, then
# per program the library files it loads in
# each store, how many of their files are byte-identical, and the bytes of libraries and
# binaries each way. Exit status 1 if a program loads other files one way than the other, or
# a file differs in content.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list=${1:-$root/examples/reference-programs.txt}
work=${2:-$(mktemp -d)}
cs=${CARGO_SHARE:-cargo-share}
mkdir -p "$work/logs"
mapfile -t programs < <(grep -v '^[[:space:]]*#' "$list" | grep -v '^[[:space:]]*$')
echo "work dir: $work" >&2

one=("$cs" --cache-dir "$work/one/cache" --store "$work/one/store")

# timed LOG CMD...: runs CMD, its output into LOG with each line prefixed by the seconds since
# the start; sets `wall` and `cpu` (seconds) and returns CMD's exit status.
timed() {
  local log=$1; shift
  local start; start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$log.time" "$@" 2>&1 | python3 -u -c '
import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    sys.stdout.write(f"{time.time() - t0:7.1f} {line}")' "$start" > "$log"
  local rc=${PIPESTATUS[0]}
  wall=$(python3 -c "import time; print(round(time.time() - $start))")
  cpu=$(awk 'END { printf "%d", $1 + $2 }' "$log.time")
  return "$rc"
}
ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
for p in "${programs[@]}"; do
  static=""
  if [ "${WITH_CARGO_INSTALL:-0}" = 1 ]; then
    timed "$work/logs/static-${p%@*}.log" cargo install --locked --root "$work/static" \
      --target-dir "$work/static-target/${p%@*}" "${p%@*}" --version "${p#*@}"
    static=$wall static_cpu=$cpu
    rm -rf "$work/static-target/${p%@*}"
  fi
  # shellcheck disable=SC2086 # ONE_FLAGS is a list of flags
  if timed "$work/logs/one-${p%@*}.log" "${one[@]}" install ${ONE_FLAGS:-} "$p" \
    --root "$work/one/root"; then
    if [ -n "$static" ]; then
      echo "one at a time: $p installed in $wall s ($cpu CPU s); cargo install --locked of it alone: $static s ($static_cpu CPU s); wall $(ratio "$wall" "$static")x, CPU $(ratio "$cpu" "$static_cpu")x"
    else
      echo "one at a time: $p installed in $wall s ($cpu CPU s)"
    fi
  else
    echo "one at a time: $p FAILED after $wall s: $work/logs/one-${p%@*}.log"
  fi
done
"${one[@]}" gc > "$work/logs/one-gc.log" 2>&1
"${one[@]}" verify > "$work/logs/one-verify.log" 2>&1 || echo "verify failed: $work/logs/one-verify.log"

together=${TOGETHER_FROM:-$work}
all=("$cs" --cache-dir "$together/all/cache" --store "$together/all/store")
if [ -n "${TOGETHER_FROM:-}" ]; then
  until [ -s "$TOGETHER_FROM/all.json" ]; do sleep 30; done
  echo "together: from $TOGETHER_FROM"
elif timed "$work/logs/all.log" "${all[@]}" install --programs "$list" --root "$work/all/root"; then
  echo "together: ${#programs[@]} programs installed in $wall s ($cpu CPU s)"
else
  echo "together: FAILED after $wall s: $work/logs/all.log"
fi
"${all[@]}" verify > "$work/logs/all-verify.log" 2>&1 || echo "verify failed: $work/logs/all-verify.log"

"${one[@]}" --json list > "$work/one.json"
"${all[@]}" --json list > "$work/all.json"
python3 - "$work" "$together" <<'PY'
import json, os, sys
work, together = sys.argv[1], sys.argv[2]
def root_of(way):
    return f"{work if way == 'one' else together}/{way}/root"
def load(way):
    lines = [json.loads(l) for l in open(f"{work}/{way}.json") if l.strip()]
    listing = [l for l in lines if l.get("reason") == "store-list"][0]
    loads, lib_bytes = {}, 0
    for lib in listing["libraries"]:
        lib_bytes += lib["runtime_size"]
        for user in lib["users"]:
            loads.setdefault(user, []).append(lib["file"])
    bin_dir = f"{root_of(way)}/bin"
    bin_bytes = sum(os.path.getsize(os.path.realpath(os.path.join(bin_dir, b)))
                    for b in os.listdir(bin_dir)) if os.path.isdir(bin_dir) else 0
    return loads, lib_bytes, bin_bytes
one, one_libs, one_bins = load("one")
all_, all_libs, all_bins = load("all")
same = True
for program in sorted(set(one) | set(all_)):
    a, b = sorted(one.get(program, [])), sorted(all_.get(program, []))
    mark = "same" if a == b else "DIFFERENT"
    same &= a == b
    groups = sum(1 for f in a if f.startswith("libcargo_share_group_"))
    print(f"{program}: {mark}; one at a time loads {len(a)} libraries ({groups} groups), together {len(b)}")
    if a != b:
        print(f"  one at a time only: {sorted(set(a) - set(b))}")
        print(f"  together only:      {sorted(set(b) - set(a))}")
def files(way, program):
    # The program's binary and every library in its lib/ directory, by name.
    binary = os.path.realpath(f"{root_of(way)}/bin/{program}")
    if not os.path.isfile(binary):
        return {}
    lib = os.path.join(os.path.dirname(os.path.dirname(binary)), "lib")
    out = {"bin/" + program: open(binary, "rb").read()}
    if os.path.isdir(lib):
        for name in os.listdir(lib):
            out["lib/" + name] = open(os.path.join(lib, name), "rb").read()
    return out
identical = total = 0
for program in sorted(set(one) & set(all_)):
    a, b = files("one", program), files("all", program)
    for name in sorted(set(a) | set(b)):
        total += 1
        identical += a.get(name) is not None and a.get(name) == b.get(name)
print(f"byte-identical: {identical} of {total} files (each program's binary and lib/)")
same &= identical == total
mb = lambda n: f"{n / 1e6:.1f} MB"
print(f"one at a time: libraries {mb(one_libs)}, binaries {mb(one_bins)}")
print(f"together:      libraries {mb(all_libs)}, binaries {mb(all_bins)}")
sys.exit(0 if same else 1)
PY
