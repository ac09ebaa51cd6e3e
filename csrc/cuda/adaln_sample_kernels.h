// C ABI of the CUDA kernels of the fused sampling loop (pure CUDA, no torch headers, so nvcc can
// compile-check them anywhere). The torch binding is adaln_sample_cuda.cpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

extern "C" {

// Per row r: if update != nullptr, h[r] += gate[r] * update[r] (written back); then
// out[r] = LN(h[r]) * mod[r][0:width] + mod[r][width:2 width] (LN without affine, eps 1e-6).
// gate and mod rows are mod_stride floats apart.
cudaError_t uva_kit_residual_modulate(float* h, const float* gate, const float* update, const float* mod,
                                      int64_t mod_stride, float* out, int64_t rows, int64_t width, cudaStream_t stream);

// The denoising update of uva_kit/sampler/update.py on x (rows, channels) from out = [eps | v] (rows, 2 channels),
// with the 7 coefficients of this step read from device memory (coef); noise == nullptr means the last step.
cudaError_t uva_kit_denoise_update(float* x, const float* out, const float* coef, const float* noise, int64_t rows,
                                   int64_t channels, int clamp_x0, int learned_variance, float noise_scale,
                                   cudaStream_t stream);
}
