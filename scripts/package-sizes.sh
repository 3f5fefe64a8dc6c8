#!/usr/bin/env bash
# The native package figures of docs/src/results.md: the example product (examples/web-product,
# three services) as `cargo share package --format deb` packages it, before and after a
# body-only fix in a shared crate (FIX), against static packages of the same programs as `cargo-deb`
# makes them (examples/package_sizes.rs: the stripped binary in /usr/bin, the same archive and
# gzip code); then apt installs the shared packages in a private root, upgrades after the fix,
# removes the programs and autoremoves, and the files left are counted. Needs root (dpkg), and
# Debian's dpkg-dev (dpkg-scanpackages) and apt.
#
# It reuses a work directory of scripts/image-sizes.sh run with the same FIX (httparse or
# tokio), which holds the static binaries before and after the fix (static-before,
# static-after-FIX) and the fixed copy of the crate (FIX-fix): run that first. Release builds
# take minutes (the image script's, in the same cache, are reused).
#
# Usage: [FIX=httparse|tokio] scripts/package-sizes.sh WORK_DIR
# Environment: CARGO_SHARE (default: cargo-share on PATH), CACHE_DIR (default: WORK_DIR/cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: scripts/package-sizes.sh WORK_DIR (a work directory of scripts/image-sizes.sh)}
work=$(cd "$work" && pwd)
cs=${CARGO_SHARE:-cargo-share}
cache=${CACHE_DIR:-$work/cache}
example=$root/examples/web-product
programs=(catalog-api edge-gateway orders-worker)
fix=${FIX:-httparse}
for d in static-before "static-after-$fix" "$fix-fix"; do
  [ -d "$work/$d" ] || { echo "$work/$d is missing: run FIX=$fix scripts/image-sizes.sh $work first" >&2; exit 2; }
done

package() {
  "$cs" --cache-dir "$cache" package -q --format deb --manifest-path "$example" \
    --maintainer "Measure <measure@example.org>" --out-dir "$@"
}
rm -rf "$work/deb-before" "$work/deb-after"
package "$work/deb-before"
cp -r "$work/deb-before" "$work/deb-after"
package "$work/deb-after" --patch "$fix=$work/$fix-fix"

cargo run -q --release --manifest-path "$root/Cargo.toml" --example package_sizes -- \
  "$work/deb-before" "$work/deb-after" "$work/static-before" "$work/static-after-$fix" \
  "${programs[@]}"

# apt in a private root: install the programs, upgrade after the fix, remove, autoremove.
r=$work/apt-root
rm -rf "$r"
mkdir -p "$r"/var/lib/dpkg/{info,updates,triggers} "$r"/var/lib/apt/lists/partial \
  "$r"/var/cache/apt/archives/partial "$r"/var/log/apt "$r"/etc/apt/{apt.conf.d,preferences.d,sources.list.d}
# The system packages the packages depend on, as this machine has them (their files are its own).
for p in libc6 libgcc-s1 gcc-12-base; do
  dpkg-query -s "$p" >> "$r/var/lib/dpkg/status" && echo >> "$r/var/lib/dpkg/status"
  : > "$r/var/lib/dpkg/info/$p:$(dpkg-query -W -f '${Architecture}' "$p").list"
done
cat > "$r/apt.conf" <<EOF
Dir "$r/";
Dir::State::status "$r/var/lib/dpkg/status";
Dir::Etc::SourceList "$r/etc/apt/sources.list";
Dir::Etc::SourceParts "$r/etc/apt/sources.list.d";
Dir::Etc::Parts "$r/etc/apt/apt.conf.d";
Dir::Etc::PreferencesParts "$r/etc/apt/preferences.d";
DPkg::Options { "--root=$r"; "--admindir=$r/var/lib/dpkg"; };
APT::Sandbox::User "root";
EOF
export APT_CONFIG=$r/apt.conf
use_repo() {
  (cd "$1" && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null)
  echo "deb [trusted=yes] file:$1 ./" > "$r/etc/apt/sources.list"
  apt-get update -qq
}
use_repo "$work/deb-before"
apt-get install -y -qq "${programs[@]}" > /dev/null
for p in "${programs[@]}"; do "$r/usr/bin/$p" --check > /dev/null 2>&1; done
echo "installed: $(apt-mark showauto | wc -l) packages as automatic dependencies"
use_repo "$work/deb-after"
echo "the upgrade downloads:"
apt-get --print-uris -y upgrade | grep "^'" | awk '{print "  " $2 " " $3 " bytes"}'
apt-get upgrade -y -qq > /dev/null
for p in "${programs[@]}"; do "$r/usr/bin/$p" --check > /dev/null 2>&1; done
apt-get remove -y -qq "${programs[@]}" > /dev/null
apt-get autoremove -y -qq > /dev/null
echo "files left under the root's /usr after remove and autoremove: $(find "$r/usr" 2>/dev/null | wc -l)"
