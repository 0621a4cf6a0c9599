#!/usr/bin/env bash
# A real package's multiprocessing suite through `pyloader test` (issue 17's real-client check).
#
# Pebble 5.1.0 (process pools and decorators on top of multiprocessing; plain unittest):
#   - test_concurrent_process_spawn.py: must give the same counts as plain unittest (a test
#     loader runs multiprocessing with the spawn start method: its workers are plain python3
#     processes with the loader's sys.path);
#   - test_concurrent_process_fork.py: a child loader cannot fork (Forking.swift), so every
#     test that forks must fail with the clear RuntimeError, quickly, and nothing may hang.
# Installs with `pip install --no-deps --target` and takes the two test files from the sdist
# (needs PyPI once; cached in .suites-cache). Prints "skipped" and exits 0 without PyPI.
#
# Usage: Scripts/real-multiprocessing-suite.sh        (builds the CLI with `swift build`)
#        PYLOADER=/path/to/pyloader Scripts/real-multiprocessing-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON=/usr/bin/python3
if [ -z "${PYLOADER:-}" ]; then
  swift build --product pyloader >&2
  PYLOADER="$(swift build --show-bin-path)/pyloader"
fi
CACHE="${PYLOADER_SUITES_CACHE:-$REPO/.suites-cache}"
mkdir -p "$CACHE/sdists"
sdist="$CACHE/sdists/Pebble-5.1.0.tar.gz"
if [ ! -f "$sdist" ]; then
  if ! timeout 120 "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
        "pebble==5.1.0" -d "$CACHE/sdists" >/dev/null 2>&1 || [ ! -f "$sdist" ]; then
    echo "real-multiprocessing-suite: skipped: PyPI is not reachable"
    exit 0
  fi
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyloader-real-mp-XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
tar -xzf "$sdist" -C "$WORK"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
  --target "$WORK/site" "$WORK/Pebble-5.1.0" >/dev/null
mkdir -p "$WORK/spawn" "$WORK/fork"
cp "$WORK/Pebble-5.1.0/test/test_concurrent_process_spawn.py" "$WORK/spawn/"
cp "$WORK/Pebble-5.1.0/test/test_concurrent_process_fork.py" "$WORK/fork/"
printf '[root]\npaths = []\n\n[loaders.pkg]\npaths = ["site"]\n' > "$WORK/pyloader.toml"

status=0
echo "== Pebble 5.1.0, test_concurrent_process_spawn.py"
plain="$(cd "$WORK/spawn" && timeout 300 "$PYTHON" -I -S -c \
  "import sys; sys.path[:0] = ['$WORK/site', '.']; import unittest; unittest.main(module=None, argv=['x', 'discover', '-s', '.', '-t', '.'])" 2>&1 || true)"
plain_ran="$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' <<<"$plain")"
plain_ok="$(grep -c '^OK' <<<"$plain" || true)"
echo "   plain unittest: ran ${plain_ran:-?}, $( [ "$plain_ok" = 1 ] && echo OK || echo FAILED )"
started=$(date +%s.%N)
ours="$(cd "$WORK" && timeout 300 "$PYLOADER" test --manifest pyloader.toml --in pkg spawn 2>&1)" || true
elapsed=$("$PYTHON" -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$started")
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$ours" | tail -1)"
echo "   pyloader test --in pkg: $summary ($(printf '%.1f' "$elapsed") s)"
grep -E "stays open|left open" <<<"$ours" | sed 's/^/   /' || true
if [ "$summary" != "${plain_ran} passed, 0 failed" ] || [ "$plain_ok" != 1 ]; then
  echo "   MISMATCH"; status=1
else
  echo "   MATCH"
fi

echo "== Pebble 5.1.0, test_concurrent_process_fork.py (a child loader cannot fork)"
started=$(date +%s.%N)
ours="$(cd "$WORK" && timeout 300 "$PYLOADER" test --manifest pyloader.toml --in pkg fork 2>&1)" || true
elapsed=$("$PYTHON" -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$started")
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$ours" | tail -1)"
clear="$(grep -c "RuntimeError: fork() is not supported in loader" <<<"$ours" || true)"
echo "   pyloader test --in pkg: $summary ($(printf '%.1f' "$elapsed") s); tracebacks ending in the clear RuntimeError: $clear"
if [ -z "$summary" ] || [ "$clear" -eq 0 ]; then echo "   UNEXPECTED"; status=1; else echo "   as documented"; fi
exit "$status"
