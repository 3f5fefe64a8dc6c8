#!/usr/bin/env bash
# Debian's projection checked against a build (docs/src/results.md, 2026-12-07): for Debian
# packages marked `X-Cargo-Built-Using`, take the upstream version each records, and for those
# whose version is on crates.io with a binary and builds today with its own Cargo.lock (as
# `cargo install --locked NAME@VERSION` would), build them grouped against static with
# `cargo share bench`, then compare the measured disk ratio with the audit's projection for
# exactly those programs, taken two ways: from Debian's own binaries of the packages, and from
# the bench's own static builds.
#
# Usage: scripts/debian-projection-check.sh WORK [PACKAGE[=CRATE]...]
#   PACKAGE   a Debian binary package (default: the list below); =CRATE when the crate's name
#             differs from the package's
#   WORK/candidates.txt  package, Debian version, crate@version, built? and the cause if not
#   WORK/programs.txt    the programs that build, in `--programs` format
#   WORK/logs/           `cargo check` output of each candidate
#   WORK/bench/, WORK/bench.json     the bench's work directory and its `bench-finished` record
#   WORK/debian-root/, WORK/audit-debian.json   the unpacked packages and their audit
#   WORK/static-bin/, WORK/audit-static.json    the bench's static builds (with symbol tables)
#                                               and their audit
#   WORK/comparison.txt  measured against projected
# Needs apt-get with package lists (`apt-get update`), dpkg-deb, cargo, python3, cargo-share on
# PATH (or CARGO_SHARE=path/to/cargo-share). kmon links libxcb's render, shape and xfixes
# libraries: `apt-get install libxcb-render0-dev libxcb-shape0-dev libxcb-xfixes0-dev` (as
# `cargo install kmon` needs them); `cargo check` does not link, so a missing system library
# shows in the bench. Everything heavy runs under `nice -n 19`. BENCH_ARGS adds options to the
# bench (default `--runs 5`; `--reuse` keeps the static builds of an earlier run); BENCH_SKIP
# names packages that are checked but left out of the bench (recorded as such), to keep it short.
set -euo pipefail

work=${1:?usage: scripts/debian-projection-check.sh WORK [PACKAGE[=CRATE]...]}
shift
if [ $# -eq 0 ]; then
    # Audited on 2026-12-06 (scripts/debian-rust-programs.sh), with a crates.io crate of the
    # same name that has a binary.
    set -- hexyl exa cbindgen dfrs kmon b3sum lalrpop fd-find hyperfine bat grcov lscolors
fi
cargo_share=${CARGO_SHARE:-cargo-share}
bench_args=${BENCH_ARGS:---runs 5}
bench_skip=" ${BENCH_SKIP:-} "
work=$(mkdir -p "$work" && cd "$work" && pwd)
mkdir -p "$work/logs" "$work/src" "$work/debs" "$work/debian-root" "$work/static-bin"
: > "$work/candidates.txt"
: > "$work/programs.txt"
built_packages=()

# The version of PACKAGE apt's lists mark X-Cargo-Built-Using.
debian_version() {
    apt-cache dumpavail | awk -v want="$1" '
        /^Package:/ {p = $2} /^Version:/ {v = $2}
        /^X-Cargo-Built-Using:/ && p == want {found = v} END {print found}'
}

# The crate's source as crates.io serves it, unpacked by cargo into WORK/src/NAME-VERSION.
fetch_crate() {
    local name=$1 version=$2 scratch="$work/src/fetch-$1"
    mkdir -p "$scratch"
    printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "lib.rs"\n[dependencies]\n%s = "=%s"\n' \
        "$name" "$name" "$version" > "$scratch/Cargo.toml"
    : > "$scratch/lib.rs"
    cargo fetch -q --manifest-path "$scratch/Cargo.toml" 2>/dev/null || return 1
    local registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
    local found
    found=$(find "$registry" -maxdepth 2 -type d -name "$name-$version" | head -n 1)
    [ -n "$found" ] || return 1
    rm -rf "$work/src/$name-$version"
    cp -r "$found" "$work/src/$name-$version"
}

# The binaries `cargo install` builds: those whose required features the default features
# enable (a feature's plain entries enabled in turn; an optional dependency is a feature).
default_bins='
import json, sys
package = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1])
features = package["features"]
enabled, todo = set(), ["default"]
while todo:
    feature = todo.pop()
    if feature not in enabled:
        enabled.add(feature)
        todo += [f for f in features.get(feature, []) if "/" not in f and not f.startswith("dep:")]
for target in package["targets"]:
    if target["kind"] == ["bin"] and set(target.get("required-features", [])) <= enabled:
        print(target["name"])
'

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$work/candidates.txt"; }

