#!/usr/bin/env bash
# Real PyPI packages in many loaders (issue 5), side by side through `pyloader run`.
#
# Installs with `pip install --target` into a temporary folder (needs the network):
#   - attrs 22.2.0 and attrs 23.2.0 (pure Python, two versions side by side);
#   - pydantic 2.x once (pydantic-core is a PyO3 extension, which refuses a second
#     interpreter unless it gets its own copy of the file), imported by several loaders;
#   - msgpack once (a Cython extension that otherwise falls back to pure Python);
#   - idna (pure Python), which a plugin takes from its host, metadata included;
# then runs a manifest over them and prints what each loader sees.
#
# Usage: Scripts/real-packages.sh            (builds the CLI with `swift build`)
#        PYLOADER=/path/to/pyloader Scripts/real-packages.sh
#        KEEP=1 ...                          (keep the temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=/usr/bin/python3   # the build that matches libpython3.11
if [ -z "${PYLOADER:-}" ]; then
  swift build --product pyloader >&2
  PYLOADER="$(swift build --show-bin-path)/pyloader"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyloader-real-packages-XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi

install() {   # install FOLDER REQUIREMENT...
  local folder="$WORK/$1"; shift
  PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
    --only-binary=:all: --target "$folder" "$@" >&2
}
echo "== installing into $WORK" >&2
install attrs-22 "attrs==22.2.0"
install attrs-23 "attrs==23.2.0"
install pydantic "pydantic>=2,<3"
install msgpack "msgpack>=1,<2"
install pure "idna>=3,<4"

cat > "$WORK/pyloader.toml" <<'EOF'
[root]
paths = []

[loaders.host]                  # pydantic 2 and idna; no attrs
paths = ["pydantic", "pure"]

[loaders.plugin]                # parent-first: pydantic and idna come from host
parent = "host"
paths = ["attrs-22"]

[loaders.other]                 # the same pydantic tree, imported for itself
paths = ["attrs-23", "pydantic", "msgpack"]

[loaders.msg]
paths = ["msgpack"]

[loaders.strict]                # a second load of an extension file is refused
paths = ["pydantic"]
extensions = "error"

[loaders.sharing]               # a second load uses the file in place: PyO3 refuses
paths = ["pydantic"]
extensions = "share"
EOF

# In a folder of its own: `pyloader run SCRIPT` puts the script's folder first on the
# root's sys.path, and the install folders above would be namespace packages there.
mkdir "$WORK/scripts"
cat > "$WORK/scripts/report.py" <<'EOF'
import os, sys, pyloader

SNIPPET = r'''
import importlib, importlib.metadata as md, pyloader, sys, warnings
warnings.simplefilter("ignore")

def _see(module, dist):
    me = pyloader.current().name
    try:
        m = importlib.import_module(module)
    except Exception as e:
        print(f"  [{me}] import {module}: {type(e).__name__}: {e}")
        return None
    try:
        version = md.version(dist)
    except Exception as e:
        version = type(e).__name__
    definer = pyloader.defining_loader(m)
    print(f"  [{me}] {module}: metadata {dist}=={version}, defined by loader "
          f"{definer.name if definer else me!r}, {m.__file__.replace(WORK, '$WORK', 1)}")
    return m

def _pydantic():
    me = pyloader.current().name
    pydantic = _see("pydantic", "pydantic")
    if pydantic is None:
        return
    core = importlib.import_module("pydantic_core._pydantic_core")
    class Point(pydantic.BaseModel):
        x: int
        y: int = 0
    point = Point.model_validate({"x": "3"})
    try:
        Point(x="not a number")
        invalid = "accepted?!"
    except pydantic.ValidationError as e:
        invalid = f"ValidationError ({e.error_count()} error)"
    print(f"  [{me}] pydantic_core {core.__version__} (__file__ {core.__file__.replace(WORK, '$WORK', 1)}):"
          f" Point(x='3') -> {point!r}; Point(x='not a number') -> {invalid}")

def _msgpack():
    me = pyloader.current().name
    msgpack = _see("msgpack", "msgpack")
    if msgpack is not None:
        print(f"  [{me}] msgpack.Packer from {msgpack.Packer.__module__}; round trip "
              f"{msgpack.unpackb(msgpack.packb({'a': [1, 2]}))}")
'''

WORK = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))

def run(name, code):
    loader = pyloader.get(name)
    loader.exec(f"WORK = {WORK!r}\n" + SNIPPET)
    loader.exec(code)

def short(path):
    return "$WORK" + path[len(WORK):] if path.startswith(WORK) else path

def mapped(fragment):
    """The files mapped in this process whose path contains `fragment` (ours: /proc/self/maps)."""
    with open("/proc/self/maps") as maps:
        files = {line.split(None, 5)[5].strip() for line in maps if fragment in line}
    return sorted(f[:-len(" (deleted)")] if f.endswith(" (deleted)") else f for f in files)

print("== host: pydantic 2 (the first load of _pydantic_core: in place), idna")
run("host", "_pydantic(); _see('idna', 'idna'); _see('attr', 'attrs')")

print("== plugin (child of host, parent-first): attrs 22 of its own; pydantic and idna from host")
run("plugin", "_see('attr', 'attrs'); _pydantic(); _see('idna', 'idna')")
print("   same pydantic module object as host:",
      pyloader.get("plugin").eval("__import__('pydantic')") is pyloader.get("host").eval("__import__('pydantic')"))

print("== other: attrs 23; the same pydantic tree imported for itself (a private copy); msgpack")
run("other", "_see('attr', 'attrs'); _pydantic(); _msgpack()")

print("== msg: the same msgpack file in a second loader (a private copy of the Cython extension)")
run("msg", "_msgpack()")

print("== strict (extensions = \"error\"): refuses a second load")
run("strict", "_see('pydantic_core', 'pydantic-core')")

print("== sharing (extensions = \"share\"): the file in place, and PyO3 refuses the second interpreter")
run("sharing", "_see('pydantic_core', 'pydantic-core')")

print("== close msg, then a new loader imports the same msgpack file again (a fresh copy)")
pyloader.get("msg").close()
pyloader.root().child("msg-again", paths=[os.path.join(WORK, "msgpack")])
run("msg-again", "_msgpack()")

print("== close other, then a new loader imports the same pydantic again (a fresh copy)")
pyloader.get("other").close()
pyloader.root().child("other-again", paths=[os.path.join(WORK, "pydantic")])
try:
    run("other-again", "_pydantic()")
except Exception as e:
    print(f"  [other-again] {type(e).__name__}: {e}")

for fragment in ("_pydantic_core", "_cmsgpack"):
    print(f"== {fragment} libraries mapped in this process (the original, then private copies):")
    for path in mapped(fragment):
        print("  ", short(path) + ("" if os.path.exists(path) else "   (file removed: its loader closed)"))
print("== files in $PYLOADER_CACHE now:")
for folder, _, files in sorted(os.walk(os.environ["PYLOADER_CACHE"])):
    for file in sorted(files):
        print("  ", short(os.path.join(folder, file)))
EOF

echo "== $PYLOADER run --manifest $WORK/pyloader.toml $WORK/scripts/report.py"
export PYLOADER_CACHE="$WORK/cache"
"$PYLOADER" run --manifest "$WORK/pyloader.toml" "$WORK/scripts/report.py"
echo "== after exit, \$PYLOADER_CACHE ($WORK/cache) holds: [$(ls -A "$WORK/cache" 2>/dev/null | tr '\n' ' ')]"
