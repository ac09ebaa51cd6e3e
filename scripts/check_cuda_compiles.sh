#!/usr/bin/env bash
# Compile-checks the CUDA sources where nvcc exists, even without a GPU or a CUDA build of torch:
#   * every csrc/**/*.cu is compiled to an object with nvcc for sm_80 and sm_90;
#   * every torch binding in csrc/cuda/*.cpp is syntax-checked with the host compiler against torch's
#     headers and the CUDA headers (a CPU torch wheel lacks one generated c10/cuda header: a stub stands in).
# Exits 0 with a note when nvcc is absent. Usage: scripts/check_cuda_compiles.sh [NVCC]
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC="${1:-${NVCC:-nvcc}}"
if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "check_cuda_compiles: nvcc not found; skipping the CUDA compile check"
  exit 0
fi
# nvcc's own include flags (its dry run prints them), so wrappers and non-standard installs work
CUDA_INCLUDES="$("$NVCC" --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/.*INCLUDES="\([^"]*\)".*/\1/p' | head -n 1)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mapfile -t SOURCES < <(find csrc -name '*.cu' | sort)
for source in "${SOURCES[@]}"; do
  for arch in sm_80 sm_90; do
    echo "nvcc $arch $source"
    "$NVCC" -std=c++17 -O3 -arch="$arch" -Werror all-warnings -Icsrc -c "$source" -o "$WORK/$(basename "$source").$arch.o"
  done
done
mkdir -p "$WORK/stub/c10/cuda/impl"
echo '#define C10_CUDA_BUILD_SHARED_LIBS' >"$WORK/stub/c10/cuda/impl/cuda_cmake_macros.h"
TORCH_INCLUDES="$(python3 -c "from torch.utils.cpp_extension import include_paths; print(' '.join('-I' + p for p in include_paths()))")"
for binding in csrc/cuda/*.cpp; do
  echo "c++ -fsyntax-only $binding"
  # shellcheck disable=SC2086  # word splitting of the include flags is intended
  ${CXX:-c++} -std=c++20 -fsyntax-only -w $TORCH_INCLUDES -I"$WORK/stub" $CUDA_INCLUDES -Icsrc "$binding"
done
echo "check_cuda_compiles: ${#SOURCES[@]} .cu file(s) compiled for sm_80 and sm_90; bindings syntax-checked"
