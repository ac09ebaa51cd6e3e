// y = x W^T + b for blocks of 16 rows of x, with W stored in 16-output panels: see panel_linear.cpp.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace uva_kit {

// Outputs per panel, and rows per block of x: one 16-float vector each.
constexpr int64_t kPanelWidth = 16;

// W (out, in) as panels (out / 16, in, 16): panels[p][k][j] = W[16 p + j][k]. Needs out % 16 == 0.
at::Tensor pack_linear_panels(const at::Tensor& weight);

// Whether `panels` holds an (out, in) weight packed by pack_linear_panels (float32, contiguous).
bool is_linear_panels(const at::Tensor& panels, int64_t in, int64_t out);

// y (rows, out) = x (rows, in) W^T + b with W from pack_linear_panels; all contiguous float32.
void panel_linear(const float* x, const float* panels, const float* b, float* y, int64_t rows, int64_t in, int64_t out);

}  // namespace uva_kit
