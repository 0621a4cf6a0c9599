#!/usr/bin/env bash
# Real upstream pytest suites, plain pytest against `pyloader test --runner pytest`.
#
# For each package below (pure Python, no dependencies, pytest suites that run in seconds):
#   - installs the release with `pip install --no-deps --target` (needs PyPI, once: cached);
#   - takes ONLY the tests of its sdist (`pip download --no-binary :all:`): its tests/
#     folder, or six's lone test_six.py;
#   - runs `python3 -S -B -m pytest -p no:cacheprovider TESTS` from the suite folder with
#     PYTHONPATH=<install folder>:.test-deps/pytest (the pytest pinned by
#     Scripts/install-test-deps). -S: no site-packages, as in every loader, so a system copy
#     of the package (say Debian's python3-six) cannot shadow the version under test, and
#     PYTHONPATH rather than -I, so that a test's own subprocess (sqlparse's test_cli runs
#     `sys.executable -m sqlparse.cli`) finds the package too;
#   - runs `pyloader test --in pkg --runner pytest --isolate module TESTS -- -p no:cacheprovider`
#     and `--isolate test` from the same folder, the loader `pkg` having the install folder
#     and .test-deps/pytest as its paths. pyloader's interpreters are isolated (they ignore
#     PYTHONPATH); it is set for these runs too, for the subprocesses of tests alone;
#     COLUMNS=200 on both sides, for untruncated short test summary lines;
# then compares the counts of pytest's final summary line (passed, failed, skipped,
# xfailed, xpassed, errors), per package and mode. Both sides print pytest's own report,
# so the same line is read from both. Exit status 1 when any pyloader run differs from
# plain pytest (or crashed, or timed out), 0 when all match, and 0 with "skipped: PyPI is
# not reachable" when the packages are neither cached nor downloadable.
#
# Running from the suite folder (the folder holding the copied tests) makes it pytest's
# rootdir and invocation folder on both sides: conftest.py files, tests/ packages (`import
# tests.test_x`, rootdir-relative node ids) and relative data files resolve alike.
#
# Usage: Scripts/real-pytest-suites.sh              (builds the CLI with `swift build`)
#        PYLOADER=/path/to/pyloader Scripts/real-pytest-suites.sh
#        MODES=module ...            (isolation modes to run; default "module test". Per
#                                     test starts a fresh loader, which imports pytest and
#                                     the package anew, for each of the ~900 tests: a few
#                                     minutes in a debug build)
#        ONLY="six sqlparse==0.5.1" ... (a subset: NAME or NAME==VERSION)
#        RUN_TIMEOUT=1800 ...        (seconds allowed to one run, plain or pyloader)
#        KEEP=1 ...                  (keep the temporary folder: logs of every run)
#        PYLOADER_SUITES_CACHE=DIR   (sdists and installs; default .suites-cache in the repo,
#                                     shared with real-unittest-suites.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

# pip runs under the system's python3 (the packages are pure Python); the plain-pytest
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
PYTEST_DEPS="$REPO/.test-deps/pytest"

# distribution, version, top-level module, the tests' path inside the sdist's top folder.
# Chosen: packages without extension modules or dependencies whose sdist ships a pytest
# suite that passes under plain pytest with nothing but pytest, in a second or two each.
# (iniconfig 2.0.0's and sortedcontainers 2.4.0's sdists ship no tests; attrs needs
# hypothesis and more.)
SUITES=(
  "six 1.16.0 six test_six.py"
  "cachetools 5.5.0 cachetools tests"
  "wcwidth 0.2.13 wcwidth tests"
  "sqlparse 0.5.1 sqlparse tests"
  "inflection 0.5.1 inflection test_inflection.py"
  "parse 1.20.2 parse tests"
  "semver 3.0.2 semver tests"
  "boltons 24.1.0 boltons tests"
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

if [ ! -f "$PYTEST_DEPS/pytest/__init__.py" ]; then
  echo "real-pytest-suites: no pytest in $PYTEST_DEPS: run Scripts/install-test-deps first" >&2
  exit 2
fi

mkdir -p "$CACHE/sdist" "$CACHE/site"

# Anything missing from the cache needs PyPI: check it answers before anything else. (An
# index query, not a download: downloading an sdist builds its metadata, and the build
# back end that needs, hatchling say, can take minutes to install.)
missing=""
for suite in "${SUITES[@]}"; do
  read -r name version module tests <<<"$suite"
  selected "$name" "$version" || continue
  if [ -z "$(sdist_of "$name" "$version")" ] || [ ! -d "$CACHE/site/$name-$version" ]; then
    missing="$name"
    break
  fi
done
if [ -n "$missing" ]; then
  if ! timeout 90 "$PIP_PYTHON" -m pip index versions --disable-pip-version-check --timeout 10 --retries 0 \
      "$missing" >/dev/null 2>&1; then
    echo "real-pytest-suites: skipped: PyPI is not reachable"
    exit 0
  fi
fi

if [ -z "${PYLOADER:-}" ]; then
  swift build --product pyloader >&2
  PYLOADER="$(swift build --show-bin-path)/pyloader"
fi
# The runs start in the suite folders: a relative PYLOADER is the repository's.
case "$PYLOADER" in /*|"") ;; */*) PYLOADER="$REPO/$PYLOADER" ;; esac
if ! command -v "$PYLOADER" >/dev/null; then
  echo "real-pytest-suites: no pyloader at $PYLOADER" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyloader-real-pytest-suites-XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
