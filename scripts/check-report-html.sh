#!/usr/bin/env bash
# Renders a `cargo share bench` HTML report in headless Chromium and checks that the screenshot
# is not blank: it must contain at least MIN_PIXELS pixels of each of the bar colours of the
# first two variants (#1f77b4 and #ff7f0e, see src/bench/html.rs). The legend and table swatches
# alone make about 750 pixels of each at this window size, so the default threshold is only met
# when the bars themselves are drawn.
# Usage: scripts/check-report-html.sh REPORT.html [SCREENSHOT.png]
# Environment: CHROMIUM (default: the first of chromium, chromium-browser, google-chrome found),
#              MIN_PIXELS (default 3000), TOLERANCE (per channel, default 0 = exact colour).
# Exit status: 0 check passed, 1 check failed, 2 usage error, 77 skipped (no Chromium).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
    exit 2
fi
report=$1
if [[ ! -f $report ]]; then
    echo "error: $report: no such file" >&2
    exit 2
fi
report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")

chromium=${CHROMIUM:-}
if [[ -z $chromium ]]; then
    for candidate in chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then
            chromium=$candidate
            break
        fi
    done
fi
if [[ -z $chromium ]] || ! command -v "$chromium" >/dev/null 2>&1; then
    echo "skipped: Chromium not found (install it, e.g. apt-get install chromium, or set CHROMIUM)" >&2
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shot=${2:-$work/report.png}

# Chromium prints its own diagnostics on stderr; keep them for when it fails.
if ! "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile" --screenshot="$shot" --window-size=1200,2400 \
    "file://$report" >"$work/chromium.log" 2>&1; then
    cat "$work/chromium.log" >&2
    echo "error: $chromium failed to take the screenshot" >&2
    exit 1
fi
if [[ ! -s $shot ]]; then
    cat "$work/chromium.log" >&2
    echo "error: $chromium wrote no screenshot" >&2
    exit 1
fi

python3 - "$shot" "${MIN_PIXELS:-3000}" "${TOLERANCE:-0}" <<'PY'
import struct
import sys
import zlib

path, min_pixels, tolerance = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
colours = {"#1f77b4": (0x1F, 0x77, 0xB4), "#ff7f0e": (0xFF, 0x7F, 0x0E)}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def read_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit, non-interlaced RGB(A) or grey PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        fail(f"{path} has no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace != 0:
        fail(f"unsupported PNG (bit depth {depth}, colour type {colour_type}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 0xFF
        elif kind != 0:
            fail(f"bad PNG filter type {kind} on row {y}")
        rows.append(line)
        previous = line
    return width, height, channels, rows


width, height, channels, rows = read_png(path)
if channels < 3:
    fail("the screenshot is greyscale: no chart colours")
counts = dict.fromkeys(colours, 0)
distinct = set()
for line in rows:
    for x in range(0, len(line), channels):
        pixel = (line[x], line[x + 1], line[x + 2])
        if len(distinct) < 64:
            distinct.add(pixel)
        for name, rgb in colours.items():
            if all(abs(p - q) <= tolerance for p, q in zip(pixel, rgb)):
                counts[name] += 1
print(f"screenshot {width}x{height}: " + ", ".join(f"{n} {c} pixels" for n, c in counts.items()))
if len(distinct) < 2:
    fail("the screenshot is blank (a single colour)")
low = [name for name, count in counts.items() if count < min_pixels]
if low:
    fail(f"fewer than {min_pixels} pixels of {', '.join(low)}: the charts did not render")
print("OK: the report renders with both variant colours")
PY
