// y = x W^T + b for a few rows of x, streaming the (out, in) row-major weight once: see small_batch_linear.cpp.
#pragma once

#include <cstdint>

namespace uva_kit {

// Up to this many rows the kernel beats oneDNN on the sampler's 1024-wide hidden layers (benchmarks/RESULTS.md).
constexpr int64_t kSmallBatchMaxRows = 3;

// Whether small_batch_linear runs these sizes here (its vectors need in % 16 == 0 and out % 8 == 0, and
// the CPU AVX-512: cpu_vectors.h).
bool small_batch_linear_fits(int64_t rows, int64_t in, int64_t out);

// y (rows, out) = x (rows, in) w^T + b, with w (out, in); all contiguous float32.
void small_batch_linear(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in, int64_t out);

}  // namespace uva_kit
