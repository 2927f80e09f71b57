#!/usr/bin/env bash
# Regenerates scripts/python/requirements.lock from requirements.in: every package pip would
# install for Debian's Python 3.11 on x86-64 Linux, pinned by version and sha256.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
report=$(mktemp --suffix=.json)
trap 'rm -f "$report"' EXIT
/usr/bin/python3 -m pip install --dry-run --ignore-installed --quiet --report "$report" -r "$here/requirements.in"
/usr/bin/python3 - "$report" "$here/requirements.lock" <<'PY'
import json, os, sys
report, out = sys.argv[1:]
lines = ["# packbench's Python tools, pinned with their hashes: scripts/setup.sh installs them into the cache's",
         "# virtual environment. Regenerate from requirements.in with scripts/python/lock.sh."]
for item in sorted(json.load(open(report))["install"], key=lambda i: i["metadata"]["name"].lower()):
    sha = item["download_info"]["archive_info"]["hashes"]["sha256"]
    extras = ",".join(sorted(item.get("requested_extras") or []))  # pinned with its extras, or pip refuses
    name = item["metadata"]["name"] + (f"[{extras}]" if extras else "")
    lines.append(f"{name}=={item['metadata']['version']} --hash=sha256:{sha}")
with open(out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(out + ".tmp", out)
PY
echo "wrote $here/requirements.lock"
