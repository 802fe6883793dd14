#!/usr/bin/env bash
# The torch-free core (`pip install -e .`, no fairseq extra) on other Pythons.
#
# For each version given (default: 3.12 3.13), find the interpreter (python3.X on
# PATH, else pyenv's newest 3.X), build a core-only venv .venv-core-3.X/ (cached:
# rebuilt only when the interpreter or pyproject.toml's [project] table changes),
# check that torch and fairseq are not installed, run the core's tests (the unmarked
# tier) and one real PDH search end to end (`evotrans evolve` through the
# deterministic stand-in runner, then `status` and `report`). A version whose
# interpreter is missing is skipped, with a line.
# Usage: scripts/test-core-pythons.sh [--build|--quick] [3.12 3.13 ...]   (make test-pythons)
# --build: only build (or find cached) the venvs, no tests.
# --quick: a subset of the tier (every module imported, configs, store, search, genome,
#   launchers, report; what .ci/run runs) instead of all of it; the search runs either way.
# EVOTRANS_CORE_PYTEST_ARGS: extra pytest arguments (e.g. a subset of tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_ONLY=0
TESTS=()
case "${1:-}" in
    --build) BUILD_ONLY=1; shift ;;
    --quick)
        TESTS=(tests/unit/test_imports.py tests/unit/test_config_schema.py
            tests/unit/test_fairseq_bin.py tests/unit/test_store.py tests/unit/test_search_pdh.py
            tests/unit/test_genome_serialize.py tests/unit/test_sublayers.py
            tests/unit/test_launch.py tests/unit/test_report.py)
        shift ;;
esac
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.12 3.13)
MARKS="not integration and not slow and not model"

find_python() {  # python3.X on PATH, else pyenv's newest 3.X.*, else nothing
    local v=$1 found
    found=$(command -v "python$v" 2>/dev/null || true)
    if [ -n "$found" ] && "$found" -c 'pass' 2>/dev/null; then
        echo "$found"
        return
    fi
    local root=${PYENV_ROOT:-$HOME/.pyenv}
    found=$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$found" ] && "$found" -c 'pass' 2>/dev/null && echo "$found"
    return 0
}

key() {  # what a cached venv was built from: the interpreter and the [project] table
    "$1" -c '
import json, sys, tomllib
with open("pyproject.toml", "rb") as f:
    config = tomllib.load(f)
print(sys.version, json.dumps([config["project"], config["build-system"]], sort_keys=True))' |
        sha256sum | cut -c1-16
}

FAILED=()
for v in "${VERSIONS[@]}"; do
    start=$SECONDS
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== core on Python $v: skipped: python$v not found (PATH or pyenv)"
        continue
    fi
    venv=.venv-core-$v
    stamp=$venv/.evotrans-core
    if [ "$(cat "$stamp" 2>/dev/null)" = "$(key "$py")" ]; then
        echo "== core on Python $v ($py): cached $venv"
    else
        echo "== core on Python $v ($py): building $venv"
        rm -rf "$venv"
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"
        key "$py" > "$stamp"
    fi
    [ $BUILD_ONLY = 1 ] && continue
    ok=1
    # the core is torch-free: neither may be installed (a test would pass by accident)
    if ! "$venv/bin/python" -c '
import importlib.util as u, sys
bad = [m for m in ("torch", "fairseq", "fairseq_cli") if u.find_spec(m)]
sys.exit(f"installed in a core-only venv: {bad}" if bad else 0)'; then
        ok=0
    fi
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "$MARKS" \
        ${EVOTRANS_CORE_PYTEST_ARGS:-} "${TESTS[@]}" || ok=0
    out=$(mktemp -d)
    "$venv/bin/python" - "$out" <<'EOF' || ok=0
"""A real PDH search with the core alone: evolve (stand-in trials), status, report."""
import json, subprocess, sys
from pathlib import Path

out = Path(sys.argv[1])
(out / "data").mkdir()
(out / "pdh.toml").write_text(f"""
[search]
algorithm = "pdh"
seed = 3
steps = [4, 4]
population_size = 3
tournament_size = 2
max_children = 6
[space]
kind = "order"
n_pairs = 2
[task]
kind = "lm"
data = "{out / 'data'}"
arch = "sublayer_lm_tiny"
[launcher]
kind = "local"
workers = 2
""")
exp = str(out / "exp")
bin_dir = Path(sys.executable).parent
def run(*args):
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args[1:3]}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
run(sys.executable, "-m", "tests.reliability.standin_cli", "evolve", str(out / "pdh.toml"),
    "--out", exp)
status = json.loads(subprocess.run([str(bin_dir / "evotrans"), "status", exp, "--json"],
                                   check=True, capture_output=True, text=True).stdout)
finished = status["compute"]["trials_finished"]
assert finished >= 6, f"{finished} trials finished"
run(str(bin_dir / "evotrans"), "report", exp)
assert (Path(exp) / "report.html").exists(), "no report.html"
print(f"search end to end: {finished} trials, status and report.html")
EOF
    rm -rf "$out"
    if [ $ok = 1 ]; then
        echo "== core on Python $v: passed ($((SECONDS - start)) s)"
    else
        echo "== core on Python $v: FAILED ($((SECONDS - start)) s)"
        FAILED+=("$v")
    fi
done
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "core tests failed on Python ${FAILED[*]}"
    exit 1
fi
