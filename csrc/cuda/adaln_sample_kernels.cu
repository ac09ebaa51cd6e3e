// CUDA kernels of the fused sampling loop: the elementwise and row-wise phases between the GEMMs.
// One step launches: input GEMM, residual_modulate, then per block [W1 GEMM, SiLU, W2 GEMM,
// residual_modulate], output GEMM, denoise_update: 4 * depth + 4 launches with no host sync and no
// host-to-device copy, so the whole loop can be captured in one CUDA graph.
#include "adaln_sample_kernels.h"

#include <cuda_runtime.h>

namespace {

constexpr int kThreads = 256;
constexpr float kLayerNormEps = 1e-6f;
enum Column { kSqrtRecip, kSqrtRecipM1, kX0Coef, kXCoef, kLogBeta, kLogVarianceLow, kFixedStd };

__device__ float block_sum(float value, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  value = threadIdx.x < blockDim.x / 32 ? scratch[threadIdx.x] : 0.0f;
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
    if (lane == 0) scratch[0] = value;
  }
  __syncthreads();
  const float total = scratch[0];
  __syncthreads();
  return total;
}

__global__ void residual_modulate_kernel(float* h, const float* gate, const float* update, const float* mod,
                                         int64_t mod_stride, float* out, int64_t width) {
  __shared__ float scratch[kThreads / 32];
  const int64_t row = blockIdx.x;
  float* hr = h + row * width;
  const float* mod_row = mod + row * mod_stride;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    float value = hr[i];
    if (update != nullptr) {
      value += gate[row * mod_stride + i] * update[row * width + i];
      hr[i] = value;
    }
    sum += value;
  }
  const float mean = block_sum(sum, scratch) / static_cast<float>(width);
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    const float d = hr[i] - mean;
    squares += d * d;
  }
  const float inv_std = rsqrtf(block_sum(squares, scratch) / static_cast<float>(width) + kLayerNormEps);
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    out[row * width + i] = (hr[i] - mean) * inv_std * mod_row[i] + mod_row[width + i];
  }
}

__global__ void denoise_update_kernel(float* x, const float* out, const float* coef, const float* noise, int64_t rows,
                                      int64_t channels, int clamp_x0, int learned_variance, float noise_scale) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= rows * channels) return;
  const int64_t row = index / channels;
  const int64_t channel = index % channels;
  const float xv = x[index];
  const float eps = out[row * 2 * channels + channel];
  float x0 = coef[kSqrtRecip] * xv - coef[kSqrtRecipM1] * eps;
  if (clamp_x0) x0 = fminf(1.0f, fmaxf(-1.0f, x0));
  float next = coef[kX0Coef] * x0 + coef[kXCoef] * xv;
  if (noise != nullptr) {
    float std_dev = coef[kFixedStd];
    if (learned_variance) {
      const float fraction = (out[row * 2 * channels + channels + channel] + 1.0f) / 2.0f;
      std_dev = expf(0.5f * (fraction * coef[kLogBeta] + (1.0f - fraction) * coef[kLogVarianceLow]));
    }
    next += std_dev * noise_scale * noise[index];
  }
  x[index] = next;
}

}  // namespace

extern "C" cudaError_t uva_kit_residual_modulate(float* h, const float* gate, const float* update, const float* mod,
                                                 int64_t mod_stride, float* out, int64_t rows, int64_t width,
                                                 cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  residual_modulate_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(h, gate, update, mod, mod_stride, out,
                                                                                 width);
  return cudaGetLastError();
}

extern "C" cudaError_t uva_kit_denoise_update(float* x, const float* out, const float* coef, const float* noise,
                                              int64_t rows, int64_t channels, int clamp_x0, int learned_variance,
                                              float noise_scale, cudaStream_t stream) {
  const int64_t count = rows * channels;
  if (count == 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((count + kThreads - 1) / kThreads);
  denoise_update_kernel<<<blocks, kThreads, 0, stream>>>(x, out, coef, noise, rows, channels, clamp_x0,
                                                         learned_variance, noise_scale);
  return cudaGetLastError();
}
