#!/usr/bin/env bash
# Real upstream unittest suites, plain CPython against `pyloader test`.
#
# For each package below (pure Python, plain-unittest suites that run in seconds):
#   - installs the release with `pip install --no-deps --target` (needs PyPI, once: cached);
#   - takes ONLY the tests/ folder of its sdist (`pip download --no-binary :all:`);
#   - runs `python3 -I -S -m unittest discover -s SUITE -t SUITE` with the install folder
#     first on sys.path (-I -S: no site-packages, as in every loader: a system copy of the
#     package, say Debian's python3-idna, cannot shadow the version under test);
#   - runs `pyloader test --in pkg --isolate module SUITE` and `--isolate test`, the loader
#     `pkg` having the install folder as its path;
# then compares tests run, failed and skipped, per package and mode. Exit status 1 when
# any pyloader run differs from plain unittest (or crashed), 0 when all match, and 0 with
# "skipped: PyPI is not reachable" when the packages are neither cached nor downloadable.
#
# SUITE is a folder holding the copied tests/ folder: these tests/ are packages (idna 3's
# test modules import each other relatively, pyasn1's say `from tests.base import ...`),
# so the discovery's top is the folder above them, for unittest and pyloader alike.
#
# Counts: unittest's "Ran N" with failures F, errors E, skipped S, expected failures x and
# unexpected successes u against pyloader's "P passed, F' failed, S' skipped", where P
# counts passes and expected failures, F' failures, errors and unexpected successes:
# compared are N = P + F' + S', F + E + u = F' and S = S'.
#
# Usage: Scripts/real-unittest-suites.sh            (builds the CLI with `swift build`)
#        PYLOADER=/path/to/pyloader Scripts/real-unittest-suites.sh
#        MODES=module ...            (isolation modes to run; default "module test". Per
#                                     test is slow for idna: each of its ~7,000 tests
#                                     imports the test module, which parses the UTS 46
#                                     data file, anew; minutes in a debug build)
#        ONLY="idna==3.10 pyasn1" ... (a subset: NAME or NAME==VERSION)
#        RUN_TIMEOUT=1800 ...        (seconds allowed to one pyloader run)
#        KEEP=1 ...                  (keep the temporary folder: logs of every run)
#        PYLOADER_SUITES_CACHE=DIR   (sdists and installs; default .suites-cache in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

