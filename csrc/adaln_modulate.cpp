// Fused LayerNorm (no affine) + AdaLN modulation: y = LN(x) * (1 + scale) + shift, row by row.
// The PyTorch reference is uva_kit/ops/adaln.py::adaln_modulate_reference.
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/extension.h>

#include <cmath>

namespace uva_kit {

torch::Tensor adaln_modulate_cpu(const torch::Tensor& x, const torch::Tensor& shift, const torch::Tensor& scale,
                                 double eps) {
  TORCH_CHECK(x.device().is_cpu(), "uva_kit::adaln_modulate (CPU): x must be on the CPU");
  TORCH_CHECK(x.scalar_type() == torch::kFloat, "uva_kit::adaln_modulate (CPU): x must be float32, got ",
              x.scalar_type());
  TORCH_CHECK(shift.sizes() == x.sizes() && scale.sizes() == x.sizes(),
              "uva_kit::adaln_modulate: shift and scale must have the shape of x ", x.sizes(), ", got ",
              shift.sizes(), " and ", scale.sizes());
  TORCH_CHECK(shift.scalar_type() == x.scalar_type() && scale.scalar_type() == x.scalar_type(),
              "uva_kit::adaln_modulate: shift and scale must have the dtype of x (", x.scalar_type(), "), got ",
              shift.scalar_type(), " and ", scale.scalar_type());
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) > 0, "uva_kit::adaln_modulate: x needs a non-empty last dimension");

  auto xc = x.contiguous();
  auto shiftc = shift.contiguous();
  auto scalec = scale.contiguous();
  auto out = torch::empty_like(xc);
  const int64_t width = xc.size(-1);
  const int64_t rows = xc.numel() / width;
  const float* xp = xc.data_ptr<float>();
  const float* sp = shiftc.data_ptr<float>();
  const float* cp = scalec.data_ptr<float>();
  float* op = out.data_ptr<float>();

  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* xr = xp + row * width;
      double mean = 0.0;
      for (int64_t i = 0; i < width; ++i) mean += xr[i];
      mean /= static_cast<double>(width);
      double var = 0.0;
      for (int64_t i = 0; i < width; ++i) {
        const double d = xr[i] - mean;
        var += d * d;
      }
      var /= static_cast<double>(width);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(var + eps));
      const float meanf = static_cast<float>(mean);
      const float* shift_row = sp + row * width;
      const float* scale_row = cp + row * width;
      float* out_row = op + row * width;
      for (int64_t i = 0; i < width; ++i) {
        out_row[i] = (xr[i] - meanf) * inv_std * (1.0f + scale_row[i]) + shift_row[i];
      }
    }
  });
  return out;
}

}  // namespace uva_kit

TORCH_LIBRARY(uva_kit, m) {
  m.def("adaln_modulate(Tensor x, Tensor shift, Tensor scale, float eps) -> Tensor");
}

TORCH_LIBRARY_IMPL(uva_kit, CPU, m) { m.impl("adaln_modulate", &uva_kit::adaln_modulate_cpu); }
// No backward: an output that needs a gradient raises at backward ("derivative ... is not implemented")
// instead of leaving the inputs' gradients silently unset. uva_kit.ops.adaln_modulate takes the reference then.
TORCH_LIBRARY_IMPL(uva_kit, Autograd, m) {
  m.impl("adaln_modulate", torch::autograd::autogradNotImplementedFallback());
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.doc() = "uva_kit fused ops; they register under torch.ops.uva_kit when this module is imported.";
}
