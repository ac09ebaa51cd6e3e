// CUDA implementation of uva_kit::adaln_sample (contract: csrc/adaln_sample.cpp). GEMMs go through ATen
// (cuBLAS) on the current stream; the phases between them are the kernels of adaln_sample_kernels.cu.
// Built only by a CUDAExtension (setup.py, when torch has CUDA).
#include "../adaln_sample.h"
#include "adaln_sample_kernels.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <optional>
#include <vector>

namespace uva_kit {

at::Tensor adaln_sample_cuda(const std::optional<at::Tensor>& noise_in, std::optional<at::Generator> generator,
                             const at::Tensor& modulations_in, const at::Tensor& coefficients_in,
                             const at::Tensor& input_weight, const at::Tensor& input_bias,
                             at::TensorList hidden_weights, at::TensorList hidden_biases,
                             const at::Tensor& output_weight, const at::Tensor& output_bias,
                             at::TensorList packed_hidden_weights, bool clamp_x0, bool learned_variance,
                             double noise_scale) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  TORCH_CHECK(modulations_in.is_cuda(), "uva_kit::adaln_sample (CUDA): tensors must be on a CUDA device");
  TORCH_CHECK(packed_hidden_weights.empty(), "uva_kit::adaln_sample (CUDA): packed_hidden_weights are a CPU option; "
              "pass an empty list");
  const auto shape = check_adaln_sample_inputs(noise_in, modulations_in, coefficients_in, input_weight, input_bias,
                                               hidden_weights, hidden_biases, output_weight, output_bias);
  const int64_t steps = shape.steps, rows = shape.rows, width = shape.width, channels = shape.channels;
  const int64_t depth = shape.depth;
  const c10::cuda::CUDAGuard guard(modulations_in.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const auto options = modulations_in.options();
  const PreparedSample prepared = prepare_adaln_sample({steps, rows, width, channels, depth}, noise_in, generator,
                                                       modulations_in, coefficients_in, input_weight, hidden_weights,
                                                       output_weight);
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
  at::Tensor update = at::empty({rows, width}, options);
  at::Tensor out = at::empty({rows, 2 * channels}, options);
  const float* mod_base = modulations.data_ptr<float>();
  const int64_t mod_row = 3 * width;
  const auto block_mod = [&](int64_t block, int64_t step) { return mod_base + ((block * steps + step) * rows) * mod_row; };

  for (int64_t step = 0; step < steps; ++step) {
    at::addmm_out(h, input_bias, x, input_t);
    C10_CUDA_CHECK(uva_kit_residual_modulate(h.data_ptr<float>(), nullptr, nullptr, block_mod(0, step), mod_row,
                                             modulated.data_ptr<float>(), rows, width, stream));
    for (int64_t block = 0; block < depth; ++block) {
      at::addmm_out(hidden, hidden_biases[2 * block], modulated, hidden_t[2 * block]);
      at::silu_(hidden);
      at::addmm_out(update, hidden_biases[2 * block + 1], hidden, hidden_t[2 * block + 1]);
      // this block's gated residual, then the next block's (or the final layer's) modulation
      C10_CUDA_CHECK(uva_kit_residual_modulate(h.data_ptr<float>(), block_mod(block, step) + 2 * width,
                                               update.data_ptr<float>(), block_mod(block + 1, step), mod_row,
                                               modulated.data_ptr<float>(), rows, width, stream));
    }
    at::addmm_out(out, output_bias, modulated, output_t);
    const bool last = step == steps - 1;
    C10_CUDA_CHECK(uva_kit_denoise_update(
        x.data_ptr<float>(), out.data_ptr<float>(), coefficients.data_ptr<float>() + step * kColumns,
        last ? nullptr : noise.data_ptr<float>() + (step + 1) * rows * channels, rows, channels, clamp_x0,
        learned_variance, static_cast<float>(noise_scale), stream));
  }
  return x;
}

}  // namespace uva_kit

TORCH_LIBRARY_IMPL(uva_kit, CUDA, m) { m.impl("adaln_sample", &uva_kit::adaln_sample_cuda); }
