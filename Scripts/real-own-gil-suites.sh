#!/usr/bin/env bash
# Real upstream unittest suites in own-GIL loaders (issue 15), all at once on threads of
# their own, against plain CPython running each suite alone.
#
# The packages and their tests/ folders are those of Scripts/real-unittest-suites.sh (run
# it once to fill its cache). Each suite runs:
#   - plain: `PYTHON -I -S -B` discovering tests/ with the package's install folder first
#     on sys.path;
#   - in PyLoader: one `pyloader run` makes an own-GIL loader per package (paths: the
#     install folder and the suite folder) and runs every suite at the same time, each on
#     a thread of its own, by `loader.eval(...)` (the counts cross back by copy).
# Compared: tests run, failures, errors, skipped, expected failures, unexpected successes.
# Exit status 1 when any count differs (or a run crashed), 0 when all match.
#
# Usage (own GILs need CPython 3.12+; here the 3.13 of Scripts/build-python):
#   PYTHON=.python/3.13/bin/python3.13 PYLOADER=.build-3.13/debug/pyloader \
#   LD_LIBRARY_PATH=.python/3.13/lib Scripts/real-own-gil-suites.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON="${PYTHON:?set PYTHON to the interpreter of the libpython PYLOADER links}"
PYLOADER="${PYLOADER:?set PYLOADER to the pyloader executable}"
case "$PYTHON" in /*) ;; *) PYTHON="$REPO/$PYTHON" ;; esac
case "$PYLOADER" in /*) ;; *) PYLOADER="$REPO/$PYLOADER" ;; esac
CACHE="${PYLOADER_SUITES_CACHE:-$REPO/.suites-cache}"
SUITES=("idna 2.10" "idna 3.10" "more-itertools 10.5.0" "pyasn1 0.6.1")

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyloader-real-own-gil-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# The suite runner, shared by both sides: prints/returns the counts.
RUN_SUITE='
def run_suite(top):
    import io, unittest
    suite = unittest.defaultTestLoader.discover(top + "/tests", top_level_dir=top)
    r = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    return (r.testsRun, len(r.failures), len(r.errors), len(r.skipped),
            len(r.expectedFailures), len(r.unexpectedSuccesses))
'

ids=()
for entry in "${SUITES[@]}"; do
  read -r name version <<<"$entry"
  id="$name-$version"
  site="$CACHE/site/$id"
  sdist="$(ls "$CACHE"/sdist/"$id".tar.gz 2>/dev/null || true)"
  if [ ! -d "$site" ] || [ -z "$sdist" ]; then
    echo "real-own-gil-suites: $id is not in $CACHE: run Scripts/real-unittest-suites.sh once" >&2
    exit 2
  fi
  mkdir -p "$WORK/unpack/$id" "$WORK/$id"
  tar -xzf "$sdist" -C "$WORK/unpack/$id"
  tests="$(find "$WORK/unpack/$id" -mindepth 2 -maxdepth 2 -type d -name tests | head -1)"
  cp -R "$tests" "$WORK/$id/tests"
  ids+=("$id")
done

echo "== python: $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
echo "== pyloader: $PYLOADER"
start=$EPOCHREALTIME
for id in "${ids[@]}"; do
  (cd "$WORK/$id" && "$PYTHON" -I -S -B -c "
import sys
sys.path.insert(0, '$CACHE/site/$id')
$RUN_SUITE
print('$id', *run_suite('$WORK/$id'))") >> "$WORK/plain.txt"
done
plain_time=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')

cat > "$WORK/driver.py" <<EOF
import pyloader, threading, time
ids = "${ids[*]}".split()
work = "$WORK"
cache = "$CACHE"
runner = '''$RUN_SUITE'''
loaders = {id: pyloader.root().child("suite-" + id.replace(".", "-"), paths=[cache + "/site/" + id, work + "/" + id],
                                     gil="own") for id in ids}
results = {}
def run(id):
    loader = loaders[id]
    loader.exec(runner)
    results[id] = loader.eval("run_suite(%r)" % (work + "/" + id))
threads = [threading.Thread(target=run, args=(id,)) for id in ids]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - t0
for id in ids:
    print(id, *results[id])
    loaders[id].close()
print("elapsed %.2f" % elapsed)
EOF
start=$EPOCHREALTIME
status=0
"$PYLOADER" run "$WORK/driver.py" > "$WORK/pyloader.txt" || status=$?
total_time=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
if [ "$status" -ne 0 ]; then
  echo "real-own-gil-suites: pyloader run exited $status"; cat "$WORK/pyloader.txt"; exit 1
fi

echo "counts: run failures errors skipped expected-failures unexpected-successes"
mismatch=0
for id in "${ids[@]}"; do
  plain="$(grep "^$id " "$WORK/plain.txt" | cut -d' ' -f2-)"
  ours="$(grep "^$id " "$WORK/pyloader.txt" | cut -d' ' -f2-)"
  verdict=MATCH
  [ "$plain" = "$ours" ] || { verdict=DIFFERS; mismatch=1; }
  printf '%-24s plain: %-22s own-GIL loader: %-22s %s\n' "$id" "$plain" "$ours" "$verdict"
done
echo "plain, one suite after another: ${plain_time} s; own-GIL loaders, all at once:" \
     "$(grep '^elapsed' "$WORK/pyloader.txt" | cut -d' ' -f2) s of suites (${total_time} s with start-up)"
exit "$mismatch"