mkdir "$WORK/logs"

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

prepare() {   # prepare NAME VERSION TESTS: $WORK/NAME-VERSION/{site,suite/TESTS,pyloader.toml}
  local name="$1" version="$2" tests="$3" id="$1-$2" sdist site unpack top
  site="$CACHE/site/$id"
  if [ ! -d "$site" ]; then
    rm -rf "$site.partial"
    pip install --quiet --no-deps --no-compile --target "$site.partial" "$name==$version" >&2
    if [ -n "$(find "$site.partial" -name '*.so' -print -quit)" ]; then
      echo "real-pytest-suites: $id installed extension modules: not pure Python" >&2
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
  top="$(find "$unpack" -mindepth 1 -maxdepth 1 -type d | head -1)"
  if [ -z "$top" ] || [ ! -e "$top/$tests" ]; then
    echo "real-pytest-suites: $(basename "$sdist") has no $tests" >&2
    exit 2
  fi
  cp -R "$top/$tests" "$WORK/$id/suite/$tests"
  find "$WORK/$id/suite" -name __pycache__ -prune -exec rm -rf {} +
  cp -R "$site" "$WORK/$id/site"
  cat > "$WORK/$id/pyloader.toml" <<EOF
[root]
paths = []

[loaders.pkg]
paths = ["$WORK/$id/site", "$PYTEST_DEPS"]
EOF
}

# Runs' results, as "passed failed skipped xfailed xpassed errors exit": filled by
# plain_run and pyloader_run; "?" counts when the log has no summary line.
RESULT=""

summary_counts() {   # summary_counts LOG EXIT: RESULT from pytest's last "=== ... in N s ===" line
  local line word count
  line="$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^=+ .* in [0-9.]+s( \([0-9:]+\))? =+$' | tail -1 || true)"
  if [ -z "$line" ]; then RESULT="? ? ? ? ? ? $2"; return; fi
  count() {   # count WORD...: the number before the first of the words on the line
    local w n
    for w in "$@"; do
      n="$(echo "$line" | grep -oE "[0-9]+ $w([ ,]|$)" | grep -oE '^[0-9]+' | head -1 || true)"
      if [ -n "$n" ]; then echo "$n"; return; fi
    done
    echo 0
  }
  RESULT="$(count passed) $(count failed) $(count skipped) $(count xfailed) $(count xpassed) $(count errors error) $2"
}

plain_run() {   # plain_run ID TESTS LOG
  local dir="$WORK/$1" code
  code=0
  (cd "$dir/suite" && PYTHONPATH="$dir/site:$PYTEST_DEPS" COLUMNS=200 timeout "$RUN_TIMEOUT" \
      "$PYTHON" -S -B -m pytest -p no:cacheprovider "$2") >"$3" 2>&1 </dev/null || code=$?
  summary_counts "$3" "$code"
}

pyloader_run() {   # pyloader_run ID MODE TESTS LOG
  local dir="$WORK/$1" code
  code=0
  (cd "$dir/suite" && PYTHONPATH="$dir/site:$PYTEST_DEPS" COLUMNS=200 timeout "$RUN_TIMEOUT" \
      "$PYLOADER" test --manifest "$dir/pyloader.toml" --in pkg --runner pytest --isolate "$2" \
      "$3" -- -p no:cacheprovider) >"$4" 2>&1 </dev/null || code=$?
  summary_counts "$4" "$code"
}

describe_exit() {   # describe_exit CODE
  case "$1" in
    0|1|2|3|4|5) echo "$1" ;;
    124) echo "timeout" ;;
    *) if [ "$1" -gt 128 ]; then echo "SIG$(kill -l $(( $1 - 128 )) 2>/dev/null || echo $(( $1 - 128 )))"; else echo "$1"; fi ;;
  esac
}

counts() {   # counts "passed failed skipped xfailed xpassed errors exit": "p/f/s/xf/xp/e"
  local p f s xf xp e code
  read -r p f s xf xp e code <<<"$1"
  echo "$p/$f/$s/$xf/$xp/$e"
}

