// Peak rate of the tensor-core instructions the mma.sync kernels use, on the
// GPU at hand: back-to-back independent mma.sync in registers (no memory
// traffic). Built and run by bench/gpu.sh:
//   nvcc -O3 -arch=sm_XX bench/mma_peak.cu -o mma_peak && ./mma_peak
// Prints one JSON line per instruction: ops per second (2 per multiply-add).
#include <cuda_runtime.h>

#include <cstdio>

__global__ void __launch_bounds__(256) imma_loop(int iters, int* sink) {
  int acc[8][4] = {};
  unsigned a0 = threadIdx.x, a1 = a0 * 3, a2 = a0 * 5, a3 = a0 * 7, b0 = a0 ^ 0x55, b1 = a0 ^ 0x33;
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j)
      asm volatile(
          "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};\n"
          : "+r"(acc[j][0]), "+r"(acc[j][1]), "+r"(acc[j][2]), "+r"(acc[j][3])
          : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  int s = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += acc[j][0] + acc[j][1] + acc[j][2] + acc[j][3];
  if (s == 0x7fffffff) *sink = s;
}

__global__ void __launch_bounds__(256) hmma_loop(int iters, float* sink) {
  float acc[8][4] = {};
  unsigned a0 = threadIdx.x, a1 = a0 * 3, a2 = a0 * 5, a3 = a0 * 7, b0 = a0 ^ 0x55, b1 = a0 ^ 0x33;
  a0 &= 0x3bff3bffu, a1 &= 0x3bff3bffu, a2 &= 0x3bff3bffu, a3 &= 0x3bff3bffu;
  b0 &= 0x3bff3bffu, b1 &= 0x3bff3bffu;
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j)
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
          "{%8,%9}, {%0,%1,%2,%3};\n"
          : "+f"(acc[j][0]), "+f"(acc[j][1]), "+f"(acc[j][2]), "+f"(acc[j][3])
          : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  float s = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += acc[j][0] + acc[j][1] + acc[j][2] + acc[j][3];
  if (s == 1234.5f) *sink = s;
}

template <typename K, typename S>
double run(K kernel, S* sink, int blocks, int iters, double ops_per_mma) {
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  kernel<<<blocks, 256>>>(iters / 10, sink);  // warm-up, clocks up
  cudaEventRecord(a);
  kernel<<<blocks, 256>>>(iters, sink);
  cudaEventRecord(b);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  const double mmas = static_cast<double>(blocks) * 8 /*warps*/ * iters * 8;
  return mmas * ops_per_mma / (ms * 1e-3);
}

int main() {
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  int* isink;
  float* fsink;
  cudaMalloc(&isink, 4), cudaMalloc(&fsink, 4);
  const int blocks = prop.multiProcessorCount * 4, iters = 20000;
  const double imma = run(imma_loop, isink, blocks, iters, 2.0 * 16 * 8 * 32);
  const double hmma = run(hmma_loop, fsink, blocks, iters, 2.0 * 16 * 8 * 16);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    std::printf("{\"error\": \"%s\"}\n", cudaGetErrorString(e));
    return 1;
  }
  std::printf("{\"method\": \"mma.sync m16n8k32 s8\", \"device\": \"%s\", \"sms\": %d, \"tops\": %.1f}\n",
              prop.name, prop.multiProcessorCount, imma / 1e12);
  std::printf("{\"method\": \"mma.sync m16n8k16 f16.f32\", \"device\": \"%s\", \"sms\": %d, \"tops\": %.1f}\n",
              prop.name, prop.multiProcessorCount, hmma / 1e12);
  return 0;
}
