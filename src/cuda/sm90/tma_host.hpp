// Host-side encoding of TMA tensor maps (cuTensorMapEncodeTiled, reached
// through the runtime's driver entry point, so intfa links no driver library).
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>

namespace intfa::cuda::sm90 {

// A 4-d int8 tensor: dims[0] innermost (contiguous), strides_bytes[i] the
// stride of dims[i + 1]. Box `box` (elements per dim) lands in shared memory
// densely, innermost first, with `swizzle_bytes` (64 or 128) swizzling.
// Returns false with the reason when the driver refuses (alignment, strides).
bool encode_tensor_map_4d(CUtensorMap* map, const void* base, const uint64_t (&dims)[4],
                          const uint64_t (&strides_bytes)[3], const uint32_t (&box)[4],
                          int swizzle_bytes, std::string* why);

}  // namespace intfa::cuda::sm90