FORMAT='%-19s %-7s %-18s %4s %9s   %-18s %7s %9s  %s\n'
row() {   # row PACKAGE MODE PLAIN PLAIN_WALL OURS OURS_WALL VERDICT
  printf "$FORMAT" "$1" "$2" "$(counts "$3")" "$(describe_exit "${3##* }")" "$4" \
    "$(counts "$5")" "$(describe_exit "${5##* }")" "$6" "$7"
}

outcomes() {   # outcomes LOG: pytest's short test summary lines (FAILED/ERROR/XPASS id - reason)
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^(FAILED|ERROR|XPASS) ' | cut -c1-200 | sort || true
}

hints() {   # hints PLAIN_LOG OURS_LOG: outcomes only one side has, a crash report's first line,
            # and the log's last lines when it has no summary line
  { grep -E '^\*\*\* (Program crashed|Signal)' "$2" | head -1 || true
    if [ "${ours%% *}" = "?" ]; then tail -3 "$2" | cut -c1-200; fi
    comm -13 <(outcomes "$1") <(outcomes "$2") | sed 's/^/pyloader only: /'
    comm -23 <(outcomes "$1") <(outcomes "$2") | sed 's/^/plain only:    /'
  } | head -12 | sed 's/^/        /'
}

started="$(now)"
echo "== pyloader: $PYLOADER"
echo "== python:   $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())')), pytest $(PYTHONPATH="$PYTEST_DEPS" "$PYTHON" -S -c 'import pytest; print(pytest.__version__)')"
echo "== work:     $WORK    cache: $CACHE"
echo "== counts:   passed/failed/skipped/xfailed/xpassed/errors of pytest's summary line"
echo
printf "$FORMAT" "package" "mode" "plain pytest" "exit" "wall" "pyloader" "exit" "wall" "result"
runs=0
mismatches=0
for suite in "${SUITES[@]}"; do
  read -r name version module tests <<<"$suite"
  selected "$name" "$version" || continue
  id="$name-$version"
  prepare "$name" "$version" "$tests"
  dir="$WORK/$id"

  # What each side imports: the installed version, never another copy.
  seen="$(PYTHONPATH="$dir/site:$PYTEST_DEPS" "$PYTHON" -S -c '
import sys, importlib, importlib.metadata as md
m = importlib.import_module(sys.argv[1])
print(md.version(sys.argv[2]), m.__file__)
' "$module" "$name")"
  their="$("$PYLOADER" which --manifest "$dir/pyloader.toml" --in pkg "$module" 2>&1 | sed -n 's/^ *file: //p' || true)"
  if [ "${seen%% *}" != "$version" ] || [[ "${seen#* }" != "$dir/site/"* ]] || [[ "$their" != "$dir/site/"* ]]; then
    echo "real-pytest-suites: $id: the version under test is not the one imported (plain: $seen; pyloader: $their)" >&2
    exit 2
  fi

  start="$(now)"
  plain_run "$id" "$tests" "$WORK/logs/$id-plain.txt"
  plain="$RESULT"
  plain_wall="$(since "$start")"
  plain_code="${plain##* }"
  if [ "${plain%% *}" = "?" ] || [ "$plain_code" -gt 1 ]; then
    echo "real-pytest-suites: $id: plain pytest gave no result (exit $(describe_exit "$plain_code"); log: $WORK/logs/$id-plain.txt)" >&2
    tail -5 "$WORK/logs/$id-plain.txt" >&2
    KEEP=1; trap - EXIT
    exit 2
  fi

  for mode in $MODES; do
    log="$WORK/logs/$id-$mode.txt"
    start="$(now)"
    pyloader_run "$id" "$mode" "$tests" "$log"
    ours="$RESULT"
    wall="$(since "$start")"
    runs=$((runs + 1))
    labels=(passed failed skipped xfailed xpassed errors)
    read -r -a p <<<"$plain"
    read -r -a o <<<"$ours"
    differences=()
    for i in 0 1 2 3 4 5; do
      [ "${o[$i]}" = "${p[$i]}" ] || differences+=("${labels[$i]} ${p[$i]} vs ${o[$i]}")
    done
    if [ "${o[6]}" != "${p[6]}" ]; then
      differences+=("exit $(describe_exit "${p[6]}") vs $(describe_exit "${o[6]}")")
    fi
    verdict="match"
    if [ "${#differences[@]}" -gt 0 ]; then
      mismatches=$((mismatches + 1))
      verdict="DIFFERS ($(IFS=,; echo "${differences[*]}" | sed 's/,/, /g'))"
    fi
    row "$name $version" "$mode" "$plain" "$plain_wall" "$ours" "$wall" "$verdict"
    if [ "$verdict" != "match" ]; then hints "$WORK/logs/$id-plain.txt" "$log"; fi
  done
done

echo
[ -n "${KEEP:-}" ] && echo "== kept: $WORK (logs in $WORK/logs)"
if [ "$runs" -eq 0 ]; then
  echo "real-pytest-suites: no suite selected (ONLY=${ONLY:-}, MODES=$MODES)" >&2
  exit 2
fi
echo "== total: $(since "$started")"
if [ "$mismatches" -gt 0 ]; then
  echo "real-pytest-suites: $mismatches of $runs pyloader runs differ from plain pytest"
  exit 1
fi
echo "real-pytest-suites: all $runs pyloader runs match plain pytest"
