#!/usr/bin/env bash
# The image figures of docs/src/results.md: the example product (examples/web-product, three
# services sharing tokio, serde, tracing and a local crate, two of them axum and hyper) as
# `cargo share image` makes its images, against static images of the same programs (`cargo
# build --release --locked`, what `cargo install --locked` builds; one image each, the binary
# alone in one layer, the same tar and gzip code: examples/image_sizes.rs). REACHES CRATES.IO
# (the example's crates, once); release builds take minutes.
#
# The body-only fix (FIX, default `tokio`): one statement (`::core::hint::black_box(0x5eed_u32);`)
# at the start of a non-generic function every build of the crate's users runs, in a copy of
# the crate: given to cargo-share as `--patch CRATE=DIR`, to the static builds as
# `[patch.crates-io]`.
#   FIX=tokio     tokio 1.54.1, the multi-thread worker's `Context::park` (all three services)
#   FIX=httparse  httparse 1.10.1, `Request::parse_with_config_and_uninit_headers` (the two
#                 axum services, through hyper)
#
# Usage: [FIX=tokio|httparse] scripts/image-sizes.sh [WORK_DIR]   (default: a new temporary
# directory; a second run in the same directory reuses its builds, the static binaries as they are)
# Environment: CARGO_SHARE (default: cargo-share on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
cs=${CARGO_SHARE:-cargo-share}
example=$root/examples/web-product
programs=(catalog-api edge-gateway orders-worker)
mkdir -p "$work"
echo "work dir: $work" >&2

fix=${FIX:-tokio}
case $fix in
  tokio)
    file=src/runtime/scheduler/multi_thread/worker.rs
    line='    fn park(&self, mut core: Box<Core>) -> Box<Core> {' ;;
  httparse)
    file=src/lib.rs
    line='    ) -> Result<usize> {'
    after='    fn parse_with_config_and_uninit_headers(' ;;
  *) echo "FIX must be tokio or httparse" >&2; exit 2 ;;
esac

# The fixed copy of the crate, the statement after the first line `line` (that follows `after`).
src=$(cargo metadata --manifest-path "$example/Cargo.toml" --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]==sys.argv[1]))' "$fix")
copy=$work/$fix-fix
rm -rf "$copy" && cp -r "$(dirname "$src")" "$copy"
python3 - "$copy/$file" "$line" "${after:-}" <<'PY'
import sys
path, line, after = sys.argv[1:]
text = open(path).read().split("\n")
start = text.index(after) if after else 0
at = text.index(line, start)
text.insert(at + 1, "        ::core::hint::black_box(0x5eed_u32);")
open(path, "w").write("\n".join(text))
PY
grep -q 0x5eed_u32 "$copy/$file"

# Static: before, and after the fix (a copy of the workspace, whose lock the patch rewrites).
for state in before after; do
  dir=$work/static-$state
  [ "$state" = after ] && dir=$work/static-after-$fix
  have=1
  for p in "${programs[@]}"; do [ -x "$dir/$p" ] || have=0; done
  [ $have = 1 ] && continue # built by an earlier run in this directory
  ws=$example
  config=()
  if [ "$state" = after ]; then
    rm -rf "$work/static-ws" && cp -r "$example" "$work/static-ws" && rm -rf "$work/static-ws/target"
    ws=$work/static-ws
    config=(--config "patch.crates-io.$fix.path='$copy'")
  fi
  locked=(--locked)
  [ "$state" = after ] && locked=()
  CARGO_TARGET_DIR=$work/static-target cargo build --release "${locked[@]}" -q \
    --manifest-path "$ws/Cargo.toml" "${config[@]}"
  mkdir -p "$dir"
  for p in "${programs[@]}"; do cp "$work/static-target/release/$p" "$dir/"; done
done

# Shared: the images as OCI layouts, before and after.
"$cs" --cache-dir "$work/cache" image -q --manifest-path "$example" --out-dir "$work/shared-before"
"$cs" --cache-dir "$work/cache" image -q --manifest-path "$example" --out-dir "$work/shared-after-$fix" \
  --patch "$fix=$copy"

# Every program runs: the static binaries, and each shared image unpacked layer by layer into
# a directory of its own (no libc in it: the host's glibc runs it).
for p in "${programs[@]}"; do
  "$work/static-before/$p" --check >/dev/null 2>&1
  for state in before "after-$fix"; do
    tree=$work/unpacked-$state/$p
    rm -rf "$tree" && mkdir -p "$tree"
    python3 - "$work/shared-$state" "$p" <<'PY' | while read -r blob; do tar -xzf "$blob" -C "$tree"; done
import json, sys
layout, name = sys.argv[1], sys.argv[2]
index = json.load(open(f"{layout}/index.json"))
digest = next(m["digest"] for m in index["manifests"]
              if m["annotations"]["org.opencontainers.image.ref.name"] == name)
manifest = json.load(open(f"{layout}/blobs/sha256/{digest[7:]}"))
for layer in manifest["layers"]:
    print(f"{layout}/blobs/sha256/{layer['digest'][7:]}")
PY
    env -i "$tree/opt/cargo-share/bin/$p" --check 2>/dev/null
  done
done

cd "$root"
cargo run -q --example image_sizes -- "$work/shared-before" "$work/shared-after-$fix" \
  "$work/static-before" "$work/static-after-$fix" "${programs[@]}"
