// The 16-float vector type of the hand-written CPU kernels, and the CPUs they run on.
//
// Vec16 is a GCC/Clang vector extension: one AVX-512 register. The kernels hold up to 24 of them as
// accumulators, which fits AVX-512's 32 registers; compiled for AVX2 or SSE they spill and lose to oneDNN
// (measured standalone: the panel kernel takes 3.4 ms a 16 x 1024 x 1024 layer for AVX2 against 0.29 ms
// for AVX-512, benchmarks/RESULTS.md). So they are compiled for AVX-512 (UVA_KIT_AVX512) and used only
// where ATen runs its own AVX-512 kernels (avx512_kernels_enabled: the CPU has AVX-512 and ATEN_CPU_CAPABILITY
// does not lower it). Elsewhere the sampler's GEMMs stay on oneDNN or sgemm.
#pragma once

#include <ATen/Version.h>

#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UVA_KIT_AVX512 __attribute__((target("avx512f")))
#else
#define UVA_KIT_AVX512
#endif

namespace uva_kit {

typedef float Vec16 __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

// Whether this process runs ATen's AVX-512 kernels (torch.backends.cpu.get_cpu_capability() == "AVX512").
inline bool avx512_kernels_enabled() {
  static const bool enabled = at::get_cpu_capability() == "AVX512";
  return enabled;
}

}  // namespace uva_kit
