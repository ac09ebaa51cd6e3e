// A fp32 linear layer for blocks of 16 rows, fast while its weight streams from DRAM.
//
// At 16 rows (a batch-1 policy call's action rows) each sampling step multiplies 16 rows by the 12 hidden
// weights, 48 MB at width 1024, more than the L3: compute (~0.29 ms a layer at this core's fp32 peak) and
// the weight stream have to overlap. The weight is stored in panels of 16 outputs (pack_linear_panels),
// so each panel is one sequential stream, prefetched 4 KB ahead into L2. The 16 rows of x are transposed
// into a (in, 16) block, so each step of the inner loop is one panel vector times 16 broadcast inputs:
// 16 accumulators, 16 FMAs per vector loaded. More rows run block by block over each panel while it is
// in L2; threads split the panels. benchmarks/RESULTS.md has the measurements against oneDNN. Compiled for
// AVX-512 (cpu_vectors.h): uva_kit/ops/packed_linear.py passes panels only where ATen runs AVX-512.
#include "panel_linear.h"

#include "cpu_vectors.h"

#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

namespace uva_kit {
namespace {

constexpr int64_t kPrefetchFloats = 1024;  // 4 KB ahead
constexpr int64_t kPanelsPerTask = 8;      // a thread's smallest share: 128 outputs

// Panels [first, last) of every block of 16 rows; x_blocks holds ceil(rows / 16) transposed (in, 16) blocks.
UVA_KIT_AVX512 void panels_pass(const float* x_blocks, const float* panels, const float* b, float* y,
                                int64_t rows, int64_t in, int64_t out, int64_t first, int64_t last) {
  for (int64_t p = first; p < last; ++p) {
    const float* panel = panels + p * in * kPanelWidth;
    Vec16 bias;
    __builtin_memcpy(&bias, b + p * kPanelWidth, sizeof(Vec16));
    for (int64_t row0 = 0; row0 < rows; row0 += kPanelWidth) {
      const float* xb = x_blocks + row0 * in;
      Vec16 acc[kPanelWidth] = {};
      for (int64_t k = 0; k < in; ++k) {
        Vec16 w;
        __builtin_memcpy(&w, panel + k * kPanelWidth, sizeof(Vec16));
        __builtin_prefetch(panel + k * kPanelWidth + kPrefetchFloats, 0, 2);
        const float* xk = xb + k * kPanelWidth;
        for (int r = 0; r < kPanelWidth; ++r) acc[r] += w * xk[r];
      }
      const int64_t block_rows = std::min(kPanelWidth, rows - row0);
      for (int64_t r = 0; r < block_rows; ++r) {
        const Vec16 v = acc[r] + bias;
        __builtin_memcpy(y + (row0 + r) * out + p * kPanelWidth, &v, sizeof(Vec16));
      }
    }
  }
}

}  // namespace

at::Tensor pack_linear_panels(const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) % kPanelWidth == 0,
              "uva_kit: panel packing needs a (out, in) weight with out % 16 == 0, got ", weight.sizes());
  return weight.reshape({weight.size(0) / kPanelWidth, kPanelWidth, weight.size(1)}).transpose(1, 2).contiguous();
}

bool is_linear_panels(const at::Tensor& panels, int64_t in, int64_t out) {
  return out % kPanelWidth == 0 && panels.layout() == at::kStrided && panels.scalar_type() == at::kFloat &&
         panels.is_contiguous() && panels.sizes() == at::IntArrayRef({out / kPanelWidth, in, kPanelWidth});
}

void panel_linear(const float* x, const float* panels, const float* b, float* y, int64_t rows, int64_t in,
                  int64_t out) {
  // x (rows, in) -> blocks of 16 rows, each (in, 16), the last one zero-padded.
  const int64_t blocks = (rows + kPanelWidth - 1) / kPanelWidth;
  std::vector<float> x_blocks(blocks * in * kPanelWidth, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float* block = x_blocks.data() + (r / kPanelWidth) * in * kPanelWidth + r % kPanelWidth;
    for (int64_t k = 0; k < in; ++k) block[k * kPanelWidth] = x[r * in + k];
  }
  at::parallel_for(0, out / kPanelWidth, kPanelsPerTask, [&](int64_t begin, int64_t end) {
    panels_pass(x_blocks.data(), panels, b, y, rows, in, out, begin, end);
  });
}

}  // namespace uva_kit

TORCH_LIBRARY_FRAGMENT(uva_kit, m) { m.def("pack_linear_panels(Tensor weight) -> Tensor"); }

TORCH_LIBRARY_IMPL(uva_kit, CompositeImplicitAutograd, m) {
  m.impl("pack_linear_panels", &uva_kit::pack_linear_panels);
}