# pip runs under the system's python3 (the packages are pure Python); the plain-unittest
# runs under PYTHON, which must be the interpreter of the libpython PYLOADER links
# (default /usr/bin/python3; for the 3.13 build: PYTHON=.python/3.13/bin/python3.13 with
# PYLOADER=.build-3.13/debug/pyloader and LD_LIBRARY_PATH=.python/3.13/lib).
PIP_PYTHON=/usr/bin/python3
PYTHON="${PYTHON:-/usr/bin/python3}"
case "$PYTHON" in /*) ;; *) PYTHON="$REPO/$PYTHON" ;; esac
MODES="${MODES:-module test}"
RUN_TIMEOUT="${RUN_TIMEOUT:-1800}"
CACHE="${PYLOADER_SUITES_CACHE:-.suites-cache}"
case "$CACHE" in /*) ;; *) CACHE="$REPO/$CACHE" ;; esac

# distribution, version, top-level module. Chosen: suites that `python -m unittest
# discover` runs as they are (no pytest), of packages without extension modules or
# dependencies, with a few seconds of tests each.
SUITES=(
  "idna 2.10 idna"
  "idna 3.10 idna"
  "more-itertools 10.5.0 more_itertools"
  "pyasn1 0.6.1 pyasn1"
)

selected() {   # selected NAME VERSION: whether ONLY (if set) names it
  [ -z "${ONLY:-}" ] && return 0
  local word
  for word in $ONLY; do
    if [ "$word" = "$1" ] || [ "$word" = "$1==$2" ]; then return 0; fi
  done
  return 1
}

pip() { PIP_ROOT_USER_ACTION=ignore "$PIP_PYTHON" -m pip --disable-pip-version-check "$@"; }

sdist_of() {   # sdist_of NAME VERSION: the cached sdist's path, or nothing
  local pattern="${1//[-_.]/[-_.]}-$2"
  find "$CACHE/sdist" -maxdepth 1 -type f \( -iname "$pattern.tar.gz" -o -iname "$pattern.zip" \) 2>/dev/null | head -1
}

mkdir -p "$CACHE/sdist" "$CACHE/site"

# Anything missing from the cache needs PyPI: check it answers before anything else.
missing=""
for suite in "${SUITES[@]}"; do
  read -r name version module <<<"$suite"
  selected "$name" "$version" || continue
  if [ -z "$(sdist_of "$name" "$version")" ] || [ ! -d "$CACHE/site/$name-$version" ]; then
    missing="$name==$version"
    break
  fi
done
if [ -n "$missing" ]; then
  if ! timeout 90 "$PIP_PYTHON" -m pip download --quiet --disable-pip-version-check --timeout 10 --retries 0 \
      --no-binary :all: --no-deps "$missing" -d "$CACHE/sdist" >/dev/null 2>&1; then
    echo "real-unittest-suites: skipped: PyPI is not reachable"
    exit 0
  fi
fi

if [ -z "${PYLOADER:-}" ]; then
  swift build --product pyloader >&2
  PYLOADER="$(swift build --show-bin-path)/pyloader"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyloader-real-unittest-suites-XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
mkdir "$WORK/logs"

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

prepare() {   # prepare NAME VERSION: $WORK/NAME-VERSION/{site,suite/tests,pyloader.toml}
  local name="$1" version="$2" id="$1-$2" sdist site unpack tests
  site="$CACHE/site/$id"
  if [ ! -d "$site" ]; then
    rm -rf "$site.partial"
    pip install --quiet --no-deps --no-compile --target "$site.partial" "$name==$version" >&2
    if [ -n "$(find "$site.partial" -name '*.so' -print -quit)" ]; then
      echo "real-unittest-suites: $id installed extension modules: not pure Python" >&2
      exit 2
    fi
    mv "$site.partial" "$site"
  fi
  sdist="$(sdist_of "$name" "$version")"
  if [ -z "$sdist" ]; then
    pip download --quiet --no-binary :all: --no-deps "$name==$version" -d "$CACHE/sdist" >&2
    sdist="$(sdist_of "$name" "$version")"
  fi
  unpack="$WORK/unpack/$id"
  mkdir -p "$unpack" "$WORK/$id/suite"
  case "$sdist" in
    *.zip) "$PYTHON" -m zipfile -e "$sdist" "$unpack" ;;
    *) tar -xzf "$sdist" -C "$unpack" ;;
  esac
  tests="$(find "$unpack" -mindepth 2 -maxdepth 2 -type d -name tests | head -1)"
  if [ -z "$tests" ]; then
    echo "real-unittest-suites: $(basename "$sdist") has no tests/ folder" >&2
    exit 2
  fi
  cp -R "$tests" "$WORK/$id/suite/tests"
  find "$WORK/$id/suite" -name __pycache__ -prune -exec rm -rf {} +
  cp -R "$site" "$WORK/$id/site"
  cat > "$WORK/$id/pyloader.toml" <<'EOF'
[root]
paths = []

[loaders.pkg]
paths = ["site"]
EOF
}

# Runs' results, as "ran failed skipped exit": filled by plain_run and pyloader_run.
RESULT=""

plain_run() {   # plain_run ID LOG
  local dir="$WORK/$1" code
  code=0
  (cd "$dir" && "$PYTHON" -I -S -B -c '
import sys, unittest
sys.path.insert(0, sys.argv[1])
unittest.main(module=None, argv=["python -m unittest", "discover", "-s", sys.argv[2], "-t", sys.argv[2]])
' "$dir/site" "$dir/suite") >"$2" 2>&1 || code=$?
  local ran status
  ran="$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$2" | tail -1)"
  status="$(grep -E '^(OK|FAILED)( \(.*\))?$' "$2" | tail -1 || true)"
  if [ -z "$ran" ] || [ -z "$status" ]; then RESULT="? ? ? $code"; return; fi
  count() { echo "$status" | grep -o "$1=[0-9]*" | cut -d= -f2 || true; }
  local failures errors skipped unexpected
  failures="$(count failures)"; errors="$(count errors)"
  skipped="$(count skipped)"; unexpected="$(count 'unexpected successes')"
  RESULT="$ran $(( ${failures:-0} + ${errors:-0} + ${unexpected:-0} )) ${skipped:-0} $code"
}

pyloader_run() {   # pyloader_run ID MODE LOG
  local dir="$WORK/$1" code
  code=0
  (cd "$dir" && timeout "$RUN_TIMEOUT" "$PYLOADER" test --manifest "$dir/pyloader.toml" --in pkg \
      --isolate "$2" "$dir/suite") >"$3" 2>&1 </dev/null || code=$?
  local summary passed failed skipped
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$3" | tail -1 || true)"
  if [ -z "$summary" ]; then RESULT="? ? ? $code"; return; fi
  passed="$(echo "$summary" | sed 's/^\([0-9]*\) passed.*/\1/')"
  failed="$(echo "$summary" | sed 's/.* \([0-9]*\) failed.*/\1/')"
  skipped="$(echo "$summary" | sed -n 's/.* \([0-9]*\) skipped$/\1/p')"
  RESULT="$(( passed + failed + ${skipped:-0} )) $failed ${skipped:-0} $code"
}

describe_exit() {   # describe_exit CODE
  case "$1" in
    0|1) echo "$1" ;;
    124) echo "timeout" ;;
    *) if [ "$1" -gt 128 ]; then echo "SIG$(kill -l $(( $1 - 128 )) 2>/dev/null || echo $(( $1 - 128 )))"; else echo "$1"; fi ;;
  esac
}

