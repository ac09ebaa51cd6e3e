// Shared by the CPU and CUDA implementations of uva_kit::adaln_sample: the input contract and its checks.
// See csrc/adaln_sample.cpp for what each tensor holds.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <vector>

namespace uva_kit {

constexpr double kLayerNormEps = 1e-6;
enum Column : int64_t { kSqrtRecip, kSqrtRecipM1, kX0Coef, kXCoef, kLogBeta, kLogVarianceLow, kFixedStd, kColumns };

struct SampleShape {
  int64_t steps, rows, width, channels, depth;
};

inline SampleShape check_adaln_sample_inputs(const std::optional<at::Tensor>& noise, const at::Tensor& modulations,
                                             const at::Tensor& coefficients, const at::Tensor& input_weight,
                                             const at::Tensor& input_bias, at::TensorList hidden_weights,
                                             at::TensorList hidden_biases, const at::Tensor& output_weight,
                                             const at::Tensor& output_bias) {
  TORCH_CHECK(input_weight.dim() == 2, "uva_kit::adaln_sample: the input weight must be (width, C), got ",
              input_weight.sizes());
  const int64_t width = input_weight.size(0);
  const int64_t channels = input_weight.size(1);
  const int64_t depth = static_cast<int64_t>(hidden_weights.size()) / 2;
  TORCH_CHECK(depth > 0 && hidden_weights.size() % 2 == 0 && hidden_biases.size() == hidden_weights.size(),
              "uva_kit::adaln_sample: need 2 * depth hidden weights (W1_0, W2_0, ...) and as many biases");
  TORCH_CHECK(modulations.dim() == 4 && modulations.size(0) == depth + 1 && modulations.size(3) == 3 * width,
              "uva_kit::adaln_sample: modulations must be (depth + 1, S, N, 3 * width) = (", depth + 1, ", S, N, ",
              3 * width, "), got ", modulations.sizes());
  const int64_t steps = modulations.size(1);
  const int64_t rows = modulations.size(2);
  TORCH_CHECK(coefficients.dim() == 2 && coefficients.size(0) == steps && coefficients.size(1) == kColumns,
              "uva_kit::adaln_sample: coefficients must be (", steps, ", ", kColumns, "), got ", coefficients.sizes());
  TORCH_CHECK(output_weight.dim() == 2 && output_weight.size(0) == 2 * channels && output_weight.size(1) == width,
              "uva_kit::adaln_sample: output weight must be (", 2 * channels, ", ", width, "), got ", output_weight.sizes());
  // Biases must be exactly 1-D: the CPU kernels read `width` floats from a hidden bias's data pointer.
  TORCH_CHECK(input_bias.dim() == 1 && input_bias.size(0) == width, "uva_kit::adaln_sample: the input bias must be (",
              width, "), got ", input_bias.sizes());
  TORCH_CHECK(output_bias.dim() == 1 && output_bias.size(0) == 2 * channels,
              "uva_kit::adaln_sample: the output bias must be (", 2 * channels, "), got ", output_bias.sizes());
  if (noise.has_value()) {
    TORCH_CHECK(noise->dim() == 3 && noise->size(0) == steps + 1 && noise->size(1) == rows && noise->size(2) == channels,
                "uva_kit::adaln_sample: noise must be (S + 1, N, C) = (", steps + 1, ", ", rows, ", ", channels,
                "), got ", noise->sizes());
  }
  const auto device = modulations.device();
  auto check = [&](const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.scalar_type() == at::kFloat && t.device() == device, "uva_kit::adaln_sample: ", name,
                " must be float32 on ", device, ", got ", t.scalar_type(), " on ", t.device());
  };
  check(modulations, "modulations");
  check(coefficients, "coefficients");
  check(input_weight, "the input weight");
  check(input_bias, "the input bias");
  check(output_weight, "the output weight");
  check(output_bias, "the output bias");
  if (noise.has_value()) check(*noise, "noise");
  for (size_t i = 0; i < hidden_weights.size(); ++i) {
    check(hidden_weights[i], "hidden weights");
    check(hidden_biases[i], "hidden biases");
    TORCH_CHECK(hidden_weights[i].dim() == 2 && hidden_weights[i].size(0) == width && hidden_weights[i].size(1) == width,
                "uva_kit::adaln_sample: hidden weight ", i, " must be (", width, ", ", width, "), got ",
                hidden_weights[i].sizes());
    TORCH_CHECK(hidden_biases[i].dim() == 1 && hidden_biases[i].size(0) == width, "uva_kit::adaln_sample: hidden bias ",
                i, " must be (", width, "), got ", hidden_biases[i].sizes());
  }
  return {steps, rows, width, channels, depth};
}

// What every implementation starts from: contiguous inputs, the noise (given, or drawn from `generator`
// with the same numbers as torch.randn) and the weights transposed for addmm. With strided_modulations the
// modulations keep their layout when their features are contiguous (the CPU loop reads them by strides).
struct PreparedSample {
  at::Tensor noise, modulations, coefficients, input_t, output_t;
  std::vector<at::Tensor> hidden_t;
};

inline PreparedSample prepare_adaln_sample(const SampleShape& shape, const std::optional<at::Tensor>& noise,
                                           std::optional<at::Generator> generator, const at::Tensor& modulations,
                                           const at::Tensor& coefficients, const at::Tensor& input_weight,
                                           at::TensorList hidden_weights, const at::Tensor& output_weight,
                                           bool strided_modulations = false) {
  PreparedSample prepared;
  prepared.noise = noise.has_value()
                       ? noise->contiguous()
                       : at::randn({shape.steps + 1, shape.rows, shape.channels}, generator, modulations.options());
  prepared.modulations =
      strided_modulations && modulations.stride(3) == 1 ? modulations : modulations.contiguous();
  prepared.coefficients = coefficients.contiguous();
  prepared.input_t = input_weight.t();
  prepared.output_t = output_weight.t();
  for (const auto& w : hidden_weights) prepared.hidden_t.push_back(w.t());
  return prepared;
}

}  // namespace uva_kit