for arg in "$@"; do
    package=${arg%%=*}
    crate=${arg#*=}
    version=$(debian_version "$package")
    if [ -z "$version" ]; then
        record "$package" "-" "$crate" no "not marked X-Cargo-Built-Using in apt's lists"
        continue
    fi
    upstream=${version#*:}
    upstream=${upstream%-*}
    spec="$crate@$upstream"
    echo "== $package $version: $spec" >&2
    if ! fetch_crate "$crate" "$upstream"; then
        record "$package" "$version" "$spec" no "not on crates.io at that version"
        continue
    fi
    src="$work/src/$crate-$upstream"
    if [ ! -f "$src/Cargo.lock" ]; then
        record "$package" "$version" "$spec" no "ships no Cargo.lock"
        continue
    fi
    bins=$(cargo metadata -q --no-deps --format-version 1 --manifest-path "$src/Cargo.toml" \
        | python3 -c "$default_bins" "$crate")
    if [ -z "$bins" ]; then
        record "$package" "$version" "$spec" no \
            "no binary without required features (cargo install builds none)"
        continue
    fi
    log="$work/logs/$crate-$upstream.txt"
    if CARGO_TARGET_DIR="$work/check-target" nice -n 19 cargo check -q --release --locked \
        --bins --manifest-path "$src/Cargo.toml" > "$log" 2>&1; then
        if [[ $bench_skip == *" $package "* ]]; then
            record "$package" "$version" "$spec" yes "left out of the bench (BENCH_SKIP)"
            continue
        fi
        record "$package" "$version" "$spec" yes ""
        echo "$spec" >> "$work/programs.txt"
        built_packages+=("$package=$version")
    else
        cause=$(grep -m1 -E '^error(\[E[0-9]+\])?:' "$log" || tail -n 1 "$log")
        record "$package" "$version" "$spec" no "$cause (see logs/$crate-$upstream.txt)"
    fi
done
column -t -s $'\t' "$work/candidates.txt" >&2
[ -s "$work/programs.txt" ] || { echo "no candidate builds" >&2; exit 1; }

# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
nice -n 19 "$cargo_share" share bench --programs "$work/programs.txt" --layout grouped \
    --no-update --work "$work/bench" --json $bench_args \
    | grep '"reason":"bench-finished"' > "$work/bench.json"

(cd "$work/debs" && apt-get download "${built_packages[@]}")
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/debian-root"
done
"$cargo_share" share audit --json "$work/debian-root" \
    | grep '"reason":"audit-finished"' > "$work/audit-debian.json"

# The bench's static builds keep their symbol tables; its stripped copies name the binaries.
for stripped in "$work"/bench/stripped/static/bin/*; do
    name=$(basename "$stripped")
    cp "$(find "$work/bench/static-target" -path "*/release/$name" -type f | head -n 1)" \
        "$work/static-bin/$name"
done
"$cargo_share" share audit --json "$work/static-bin" \
    | grep '"reason":"audit-finished"' > "$work/audit-static.json"

python3 - "$work" <<'EOF' | tee "$work/comparison.txt"
import collections, json, os, re, subprocess, sys
work = sys.argv[1]


def sections(variant):
    """Bytes per section kind over a build's stripped files (`readelf -SW`)."""
    kinds = {".text": "code", ".rodata": "read-only data", ".eh_frame": "unwind tables",
             ".eh_frame_hdr": "unwind tables", ".gcc_except_table": "unwind tables",
             ".data.rel.ro": "relocated read-only data", ".rela.dyn": "dynamic linking",
             ".rela.plt": "dynamic linking", ".dynsym": "dynamic linking",
             ".dynstr": "dynamic linking", ".gnu.hash": "dynamic linking"}
    total = collections.Counter()
    for root, _, files in os.walk(f"{work}/bench/stripped/{variant}"):
        for name in files:
            path = os.path.join(root, name)
            listing = subprocess.run(["readelf", "-SW", path], capture_output=True,
                                     text=True, check=True).stdout
            counted = 0
            for section, size in re.findall(
                    r"\]\s+(\S+)\s+\S+\s+[0-9a-f]{16}\s+[0-9a-f]+\s+([0-9a-f]+)\s", listing):
                if section in kinds:
                    total[kinds[section]] += int(size, 16)
                    counted += int(size, 16)
            total["the rest"] += os.path.getsize(path) - counted
    return total
bench = json.load(open(f"{work}/bench.json"))
variants = {v["name"]: v for v in bench["variants"]}
static = variants["static"]
grouped = next(v for n, v in variants.items() if n.startswith("shared grouped"))
total = lambda v: v["binaries_bytes"] + v["libraries_bytes"]
measured_ratio = total(grouped) / total(static)
measured_saving = total(static) - total(grouped)
mb = lambda b: f"{b / 1e6:.2f} MB"
print(f"measured (bench, stripped, libstd included): static {mb(total(static))}, "
      f"grouped {mb(total(grouped))}, ratio {measured_ratio:.3f}x, saving {mb(measured_saving)}")
for label, file in [("Debian's binaries", "audit-debian.json"),
                    ("the bench's static builds", "audit-static.json")]:
    p = json.load(open(f"{work}/{file}"))["projection"]
    base = p["stripped_bytes"]
    for what, saving in [
            ("code only, as locked", p["saving_bytes"]),
            ("code only, one version per crate", p["saving_bytes"] + p["unify_saving_bytes"]),
            ("with its data, as locked", p["file_saving_bytes"]),
            ("with its data, one version per crate",
             p["file_saving_bytes"] + p["unify_file_saving_bytes"])]:
        ratio = (base - saving) / base
        print(f"projection from {label}, {what}: {p['binaries']} binaries, {mb(base)} stripped, "
              f"saving {mb(saving)}, ratio {ratio:.3f}x; "
              f"|projected - measured| / measured: ratio {abs(ratio - measured_ratio) / measured_ratio:.1%}, "
              f"saving share {abs(saving / base - measured_saving / total(static)) / (measured_saving / total(static)):.1%}")
static_sections, grouped_sections = sections("static"), sections("shared-grouped")
print("measured saving by section kind (static - grouped, stripped files):")
for kind in static_sections:
    print(f"  {kind}: {mb(static_sections[kind])} - {mb(grouped_sections[kind])} = "
          f"{mb(static_sections[kind] - grouped_sections[kind])}")
EOF