row() {   # row LABEL "ran failed skipped exit" WALL [RESULT]
  local ran failed skipped code
  read -r ran failed skipped code <<<"$2"
  printf '   %-27s %6s %7s %8s %7s %9s  %s\n' "$1" "$ran" "$failed" "$skipped" "$(describe_exit "$code")" "$3" "${4:-}"
}

hints() {   # hints LOG: the commonest exception lines, and a crash report's first line
  { grep -E '^\*\*\* (Program crashed|Signal)' "$1" | head -1 || true
    grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt)(: |$)' "$1" \
      | sort | uniq -c | sort -rn | head -3 || true
  } | cut -c1-110 | sed 's/^ */        /'
}

echo "== pyloader: $PYLOADER"
echo "== python: $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
echo "== python:   $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
echo "== work:     $WORK    cache: $CACHE"
runs=0
mismatches=0
for suite in "${SUITES[@]}"; do
  read -r name version module <<<"$suite"
  selected "$name" "$version" || continue
  id="$name-$version"
  prepare "$name" "$version"
  dir="$WORK/$id"

  # What each side imports: the installed version, never another copy.
  seen="$("$PYTHON" -I -S -c '
import sys, importlib, importlib.metadata as md
sys.path.insert(0, sys.argv[1])
m = importlib.import_module(sys.argv[2])
print(md.version(sys.argv[3]), m.__file__)
' "$dir/site" "$module" "$name")"
  their="$("$PYLOADER" which --manifest "$dir/pyloader.toml" --in pkg "$module" 2>&1 | sed -n 's/^ *file: //p' || true)"
  modules="$(find "$dir/suite" -name 'test*.py' | wc -l)"
  echo
  echo "== $name $version: plain imports $name ${seen/ $WORK/ \$WORK}; pyloader's 'pkg' ${their/$WORK/\$WORK}; $modules test files"
  if [ "${seen%% *}" != "$version" ] || [[ "${seen#* }" != "$dir/site/"* ]] || [[ "$their" != "$dir/site/"* ]]; then
    echo "real-unittest-suites: $id: the version under test is not the one imported" >&2
    exit 2
  fi
  printf '   %-27s %6s %7s %8s %7s %9s  %s\n' "run" "ran" "failed" "skipped" "exit" "wall" "result"

  start="$(now)"
  plain_run "$id" "$WORK/logs/$id-plain.txt"
  plain="$RESULT"
  row "plain unittest" "$plain" "$(since "$start")" "(reference)"
  if [ "${plain%% *}" = "?" ] || [ "${plain##* }" -gt 1 ]; then
    echo "real-unittest-suites: $id: plain unittest gave no result (log: $WORK/logs/$id-plain.txt)" >&2
    KEEP=1; trap - EXIT
    exit 2
  fi
  if [ "$(echo "$plain" | cut -d' ' -f2)" != 0 ]; then
    echo "        (plain unittest itself fails here: the comparison is of counts all the same)"
  fi

  for mode in $MODES; do
    log="$WORK/logs/$id-$mode.txt"
    start="$(now)"
    pyloader_run "$id" "$mode" "$log"
    ours="$RESULT"
    wall="$(since "$start")"
    runs=$((runs + 1))
    read -r p_ran p_failed p_skipped p_code <<<"$plain"
    read -r o_ran o_failed o_skipped o_code <<<"$ours"
    verdict="MATCH"
    differences=()
    [ "$o_ran" = "$p_ran" ] || differences+=("ran $p_ran vs $o_ran")
    [ "$o_failed" = "$p_failed" ] || differences+=("failed $p_failed vs $o_failed")
    [ "$o_skipped" = "$p_skipped" ] || differences+=("skipped $p_skipped vs $o_skipped")
    if [ "$o_code" != 0 ] && [ "$o_code" != 1 ]; then
      differences+=("exit status $(describe_exit "$o_code")")
    fi
    if [ "${#differences[@]}" -gt 0 ]; then
      mismatches=$((mismatches + 1))
      verdict="MISMATCH ($(IFS=,; echo "${differences[*]}" | sed 's/,/, /g'))"
    fi
    row "pyloader --isolate $mode" "$ours" "$wall" "$verdict"
    if [ "$verdict" != "MATCH" ]; then hints "$log"; fi
  done
done

echo
[ -n "${KEEP:-}" ] && echo "== kept: $WORK (logs in $WORK/logs)"
if [ "$runs" -eq 0 ]; then
  echo "real-unittest-suites: no suite selected (ONLY=${ONLY:-})" >&2
  exit 2
fi
if [ "$mismatches" -gt 0 ]; then
  echo "real-unittest-suites: $mismatches of $runs pyloader runs differ from plain unittest"
  exit 1
fi
echo "real-unittest-suites: all $runs pyloader runs match plain unittest"
