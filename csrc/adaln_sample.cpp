// The whole sampling loop of an AdaLN-MLP diffusion head (MAR's SimpleMLPAdaLN) in one call, on the CPU.
//
// Inputs come from uva_kit/sampler/restructured.py::prepare_sampling, which also runs the same loop in
// PyTorch (the reference for this op):
//   noise          (S + 1, N, C): noise[0] is x_T, noise[k + 1] is loop iteration k's noise (unused at the last);
//                  when absent it is drawn here with at::randn from `generator` (same numbers as torch.randn).
//   modulations    (depth + 1, S, N, 3 * W): per block and iteration [multiplier, shift, gate] with the LayerNorm
//                  affine folded in (LN_affine(h) * (1 + scale) + shift == LN(h) * multiplier + shift); the last
//                  entry is the final layer's [1 + scale, shift, unused]. Any strides with contiguous features:
//                  prepare_sampling passes a permuted view of its GEMM's (S, N, depth + 1, 3 * W) output.
//   coefficients   (S, 7) in loop order: sqrt(1/abar), sqrt(1/abar - 1), x0 coef, x coef, log beta,
//                  clipped log posterior variance, fixed std (used when learned_variance is false).
//   weights        input Linear (W, C), hidden Linears [W1_0, W2_0, W1_1, ...] (W, W), output Linear (2C, W).
//   packed hidden  empty (sgemm), or the hidden weights packed once (uva_kit/ops/packed_linear.py) either for
//                  oneDNN (the GEMMs run as mkldnn::_linear_pointwise) or in 16-output panels (uva_kit::
//                  pack_linear_panels, run on csrc/panel_linear.cpp); both beat sgemm here, panels at 16 and 32
//                  rows (benchmarks/RESULTS.md). Up to kSmallBatchMaxRows rows the GEMMs run on
//                  csrc/small_batch_linear.cpp instead (faster still), which reads the plain weights.
// Per iteration: h = W_in x + b; per block h += gate * W2 SiLU(W1 (LN(h) * mult + shift) + b1) + b2;
// [eps, v] = W_out (LN(h) * mult_f + shift_f) + b_out; x0 = clamp(a x - b eps); x = c1 x0 + c2 x + std * scale * z.
#include "adaln_sample.h"
#include "cpu_vectors.h"
#include "panel_linear.h"
#include "small_batch_linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace uva_kit {
namespace {

// out[r] = LN(h[r]) * mult[r] + shift[r], LN without affine, statistics in double.
void modulate_rows(const float* h, const float* mod, int64_t mod_stride, float* out, int64_t rows, int64_t width) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* hr = h + r * width;
      double mean = 0.0;
      for (int64_t i = 0; i < width; ++i) mean += hr[i];
      mean /= static_cast<double>(width);
      double var = 0.0;
      for (int64_t i = 0; i < width; ++i) {
        const double d = hr[i] - mean;
        var += d * d;
      }
      var /= static_cast<double>(width);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(var + kLayerNormEps));
      const float meanf = static_cast<float>(mean);
      const float* mult = mod + r * mod_stride;
      const float* shift = mult + width;
      float* o = out + r * width;
      for (int64_t i = 0; i < width; ++i) o[i] = (hr[i] - meanf) * inv_std * mult[i] + shift[i];
    }
  });
}

// h[r] += gate[r] * update[r]
void gated_residual(float* h, const float* gate, int64_t gate_stride, const float* update, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gate + r * gate_stride;
    for (int64_t i = 0; i < width; ++i) h[r * width + i] += g[i] * update[r * width + i];
  }
}

// out = x W^T + b with W packed for oneDNN (mkldnn::_linear_pointwise, called boxed: one schema lookup per process).
at::Tensor packed_linear(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& bias) {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  torch::jit::Stack stack{x, packed, bias, std::string("none"), c10::List<std::optional<at::Scalar>>(), std::string()};
  op.callBoxed(&stack);
  return stack[0].toTensor();
}

