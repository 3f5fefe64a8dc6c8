#!/usr/bin/env bash
# The store scenario on real crates.io programs (REACHES CRATES.IO; about 5 to 10 minutes on
# 2 cores with a cold cache):
#   install ripgrep and hyperfine, then fd-find (which builds against the stored groups it can
#   use exactly and prints how many entries it reused), uninstall ripgrep, gc (which must remove
#   exactly the entries only ripgrep used), with `verify` after every step.
# Usage: scripts/store-e2e.sh [WORK_DIR]    Environment: CARGO_SHARE (default: cargo-share).
set -euo pipefail
work=${1:-$(mktemp -d)}
cs=${CARGO_SHARE:-cargo-share}
S=("$cs" --cache-dir "$work/cache" --store "$work/store")
root="$work/root"
entries() { "${S[@]}" list --json | python3 -c 'import json,sys
for l in json.load(sys.stdin)["libraries"]: print(l["package"], l["version"], l["id"][:12], ",".join(l["users"]))' | sort; }

"${S[@]}" install ripgrep hyperfine@1.20.0 --root "$root"
"${S[@]}" verify
"${S[@]}" --json install fd-find --root "$root" > "$work/fd.json"
python3 - "$work/fd.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "program-installed":
        print(f"fd-find: {len(m['reused'])} crate builds reused, {len(m['added'])} added")
PY
"${S[@]}" verify
entries > "$work/before.txt"
only_rg=$(awk '$4 == "ripgrep"' "$work/before.txt" | wc -l)
"${S[@]}" uninstall ripgrep
"${S[@]}" gc
"${S[@]}" verify
entries > "$work/after.txt"
echo "entries used only by ripgrep: $only_rg; entries gc removed: $(( $(wc -l < "$work/before.txt") - $(wc -l < "$work/after.txt") ))"
for b in hyperfine fd; do env -i "$root/bin/$b" --version; done
