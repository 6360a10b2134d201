#!/usr/bin/env bash
# The GPU figures of docs/performance.md in one script, on a machine with CUDA (docs/gpu.md,
# "Measuring on your CUDA machine"):
#
#   PYTHON=.venv/bin/python bash bench/gpu/run.sh      (DRY_RUN=1: toy sizes on the CPU, to check the script)
#
# In order of what matters most, each step with its own ceiling inside one overall deadline
# (DEADLINE_S, default 420 s); each writes $OUT/<step>.txt:
#   env         the GPU, torch, the app's packages
#   tests       the CUDA tests (graphs, the batched fast path, eNTK on CUDA), then the app's API test
#   bench_gpu   eager / CUDA graphs / torch.compile / TF32 side by side (target: compiled ≥ 1.25×
#               eager on SIREN 5×256 at 256², ±0.1 dB at 1000 steps)
#   app         the stream in process, then the real server driven by gradio_client (targets:
#               first frame < 0.5 s, diagnostics ≤ 10 %, 3-method image preset < 5 s)
#   batched     10 app-size runs as one vs serial (target ≥ 5×), WINNER Table 1 extrapolated (< 3 h)
# Without CUDA it says so and stops. A machine without a package index gets the app's packages as
# wheels in .gpu_carry/wheels (bench/gpu/fetch_wheels.py), installed here into /tmp/site.
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-420}
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False SPECTRAL_LAB_CALIBRATE=0

left() { echo $(( DEADLINE_S - ($(date +%s) - START) )); }

step() {  # step NAME CEILING_S COMMAND...: run it within min(ceiling, what is left), output to $OUT/NAME.txt
  local name=$1 ceiling=$2; shift 2
  local budget; budget=$(left)
  (( budget > ceiling )) && budget=$ceiling
  if (( budget < 20 )); then echo "[$name] skipped: ${budget}s left" | tee -a "$OUT/$name.txt"; return; fi
  echo "[$name] up to ${budget}s: $*" >>"$OUT/$name.txt"
  local began; began=$(date +%s)
  timeout --kill-after=10 "$budget" "$@" >>"$OUT/$name.txt" 2>&1
  local rc=$?
  echo "[$name] rc=$rc after $(( $(date +%s) - began ))s" >>"$OUT/$name.txt"
  tail -n 25 "$OUT/$name.txt"
}

# The carried wheels (Gradio, plotly, librosa, soundfile and what the image lacks) and the audio.
if [[ ${DRY_RUN:-0} == 1 ]]; then
  export PYTHONPATH=$PWD  # this machine's own packages (the wheels are for the GPU machine's Python 3.12)
elif [[ -d .gpu_carry/wheels ]]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu_carry/wheels/*.whl >"$OUT/env.txt" 2>&1 || { echo "wheel install failed"; cat "$OUT/env.txt"; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
  echo "no .gpu_carry/: the app's packages come from this Python" | tee "$OUT/env.txt"
fi
if [[ -f .gpu_carry/tetris.wav ]]; then  # the benches read ../shared/data/audio/tetris.wav
  mkdir -p ../shared/data/audio && cp -n .gpu_carry/tetris.wav ../shared/data/audio/
fi

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  "$PYTHON" -c "import gradio, plotly, librosa, soundfile; print('gradio', gradio.__version__, 'plotly', plotly.__version__, 'librosa', librosa.__version__)"
} >>"$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tail -4
APP_SIZE=256 STEPS=1000 BATCH_STEPS=300
if ! "$PYTHON" -c "import torch; raise SystemExit(0 if torch.cuda.is_available() else 1)"; then
  [[ ${DRY_RUN:-0} == 1 ]] || { echo "no CUDA here"; exit 1; }
  APP_SIZE=24 STEPS=40 BATCH_STEPS=20
  echo "DRY_RUN: no CUDA, toy sizes on the CPU"
fi

PYTEST="$PYTHON -m pytest -q -o addopts= -p no:cacheprovider"
step tests 100 bash -c "$PYTEST -m gpu tests/ && $PYTEST tests/test_app_api.py"
step bench_gpu 170 "$PYTHON" bench/bench_gpu.py --steps $STEPS --cases siren_image,siren_audio
step app 100 bash -c "$PYTHON bench/bench_app.py --latency --size $APP_SIZE && $PYTHON bench/bench_app.py --latency --through-app --size $APP_SIZE"
step batched 120 "$PYTHON" bench/bench_batched.py --runs 10 --steps $BATCH_STEPS
echo "done in $(( $(date +%s) - START ))s; results in $OUT"