void denoise_update(float* x, const float* out, const float* coef, const float* noise, int64_t rows, int64_t channels,
                    bool clamp_x0, bool learned_variance, float noise_scale) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      const float xv = x[r * channels + c];
      const float eps = out[r * 2 * channels + c];
      float x0 = coef[kSqrtRecip] * xv - coef[kSqrtRecipM1] * eps;
      if (clamp_x0) x0 = std::min(1.0f, std::max(-1.0f, x0));
      float next = coef[kX0Coef] * x0 + coef[kXCoef] * xv;
      if (noise != nullptr) {
        float std_dev = coef[kFixedStd];
        if (learned_variance) {
          const float fraction = (out[r * 2 * channels + channels + c] + 1.0f) / 2.0f;
          std_dev = std::exp(0.5f * (fraction * coef[kLogBeta] + (1.0f - fraction) * coef[kLogVarianceLow]));
        }
        next += std_dev * noise_scale * noise[r * channels + c];
      }
      x[r * channels + c] = next;
    }
  }
}

}  // namespace

at::Tensor adaln_sample_cpu(const std::optional<at::Tensor>& noise_in, std::optional<at::Generator> generator,
                            const at::Tensor& modulations_in, const at::Tensor& coefficients_in,
                            const at::Tensor& input_weight, const at::Tensor& input_bias,
                            at::TensorList hidden_weights, at::TensorList hidden_biases, const at::Tensor& output_weight,
                            const at::Tensor& output_bias, at::TensorList packed_hidden_weights, bool clamp_x0,
                            bool learned_variance, double noise_scale) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  TORCH_CHECK(modulations_in.device().is_cpu(), "uva_kit::adaln_sample (CPU): tensors must be on the CPU");
  const auto [steps, rows, width, channels, depth] =
      check_adaln_sample_inputs(noise_in, modulations_in, coefficients_in, input_weight, input_bias, hidden_weights,
                                hidden_biases, output_weight, output_bias);
  TORCH_CHECK(packed_hidden_weights.empty() || packed_hidden_weights.size() == hidden_weights.size(),
              "uva_kit::adaln_sample: packed_hidden_weights must be empty or hold all ", hidden_weights.size(),
              " hidden weights, got ", packed_hidden_weights.size());
  const bool packed = !packed_hidden_weights.empty();
  const bool panels = packed && packed_hidden_weights[0].layout() == at::kStrided;
  TORCH_CHECK(!panels || avx512_kernels_enabled(), "uva_kit::adaln_sample: hidden weights in panels run on AVX-512, "
              "and this process runs ATen's ", at::get_cpu_capability(), " kernels; pass oneDNN packs or none "
              "(uva_kit.sampler.restructured.prepare_sampling picks them)");
  for (const auto& weight : packed_hidden_weights) {
    TORCH_CHECK(!panels || is_linear_panels(weight, width, width),
                "uva_kit::adaln_sample: packed_hidden_weights must all be oneDNN packs or all (width / 16, width, 16) "
                "float32 panels from uva_kit::pack_linear_panels; got ", weight.sizes(), " (", weight.layout(), ")");
  }
  const auto options = modulations_in.options();
  const PreparedSample prepared = prepare_adaln_sample({steps, rows, width, channels, depth}, noise_in, generator,
                                                       modulations_in, coefficients_in, input_weight, hidden_weights,
                                                       output_weight, /*strided_modulations=*/true);
  const at::Tensor& noise = prepared.noise;
  const at::Tensor& modulations = prepared.modulations;
  const at::Tensor& coefficients = prepared.coefficients;
  const at::Tensor& input_t = prepared.input_t;
  const at::Tensor& output_t = prepared.output_t;
  const std::vector<at::Tensor>& hidden_t = prepared.hidden_t;

  at::Tensor x = noise[0].clone();
  at::Tensor h = at::empty({rows, width}, options);
  at::Tensor modulated = at::empty({rows, width}, options);
  at::Tensor hidden = at::empty({rows, width}, options);
  at::Tensor out = at::empty({rows, 2 * channels}, options);
  const float* mod_base = modulations.data_ptr<float>();
  const float* coef_base = coefficients.data_ptr<float>();
  const float* noise_base = noise.data_ptr<float>();
  const int64_t mod_row = modulations.stride(2);
  const auto block_offset = [&](int64_t block, int64_t step) {
    return block * modulations.stride(0) + step * modulations.stride(1);
  };

  const bool small_batch = small_batch_linear_fits(rows, width, width);
  std::vector<at::Tensor> hidden_weights_c, hidden_biases_c;
  for (size_t i = 0; i < hidden_weights.size(); ++i) {
    hidden_weights_c.push_back(hidden_weights[i].contiguous());
    hidden_biases_c.push_back(hidden_biases[i].contiguous());
  }

  // out = in W_index^T + b_index: the small-batch kernel or the panel kernel into out, oneDNN on the packed
  // weight (a fresh tensor), else sgemm into out.
  const auto hidden_linear = [&](at::Tensor& out, const at::Tensor& in, int64_t index) {
    if (small_batch) {
      small_batch_linear(in.data_ptr<float>(), hidden_weights_c[index].data_ptr<float>(),
                         hidden_biases_c[index].data_ptr<float>(), out.data_ptr<float>(), rows, width, width);
    } else if (panels) {
      panel_linear(in.data_ptr<float>(), packed_hidden_weights[index].data_ptr<float>(),
                   hidden_biases_c[index].data_ptr<float>(), out.data_ptr<float>(), rows, width, width);
    } else if (packed) {
      out = packed_linear(in, packed_hidden_weights[index], hidden_biases[index]);
    } else {
      at::addmm_out(out, hidden_biases[index], in, hidden_t[index]);
    }
  };

  for (int64_t step = 0; step < steps; ++step) {
    at::addmm_out(h, input_bias, x, input_t);
    for (int64_t block = 0; block < depth; ++block) {
      const float* mod = mod_base + block_offset(block, step);
      modulate_rows(h.data_ptr<float>(), mod, mod_row, modulated.data_ptr<float>(), rows, width);
      hidden_linear(hidden, modulated, 2 * block);
      at::silu_(hidden);  // ATen's vectorized SiLU
      hidden_linear(modulated, hidden, 2 * block + 1);
      gated_residual(h.data_ptr<float>(), mod + 2 * width, mod_row, modulated.data_ptr<float>(), rows, width);
    }
    modulate_rows(h.data_ptr<float>(), mod_base + block_offset(depth, step), mod_row, modulated.data_ptr<float>(), rows,
                  width);
    at::addmm_out(out, output_bias, modulated, output_t);
    const bool last = step == steps - 1;
    denoise_update(x.data_ptr<float>(), out.data_ptr<float>(), coef_base + step * kColumns,
                   last ? nullptr : noise_base + (step + 1) * rows * channels, rows, channels, clamp_x0, learned_variance,
                   static_cast<float>(noise_scale));
  }
  return x;
}

}  // namespace uva_kit

TORCH_LIBRARY_FRAGMENT(uva_kit, m) {
  m.def(
      "adaln_sample(Tensor? noise, Generator? generator, Tensor modulations, Tensor coefficients, Tensor input_weight, "
      "Tensor input_bias, Tensor[] hidden_weights, Tensor[] hidden_biases, Tensor output_weight, Tensor output_bias, "
      "Tensor[] packed_hidden_weights, bool clamp_x0, bool learned_variance, float noise_scale) -> Tensor");
}

TORCH_LIBRARY_IMPL(uva_kit, CPU, m) { m.impl("adaln_sample", &uva_kit::adaln_sample_cpu); }
// With oneDNN-packed weights among the arguments the dispatcher selects the MkldnnCPU key: same kernel.
TORCH_LIBRARY_IMPL(uva_kit, MkldnnCPU, m) { m.impl("adaln_sample", &uva_kit::adaln_sample_cpu); }
// No backward (sampling runs under no_grad): a gradient through it raises instead of being silently unset.
TORCH_LIBRARY_IMPL(uva_kit, Autograd, m) { m.impl("adaln_sample", torch::autograd::autogradNotImplementedFallback()); }
