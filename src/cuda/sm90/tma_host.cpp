#include "sm90/tma_host.hpp"

#include <cuda_runtime.h>
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled

#include <mutex>

namespace intfa::cuda::sm90 {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encoder(std::string* why) {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    const cudaError_t e =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault,
                                         &status);
    if (e != cudaSuccess || status != cudaDriverEntryPointSuccess || ptr == nullptr) {
      (void)cudaGetLastError();
      error = "the CUDA driver does not provide cuTensorMapEncodeTiled (needs a CUDA 12 driver)";
      return;
    }
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  });
  if (fn == nullptr && why != nullptr) *why = error;
  return fn;
}

}  // namespace

bool encode_tensor_map_4d(CUtensorMap* map, const void* base, const uint64_t (&dims)[4],
                          const uint64_t (&strides_bytes)[3], const uint32_t (&box)[4],
                          int swizzle_bytes, std::string* why) {
  const auto fn = encoder(why);
  if (fn == nullptr) return false;
  cuuint64_t global_dims[4], global_strides[3];
  cuuint32_t box_dims[4], element_strides[4] = {1, 1, 1, 1};
  for (int i = 0; i < 4; ++i) global_dims[i] = dims[i], box_dims[i] = box[i];
  // A dimension of extent 1 is never stepped: give it a stride the encoder
  // accepts (multiple of 16, at least the extent below it) whatever the caller's.
  uint64_t below = dims[0];
  for (int i = 0; i < 3; ++i) {
    global_strides[i] = dims[i + 1] == 1 ? (below + 15) / 16 * 16 : strides_bytes[i];
    below = global_strides[i] * dims[i + 1];
  }
  const CUresult r = fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, const_cast<void*>(base), global_dims,
                        global_strides, box_dims, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                        swizzle_bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B,
                        CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    if (why != nullptr)
      *why = "cuTensorMapEncodeTiled refused the tensor (error " + std::to_string(static_cast<int>(r)) +
             "): the TMA needs a 16-byte aligned base and strides that are multiples of 16 bytes";
    return false;
  }
  return true;
}

}  // namespace intfa::cuda::sm90
