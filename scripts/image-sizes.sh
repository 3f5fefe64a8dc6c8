#!/usr/bin/env bash
# The image figures of docs/src/results.md: the example product (examples/web-product, three
# services sharing tokio, serde and tracing, two of them axum and hyper) as `cargo share image`
# makes its images, against static images of the same programs (`cargo build --release
# --locked`, what `cargo install --locked` builds; one image each, the binary alone in one
# layer, the same tar and gzip code: examples/image_sizes.rs). REACHES CRATES.IO (the example's
# crates, once); release builds take minutes.
#
# The body-only fix: one statement (`::core::hint::black_box(0x5eed_u32);`) at the start of
# tokio's multi-thread worker `Context::park`, which every service's runtime runs, in a copy of
# tokio 1.54.1: given to cargo-share as `--patch tokio=DIR`, to the static builds as
# `[patch.crates-io]`.
#
# Usage: scripts/image-sizes.sh [WORK_DIR]   (default: a new temporary directory)
# Environment: CARGO_SHARE (default: cargo-share on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
cs=${CARGO_SHARE:-cargo-share}
example=$root/examples/web-product
programs=(catalog-api edge-gateway orders-worker)
mkdir -p "$work"
echo "work dir: $work" >&2

# The fixed copy of tokio.
tokio_src=$(cargo metadata --manifest-path "$example/Cargo.toml" --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="tokio"))')
rm -rf "$work/tokio-fix" && cp -r "$(dirname "$tokio_src")" "$work/tokio-fix"
park='    fn park(&self, mut core: Box<Core>) -> Box<Core> {'
worker=$work/tokio-fix/src/runtime/scheduler/multi_thread/worker.rs
grep -qF "$park" "$worker"
sed -i "/^    fn park(&self, mut core: Box<Core>) -> Box<Core> {\$/a\\        ::core::hint::black_box(0x5eed_u32);" "$worker"
grep -q 0x5eed_u32 "$worker"

# Static: before, and after the fix (a copy of the workspace, whose lock the patch rewrites).
for state in before after; do
  ws=$example
  config=()
  if [ "$state" = after ]; then
    rm -rf "$work/static-ws" && cp -r "$example" "$work/static-ws" && rm -rf "$work/static-ws/target"
    ws=$work/static-ws
    config=(--config "patch.crates-io.tokio.path='$work/tokio-fix'")
  fi
  locked=(--locked)
  [ "$state" = after ] && locked=()
  CARGO_TARGET_DIR=$work/static-target cargo build --release "${locked[@]}" -q \
    --manifest-path "$ws/Cargo.toml" "${config[@]}"
  mkdir -p "$work/static-$state"
  for p in "${programs[@]}"; do cp "$work/static-target/release/$p" "$work/static-$state/"; done
done

# Shared: the images as OCI layouts, before and after.
"$cs" --cache-dir "$work/cache" image -q --manifest-path "$example" --out-dir "$work/shared-before"
"$cs" --cache-dir "$work/cache" image -q --manifest-path "$example" --out-dir "$work/shared-after" \
  --patch "tokio=$work/tokio-fix"

# Every program runs from its binaries (static) and the checks pass.
for p in "${programs[@]}"; do "$work/static-before/$p" --check >/dev/null 2>&1; done

cd "$root"
cargo run -q --example image_sizes -- "$work/shared-before" "$work/shared-after" \
  "$work/static-before" "$work/static-after" "${programs[@]}"
