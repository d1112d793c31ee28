#!/usr/bin/env bash
# Regenerate tests/golden/ (data and original_stack.json) from the seed's own code on its
# own stack: Python 2.7, Theano 1.0.5, Fuel 0.2.0, numpy 1.16.6. Run by `make golden`.
#
#   1. find python2.7 (PYTHON27=/path overrides; pyenv's 2.7 is found even when not active)
#   2. create build/py27-venv with virtualenv 20.21.1 (the last that creates 2.7 envs),
#      itself installed in build/py27-tools, and install requirements-py27.txt there
#   3. write tests/golden/{traindata.txt,valdata.txt,dictionary.pkl} (make_golden_data.py)
#   4. run lstm_text_original.py with floatX float64, then float32, in build/py27-golden/
#   5. write tests/golden/original_stack.json atomically
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=tools/original_stack
PYTHON3=${PYTHON3:-python3}
VENV=build/py27-venv
TOOLS=build/py27-tools
WORK=build/py27-golden
GOLDEN=tests/golden
FIXTURE=$GOLDEN/original_stack.json
REQUIREMENTS=$HERE/requirements-py27.txt
VIRTUALENV_PIN=virtualenv==20.21.1

find_python27() {
    local candidate
    local -a candidates=()
    [ -n "${PYTHON27:-}" ] && candidates+=("$PYTHON27")
    candidates+=(python2.7)
    if command -v pyenv >/dev/null 2>&1; then
        shopt -s nullglob
        candidates+=("$(pyenv root)"/versions/2.7*/bin/python2.7)
        shopt -u nullglob
    fi
    for candidate in "${candidates[@]}"; do
        # A pyenv shim exists even when 2.7 is not the active version: it must really run.
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' \
                >/dev/null 2>&1; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

if ! PY27=$(find_python27); then
    echo "python2.7 not found: the golden fixture $FIXTURE cannot be regenerated here;" \
         "the committed one is used by make test" >&2
    exit 2
fi
echo "regenerate: using $PY27"

# ---- 2. the Python 2.7 virtualenv
if [ ! -x "$VENV/bin/python" ]; then
    if [ ! -x "$TOOLS/bin/virtualenv" ]; then
        "$PYTHON3" -m venv "$TOOLS"
        "$TOOLS/bin/pip" install --disable-pip-version-check -q "$VIRTUALENV_PIN"
    fi
    # Its seed packages (pip 20.3.4, setuptools 44.1.1, wheel 0.37.1) are the ones bundled
    # with virtualenv 20.21.1; its app-data cache stays under build/, not in the home folder.
    VIRTUALENV_OVERRIDE_APP_DATA="$TOOLS/app-data" "$TOOLS/bin/virtualenv" \
        --no-download --no-periodic-update -p "$PY27" "$VENV"
fi
STAMP=$VENV/.golden-installed
WANT=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    "$VENV/bin/pip" install --disable-pip-version-check --no-python-version-warning \
        --no-deps -r "$REQUIREMENTS"
    "$VENV/bin/pip" check --disable-pip-version-check --no-python-version-warning
    echo "$WANT" > "$STAMP"
fi

# ---- 3. the data
"$PYTHON3" "$HERE/make_golden_data.py" --out "$GOLDEN"

# ---- 4. the two runs, in a folder holding the data under the seed's file names
rm -rf "$WORK/run"
mkdir -p "$WORK/run"
cp "$GOLDEN/traindata.txt" "$GOLDEN/valdata.txt" "$GOLDEN/dictionary.pkl" "$WORK/run/"
for FLOATX in float64 float32; do
    echo "regenerate: running the seed's code with floatX=$FLOATX (log: $WORK/$FLOATX.log)"
    rm -f "$WORK/$FLOATX.json"
    # THEANORC and FUEL_CONFIG at /dev/null: no home configuration file takes part.
    # blas.ldflags empty: Theano's NumPy C-API BLAS; one BLAS/OpenMP thread for determinism.
    if ! ( cd "$WORK/run" && env -u THEANO_FLAGS -u FUEL_DATA_PATH \
            THEANORC=/dev/null FUEL_CONFIG=/dev/null FUEL_FLOATX=$FLOATX \
            THEANO_FLAGS="floatX=$FLOATX,device=cpu,blas.ldflags=,base_compiledir=$ROOT/$WORK/theano-$FLOATX" \
            OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
            "$ROOT/$VENV/bin/python" "$ROOT/$HERE/lstm_text_original.py" "../$FLOATX.json" \
        ) > "$WORK/$FLOATX.log" 2>&1; then
        tail -n 30 "$WORK/$FLOATX.log" >&2
        echo "regenerate: the $FLOATX run failed; full log in $WORK/$FLOATX.log" >&2
        exit 1
    fi
    grep -v '^harness: wrote' "$WORK/$FLOATX.log" | sed "s/^/  [$FLOATX] /" || true
done

# ---- 5. the fixture
"$PYTHON3" - "$WORK" "$GOLDEN" "$FIXTURE" <<'EOF'
import hashlib, json, os, sys, tempfile
work, golden, fixture = sys.argv[1:]
runs = {fx: json.load(open(os.path.join(work, fx + ".json"))) for fx in ("float64", "float32")}
assert runs["float64"]["versions"] == runs["float32"]["versions"]
for fx, run in runs.items():
    assert run["floatX"] == run["fuel_floatX"] == fx, run["floatX"]
    assert len(run["costs"]) == 60, len(run["costs"])
KEYS = ("costs", "initial_cost", "valid_ce_before", "valid_ce", "param_norms", "sample",
        "cost_dtype", "first_batch_predicted_chars")
out = {
    "generated_by": "make golden (tools/original_stack/regenerate.sh)",
    "settings": {
        "batch_size": 100, "n_h": 50, "learning_rate": 0.1, "rng_seed": 12345,
        "n_in": 111, "n_out": 111, "steps": 60, "epochs": 2, "minibatches_per_epoch": 30,
        "train_lines": 3000, "valid_lines": 300,
        "param_order": ["W", "b", "W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o",
                        "b_i", "b_f", "b_c", "b_o"],
        "theano_flags": "floatX=<floatX>,device=cpu,blas.ldflags=,base_compiledir=<build>",
        "fuel_floatX": "same as floatX (FUEL_FLOATX)",
        "threads": "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1",
    },
    "versions": runs["float64"]["versions"],
    "data_sha256": {
        name: hashlib.sha256(open(os.path.join(golden, name), "rb").read()).hexdigest()
        for name in ("traindata.txt", "valdata.txt", "dictionary.pkl")
    },
}
for fx, run in runs.items():
    out[fx] = {key: run[key] for key in KEYS}
text = json.dumps(out, indent=1, sort_keys=True, ensure_ascii=True) + "\n"
fd, tmp = tempfile.mkstemp(dir=golden, prefix=".original_stack.json.")
with os.fdopen(fd, "w") as handle:
    handle.write(text)
os.chmod(tmp, 0o644)
os.replace(tmp, fixture)
print("regenerate: wrote %s" % fixture)
EOF
