#!/usr/bin/env bash
# The GPU checklist in one run, for a CUDA machine that may have no network (an H100 is the reference card):
#   1. build the extension in place against the torch already installed (CUDA kernels for this card only);
#   2. run the test files that exercise the CUDA ops, CUDA graphs and attention backends (`gpu` tests
#      included), then the benchmark gates;
#   3. pytest-benchmark's per-stage timings at paper scale (uva-b-pusht, batch 1, fast path), and
#      `uva-kit bench` at paper scale (16 and 100 steps) and at pusht-tiny, reference and fast path in one run.
# Each step's output goes to OUT_DIR/<step>.log (bench tables also to OUT_DIR/bench-*/bench.json), and
# OUT_DIR/summary.txt gets one line per step with its exit status and seconds. A failing step does not
# stop the later ones; the script exits non-zero if any failed. Copy the figures into benchmarks/RESULTS.md.
#
#   bash scripts/gpu_checks.sh [OUT_DIR]                 # default OUT_DIR: gpu-checks
#   UVA_KIT_CHECK_DEVICE=cpu REPEATS=2 bash scripts/gpu_checks.sh /tmp/dry   # a dry run of the script on a CPU
#
# Needs torch, numpy, attrs, pluggy, safetensors, pyyaml, tqdm, pyarrow, matplotlib, pillow, pytest and
# pytest-benchmark; not the simulation extras (gym-pusht, pymunk, av, zarr).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-gpu-checks}"
DEVICE="${UVA_KIT_CHECK_DEVICE:-cuda}"
REPEATS="${REPEATS:-50}"
mkdir -p "$OUT_DIR"
: >"$OUT_DIR/summary.txt"
# UVA_KIT_REQUIRE_EXTENSION: a missing extension fails the tests instead of skipping them
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 UVA_KIT_REQUIRE_EXTENSION=1
FAILED=0

step() {  # step NAME COMMAND...: run it, log to OUT_DIR/NAME.log, record its status and duration
  local name=$1 began=$SECONDS rc
  shift
  "$@" >"$OUT_DIR/$name.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || FAILED=1
  printf '%-12s rc=%-3d %5ds  %s\n' "$name" "$rc" "$((SECONDS - began))" "$*" | tee -a "$OUT_DIR/summary.txt"
}

step machine bash -c 'date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv ||
  echo "no nvidia-smi"'

if [ "$DEVICE" = cuda ]; then  # one architecture: the card's own (a full list multiplies the nvcc time)
  TORCH_CUDA_ARCH_LIST="$(python3 -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")"
  export TORCH_CUDA_ARCH_LIST MAX_JOBS="${MAX_JOBS:-$(nproc)}"
fi
step build python3 setup.py build_ext --inplace
step info python3 -m uva_kit info
if [ "$DEVICE" = cuda ]; then  # without nvcc/CUDA_HOME setup.py builds a CPU-only extension and the CUDA op tests skip
  step cuda-op python3 -c "import torch; from uva_kit.ops import extension_status; print(extension_status().detail)
assert torch._C._dispatch_has_kernel_for_dispatch_key('uva_kit::adaln_sample', 'CUDA'), (
    'the extension has no CUDA kernel: it was built without nvcc/CUDA_HOME (see build.log); CUDA op tests skip')
print('uva_kit::adaln_sample has a CUDA kernel')"
fi
step tests python3 -m pytest -p no:cacheprovider -rs tests/test_fast_sampler.py tests/model/test_fast_inference.py \
  tests/model/test_devices.py \
  tests/test_ops.py tests/test_attention_dispatch.py
step benchmarks env OMP_NUM_THREADS=1 python3 -m pytest -p no:cacheprovider benchmarks/ --benchmark-only -q
step stages-paper env OMP_NUM_THREADS=1 python3 -m pytest -p no:cacheprovider benchmarks/test_policy_stages.py \
  --benchmark-only -q --stages-spec uva-b-pusht --stages-device "$DEVICE"
step bench-paper python3 -m uva_kit bench --spec uva-b-pusht --device "$DEVICE" --steps 16 100 --batch-size 1 \
  --repeats "$REPEATS" --out "$OUT_DIR/bench-paper"
step bench-tiny python3 -m uva_kit bench --spec pusht-tiny --device "$DEVICE" --steps 16 100 --repeats "$REPEATS" \
  --out "$OUT_DIR/bench-tiny"
exit "$FAILED"
