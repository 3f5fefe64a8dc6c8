#!/usr/bin/env bash
# Debian's Rust programs: the packages apt's own package lists mark as built by Cargo
# (`X-Cargo-Built-Using`), the first N by name (default 30) downloaded with `apt-get download`,
# unpacked with `dpkg-deb -x` (nothing is installed), and audited with `cargo share audit`:
# what their binaries duplicate and what sharing would save (docs/src/results.md).
#
# Usage: scripts/debian-rust-programs.sh WORK [N]
#   WORK/packages.txt   every package marked X-Cargo-Built-Using, with its version
#   WORK/chosen.txt     the N audited
#   WORK/root/          the unpacked packages
#   WORK/audit.txt      the audit's tables; WORK/audit.json its `audit-finished` record
# Needs apt-get (with package lists: `apt-get update`), dpkg-deb and cargo-share on PATH
# (or CARGO_SHARE=path/to/cargo-share).
set -euo pipefail

work=${1:?usage: scripts/debian-rust-programs.sh WORK [N]}
max=${2:-30}
cargo_share=${CARGO_SHARE:-cargo-share}
mkdir -p "$work/debs" "$work/root"

apt-cache dumpavail \
    | awk '/^Package:/ {p = $2} /^Version:/ {v = $2} /^X-Cargo-Built-Using:/ {print p, v}' \
    | sort -u -k1,1 > "$work/packages.txt"
echo "$(wc -l < "$work/packages.txt") packages marked X-Cargo-Built-Using in apt's lists" >&2
head -n "$max" "$work/packages.txt" > "$work/chosen.txt"

(cd "$work/debs" && apt-get download $(awk '{print $1 "=" $2}' ../chosen.txt))
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done

"$cargo_share" share audit "$work/root" > "$work/audit.txt"
"$cargo_share" share audit --json "$work/root" | grep '"reason":"audit-finished"' > "$work/audit.json"
cat "$work/audit.txt"
