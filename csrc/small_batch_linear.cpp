// A fp32 linear layer for 1-3 rows, bound by reading its weight from DRAM.
//
// At one row the sampler's hidden GEMMs are matrix-vector products: each step streams all 12 hidden weights
// (48 MB at width 1024, more than the L3), so their speed is the speed of that stream. This kernel reads the
// (out, in) weight in its own row-major order, 8 output rows at a time, each load prefetching 4 KB ahead,
// and multiplies every weight vector into all (up to 3) input rows while it is in registers; threads split
// the outputs. On one core of the CI machine it streams ~24 GB/s where oneDNN's packed GEMM reaches ~15
// (benchmarks/RESULTS.md).
// Compiled for AVX-512 and used where ATen runs AVX-512 (cpu_vectors.h).
#include "small_batch_linear.h"

#include "cpu_vectors.h"

#include <ATen/Parallel.h>

namespace uva_kit {
namespace {

constexpr int kOutputsPerPass = 8;
constexpr int64_t kPrefetchFloats = 1024;  // 4 KB ahead
constexpr int64_t kPassesPerTask = 16;     // a thread's smallest share: 128 outputs (512 KB of weights at width 1024)

// y[n][o] for n < Rows and kOutputsPerPass outputs starting at w's first row.
template <int Rows>
inline __attribute__((always_inline)) void outputs_pass(const float* x, const float* w, const float* b, float* y,
                                                        int64_t in, int64_t out) {
  Vec16 acc[Rows][kOutputsPerPass] = {};
  for (int64_t k = 0; k < in; k += kLanes) {
    Vec16 xv[Rows];
    for (int n = 0; n < Rows; ++n) __builtin_memcpy(&xv[n], x + n * in + k, sizeof(Vec16));
    for (int o = 0; o < kOutputsPerPass; ++o) {
      const float* wk = w + o * in + k;
      __builtin_prefetch(wk + kPrefetchFloats);
      Vec16 wv;
      __builtin_memcpy(&wv, wk, sizeof(Vec16));
      for (int n = 0; n < Rows; ++n) acc[n][o] += wv * xv[n];
    }
  }
  for (int n = 0; n < Rows; ++n) {
    for (int o = 0; o < kOutputsPerPass; ++o) {
      float sum = 0.0f;
      for (int64_t lane = 0; lane < kLanes; ++lane) sum += acc[n][o][lane];
      y[n * out + o] = sum + b[o];
    }
  }
}

// Outputs [first_pass, last_pass) * kOutputsPerPass of every row.
UVA_KIT_AVX512 void outputs_passes(const float* x, const float* w, const float* b, float* y, int64_t rows,
                                   int64_t in, int64_t out, int64_t first_pass, int64_t last_pass) {
  for (int64_t pass = first_pass; pass < last_pass; ++pass) {
    const int64_t o = pass * kOutputsPerPass;
    const float* wo = w + o * in;
    switch (rows) {
      case 1: outputs_pass<1>(x, wo, b + o, y + o, in, out); break;
      case 2: outputs_pass<2>(x, wo, b + o, y + o, in, out); break;
      default: outputs_pass<3>(x, wo, b + o, y + o, in, out); break;
    }
  }
}

}  // namespace

bool small_batch_linear_fits(int64_t rows, int64_t in, int64_t out) {
  return rows >= 1 && rows <= kSmallBatchMaxRows && in % kLanes == 0 && out % kOutputsPerPass == 0 &&
         avx512_kernels_enabled();
}

void small_batch_linear(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in,
                        int64_t out) {
  // Threads split the outputs, and so the weight stream (ATen's pool: torch.set_num_threads).
  at::parallel_for(0, out / kOutputsPerPass, kPassesPerTask, [&](int64_t begin, int64_t end) {
    outputs_passes(x, w, b, y, rows, in, out, begin, end);
  });
}

}  // namespace uva_kit
