// Throughput of int32 -> float conversions on this GPU (docs/PERF.md): each
// thread converts 8 independent integer streams per iteration.
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>

template <int kKind>
__global__ void kernel(const int* in, float* out, int iters) {
  int v[8];
  float acc[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = in[threadIdx.x + 32 * i], acc[i] = 0.f;
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      float f;
      if constexpr (kKind == 0) {        // cvt.rn.f32.s32
        f = __int2float_rn(v[i]);
      } else if constexpr (kKind == 1) { // magic: IADD + FADD
        f = __int_as_float(v[i] + 0x4B400000) - 12582912.0f;
      } else if constexpr (kKind == 2) { // FADD only (reference)
        f = __int_as_float(v[i]) + 1.0f;
      } else if constexpr (kKind == 3) { // cvt + ex2: do they share a pipe?
        float e;
        asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(__int2float_rn(v[i]) * 1e-9f));
        f = e;
      } else {                           // magic + ex2
        float e;
        asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"((__int_as_float(v[i] + 0x4B400000) - 12582912.0f) * 1e-9f));
        f = e;
      }
      acc[i] += f;  // one FADD each, keeps the conversion live
      v[i] += 3;
    }
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) s += acc[i];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

template <int kKind>
double run(const int* in, float* out, int sms) {
  const int iters = 1 << 14, blocks = sms * 8, threads = 256;
  kernel<kKind><<<blocks, threads>>>(in, out, iters);
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  cudaEventRecord(a);
  kernel<kKind><<<blocks, threads>>>(in, out, iters);
  cudaEventRecord(b);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  return double(blocks) * threads * iters * 8 / (ms * 1e-3);  // conversions per second
}

int main() {
  int sms = 0, clk = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0);
  int* in;
  float* out;
  cudaMalloc(&in, 1024 * sizeof(int));
  cudaMemset(in, 0, 1024 * sizeof(int));
  cudaMalloc(&out, sms * 8 * 256 * sizeof(float));
  const double per_clk = sms * (clk * 1e3);
  const char* names[] = {"cvt.rn.f32.s32 + FADD", "magic IADD+FADD + FADD", "FADD + FADD",
                         "cvt + FMUL + ex2 + FADD", "magic + FMUL + ex2 + FADD"};
  double r[5] = {run<0>(in, out, sms), run<1>(in, out, sms), run<2>(in, out, sms),
                 run<3>(in, out, sms), run<4>(in, out, sms)};
  for (int k = 0; k < 5; ++k)
    printf("{\"kind\":\"%s\",\"per_s\":%.4g,\"per_sm_clk_at_max\":%.1f}\n", names[k], r[k], r[k] / per_clk);
  return 0;
}
