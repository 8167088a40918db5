// The CUDA back-end entry points (src/core/backend_dispatch.hpp): device and
// pointer queries, stream-ordered scratch, the support checks and the launch
// of the attention kernels. Quantization lives in quantize.cu.
//
// Two kernel families: the Hopper wgmma kernel (sm90/, interleaved16 V̂ᵀ,
// fixed key block per head dim) and the mma.sync kernel (sm80/, natural V̂ᵀ,
// any listed key block). V̂ᵀ's token order selects the family; the quantizers
// write the order of the fastest kernel that supports the call
// (default_vt_order / vt_order_for). INTFA_CUDA_KERNEL=sm80 in the
// environment makes the defaults pick the mma.sync kernel on Hopper too.
#include <cuda_runtime.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/cuda_check.hpp"
#include "common/finite_check.hpp"
#include "core/backend_dispatch.hpp"
#include "cuda_internal.hpp"
#include "sm90/tma_host.hpp"

namespace intfa::cuda_backend {
namespace {

using cuda::AttentionConfig;
using cuda::LoopSchedule;
using cuda::PMode;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(StatusCode::invalid_argument, message);
}

// The kernel mode a recipe (and V's element type) needs, or why there is none.
bool mode_for(const Recipe& r, DType v_dtype, PMode* mode, std::string* why) {
  if (!r.int8_qk()) {
    *why = "recipe " + recipe_name(r) +
           " is a float baseline: the CUDA back-end runs the int8 Q/K recipes (paper, intfa, "
           "half-int8 and their knobs); float baselines run on the CPU back-end";
    return false;
  }
  if (r.int8_v()) {
    if (r.p == PFormat::int8_running_max) return *mode = PMode::int8_running, true;
    if (r.p == PFormat::uint8_block_max) return *mode = PMode::uint8_block, true;
    *why = "recipe " + recipe_name(r) +
           ": with int8 V the CUDA kernels need P as int8 (paper) or uint8 (p-u8)";
    return false;
  }
  if (r.v == VFormat::fp16 && r.p == PFormat::fp16) {
    if (v_dtype == DType::f16) return *mode = PMode::f16, true;
    if (v_dtype == DType::bf16) return *mode = PMode::bf16, true;
    *why = std::string("recipe half-int8 on the CUDA back-end needs fp16 or bf16 V (got ") +
           dtype_name(v_dtype) + ")";
    return false;
  }
  *why = "recipe " + recipe_name(r) +
         " is not supported by the CUDA back-end (supported: int8 V with P int8 or uint8, or "
         "fp16/bf16 V with fp16 P)";
  return false;
}

std::vector<const AttentionConfig*> configs_for(int64_t head_dim, PMode mode) {
  int n = 0;
  const AttentionConfig* all = cuda::attention_configs(&n);
  std::vector<const AttentionConfig*> out;
  for (int i = 0; i < n; ++i)
    if (all[i].head_dim == head_dim && all[i].mode == mode) out.push_back(&all[i]);
  return out;
}

std::string supported_head_dims() {
  int n = 0;
  const AttentionConfig* all = cuda::attention_configs(&n);
  std::vector<int> dims;
  for (int i = 0; i < n; ++i) {
    bool seen = false;
    for (int d : dims) seen = seen || d == all[i].head_dim;
    if (!seen) dims.push_back(all[i].head_dim);
  }
  std::string s;
  for (int d : dims) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return s;
}

const AttentionConfig& select(const AttentionParams& p, PMode* mode_out) {
  PMode mode{};
  std::string why;
  if (p.qk_dtype != DType::i8)
    cuda::unsupported("the CUDA back-end needs int8 Q̂ and K̂ (got " +
                      std::string(dtype_name(p.qk_dtype)) + ")");
  if (!mode_for(p.recipe, p.v_dtype, &mode, &why)) cuda::unsupported(why);
  if (p.recipe.int8_v() && p.v_dtype != DType::i8)
    cuda::unsupported("int8 V recipes need V̂ᵀ as int8");
  const auto candidates = configs_for(p.head_dim, mode);
  if (candidates.empty())
    cuda::unsupported("head dim " + std::to_string(p.head_dim) +
                      " is not supported by the CUDA back-end (supported: " +
                      supported_head_dims() + ")");
  // Tuning knobs for tests and benchmarks, when several kernels share a key
  // block (same results, different speed): INTFA_CUDA_WARPS=4|8 and
  // INTFA_CUDA_SCHEDULE=plain|pipelined prefer that CTA size / that
  // loop schedule (kernel_traits.hpp).
  static const int want_warps = [] {
    const char* env = std::getenv("INTFA_CUDA_WARPS");
    return env ? std::atoi(env) : 0;
  }();
  static const int want_schedule = [] {
    const char* env = std::getenv("INTFA_CUDA_SCHEDULE");
    if (env == nullptr || *env == '\0') return -1;
    for (LoopSchedule s : {LoopSchedule::plain, LoopSchedule::pipelined})
      if (std::string(env) == cuda::schedule_name(s)) return static_cast<int>(s);
    return -2;
  }();
  if (want_schedule == -2)
    invalid(std::string("INTFA_CUDA_SCHEDULE=") + std::getenv("INTFA_CUDA_SCHEDULE") +
            " is not a loop schedule (plain or pipelined)");
  auto score = [&](const AttentionConfig* c) {
    return (want_warps > 0 && c->threads == 32 * want_warps ? 2 : 0) +
           (want_schedule >= 0 && static_cast<int>(c->schedule) == want_schedule ? 1 : 0);
  };
  const AttentionConfig* chosen = nullptr;
  std::string blocks;
  for (const AttentionConfig* c : candidates) {
    if (c->block_n == p.kv_block && (chosen == nullptr || score(c) > score(chosen))) chosen = c;
    const std::string b = std::to_string(c->block_n);
    if (blocks.find(b) == std::string::npos) blocks += (blocks.empty() ? "" : ", ") + b;
  }
  if (chosen != nullptr) {
    *mode_out = mode;
    return *chosen;
  }
  cuda::unsupported("kv_block " + std::to_string(p.kv_block) +
                    " is not supported by the CUDA kernel for head dim " +
                    std::to_string(p.head_dim) + " and " + cuda::pmode_name(mode) +
                    ": its key block is " + blocks +
                    " (kv_block sets the granularity of P's quantization and of the "
                    "rescaling, so a kernel cannot emulate another value; pass 0 for the "
                    "default)");
}

void check_device_memory(const void* ptr, const char* name) {
  if (ptr != nullptr && !is_device_pointer(ptr))
    invalid(std::string(name) +
            " is host memory, but the CUDA back-end needs device pointers");
}

bool aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

// 16-byte rows for cp.async: pointer and every stride (in bytes) multiples of 16.
void check_rows16(const char* name, const void* ptr, int64_t elem_bytes, int64_t sb, int64_t ss,
                  int64_t sh) {
  if (!aligned(ptr, 16) || (sb * elem_bytes) % 16 != 0 || (ss * elem_bytes) % 16 != 0 ||
      (sh * elem_bytes) % 16 != 0)
    cuda::unsupported(std::string(name) +
                      " must be 16-byte aligned with batch, row and head strides that are "
                      "multiples of 16 bytes (the CUDA kernel copies 16-byte chunks with "
                      "cp.async); got pointer offset " +
                      std::to_string(reinterpret_cast<uintptr_t>(ptr) % 16) + " and strides " +
                      std::to_string(sb * elem_bytes) + ", " + std::to_string(ss * elem_bytes) +
                      ", " + std::to_string(sh * elem_bytes) + " bytes");
}

int current_device() {
  int device = 0;
  INTFA_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// ---- the Hopper kernel ----------------------------------------------------------------

// INTFA_CUDA_KERNEL: unset, "auto" or "sm90" = the fastest kernel, "sm80" =
// the mma.sync kernel. Any other value is an error rather than a silent
// default, so a misspelt experiment does not measure the wrong kernel.
bool forced_sm80() {
  const char* env = std::getenv("INTFA_CUDA_KERNEL");
  const std::string v = env != nullptr ? env : "";
  if (v.empty() || v == "auto" || v == "sm90") return false;
  if (v == "sm80") return true;
  invalid("INTFA_CUDA_KERNEL=" + v + " is not a kernel choice (auto, sm90 or sm80)");
}

// Compute capability 9.0 (H100, H200) on the current device.
// Asked several times per attention call (defaults, support check, launch):
// the answer is cached per device (0 unknown, 1 no, 2 yes).
bool device_is_sm90() {
  static std::atomic<int8_t> known[64] = {};
  const int device = current_device();
  if (device >= 0 && device < 64 && known[device].load() != 0) return known[device].load() == 2;
  int major = 0, minor = 0;
  INTFA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  INTFA_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  const bool yes = major == 9 && minor == 0;
  if (device >= 0 && device < 64) known[device].store(yes ? 2 : 1);
  return yes;
}

// The Hopper kernel for (head dim, P format) with `kv_block` keys per block
// (0: the default, the first listed in INTFA_CUDA_SM90_CONFIGS), or null.
const cuda::Sm90Config* sm90_config(int64_t head_dim, PMode mode, int32_t kv_block) {
#ifdef INTFA_HAVE_SM90
  // INTFA_SM90_CONSUMERS=2|3 prefers that many consumer warpgroups when a
  // tuning build instantiates both (the default key block may change with it).
  static const int want_consumers = [] {
    const char* env = std::getenv("INTFA_SM90_CONSUMERS");
    return env ? std::atoi(env) : 0;
  }();
  int n = 0;
  const cuda::Sm90Config* all = cuda::sm90_configs(&n);
  const cuda::Sm90Config* found = nullptr;
  for (int i = 0; i < n; ++i)
    if (all[i].head_dim == head_dim && all[i].mode == mode &&
        (kv_block == 0 || all[i].block_n == kv_block) &&
        (found == nullptr || (all[i].threads == 128 * (1 + want_consumers) &&
                              found->threads != 128 * (1 + want_consumers))))
      found = &all[i];
  if (found != nullptr) return found;
#else
  (void)head_dim, (void)mode, (void)kv_block;
#endif
  return nullptr;
}

// The Hopper kernel for (head dim, recipe) on this device when defaults may
// pick it (built, sm_90, not forced to sm80), else null.
const cuda::Sm90Config* sm90_default(const Recipe& recipe, int64_t head_dim) {
  PMode mode{};
  std::string why;
  if (!available() || forced_sm80() || !mode_for(recipe, DType::i8, &mode, &why)) return nullptr;
  if (mode != PMode::uint8_block && mode != PMode::int8_running) return nullptr;
  const cuda::Sm90Config* c = sm90_config(head_dim, mode, 0);
  return c != nullptr && device_is_sm90() ? c : nullptr;
}

// Encodes the three tensor maps; false with the reason if the TMA cannot
// address an operand. Null operands (not yet allocated) are skipped.
bool encode_sm90_maps(const AttentionParams& p, const cuda::Sm90Config& c, cuda::sm90::Params* out,
                      std::string* why) {
  const auto u = [](int64_t x) { return static_cast<uint64_t>(x); };
  const uint32_t panel = static_cast<uint32_t>(c.qk_swizzle);
  if (p.q != nullptr &&
      !cuda::sm90::encode_tensor_map_4d(
          &out->tma_q, p.q, {u(p.head_dim), u(p.heads), u(p.seqlen_q), u(p.batch)},
          {u(p.q_head_stride), u(p.q_row_stride), u(p.q_batch_stride)},
          {panel, 1, static_cast<uint32_t>(c.block_m), 1}, c.qk_swizzle, why))
    return *why = "Q̂: " + *why, false;
  if (p.k != nullptr &&
      !cuda::sm90::encode_tensor_map_4d(
          &out->tma_k, p.k, {u(p.head_dim), u(p.kv_heads), u(p.seqlen_k), u(p.batch)},
          {u(p.k_head_stride), u(p.k_row_stride), u(p.k_batch_stride)},
          {panel, 1, static_cast<uint32_t>(c.k_box_rows), 1}, c.qk_swizzle, why))
    return *why = "K̂: " + *why, false;
  if (p.v != nullptr &&
      !cuda::sm90::encode_tensor_map_4d(
          &out->tma_v, p.v, {u(p.v_seq_padded), u(p.head_dim), u(p.kv_heads), u(p.batch)},
          {u(p.v_row_stride), u(p.v_head_stride), u(p.v_batch_stride)},
          {static_cast<uint32_t>(c.v_swizzle), static_cast<uint32_t>(c.v_box_rows), 1, 1}, c.v_swizzle,
          why))
    return *why = "V̂ᵀ: " + *why, false;
  return true;
}

// The Hopper kernel that runs `p` (whatever p.v_token_order says), or null
// with the reason.
const cuda::Sm90Config* sm90_select(const AttentionParams& p, cuda::sm90::Params* maps,
                                    std::string* why) {
#ifndef INTFA_HAVE_SM90
  *why = "intfa was built without the Hopper kernels (CMAKE_CUDA_ARCHITECTURES lacks 90a)";
  return nullptr;
#else
  if (!device_is_sm90()) return *why = "the Hopper kernel needs a compute capability 9.0 GPU", nullptr;
  PMode mode{};
  if (p.qk_dtype != DType::i8 || !mode_for(p.recipe, p.v_dtype, &mode, why)) {
    if (why->empty()) *why = "the Hopper kernel needs int8 Q̂ and K̂";
    return nullptr;
  }
  if (mode != PMode::uint8_block && mode != PMode::int8_running)
    return *why = "the Hopper kernel runs the full-int8 recipes (paper, intfa)", nullptr;
  const cuda::Sm90Config* c = sm90_config(p.head_dim, mode, p.kv_block);
  if (c == nullptr) {
    std::string blocks;
    int n = 0;
    const cuda::Sm90Config* all = cuda::sm90_configs(&n);
    for (int i = 0; i < n; ++i)
      if (all[i].head_dim == p.head_dim && all[i].mode == mode)
        blocks += (blocks.empty() ? "" : " or ") + std::to_string(all[i].block_n);
    *why = blocks.empty() ? "the Hopper kernel has no instantiation for head dim " +
                                std::to_string(p.head_dim) + " and " + cuda::pmode_name(mode)
                          : "the Hopper kernel for head dim " + std::to_string(p.head_dim) +
                                " and " + cuda::pmode_name(mode) + " uses kv_block " + blocks +
                                " (asked: " + std::to_string(p.kv_block) + ")";
    return nullptr;
  }
  cuda::sm90::Params scratch;
  if (!encode_sm90_maps(p, *c, maps != nullptr ? maps : &scratch, why)) return nullptr;
  return c;
#endif
}

cuda::KernelParams kernel_params(const AttentionParams& p, int32_t block_m) {
  cuda::KernelParams k;
  k.q = static_cast<const int8_t*>(p.q);
  k.k = static_cast<const int8_t*>(p.k);
  k.v = p.v;
  k.q_batch_stride = p.q_batch_stride, k.q_row_stride = p.q_row_stride;
  k.q_head_stride = p.q_head_stride;
  k.k_batch_stride = p.k_batch_stride, k.k_row_stride = p.k_row_stride;
  k.k_head_stride = p.k_head_stride;
  k.v_batch_stride = p.v_batch_stride, k.v_row_stride = p.v_row_stride;
  k.v_head_stride = p.v_head_stride;
  k.q_scale = p.q_scale;
  k.k_scale = p.k_scale;
  k.v_scale = p.recipe.int8_v() ? p.v_scale : nullptr;
  k.lse_offset = p.lse_offset;
  k.out = p.out;
  k.o_batch_stride = p.o_batch_stride, k.o_row_stride = p.o_row_stride;
  k.o_head_stride = p.o_head_stride;
  k.out_type = p.out_dtype == DType::f32   ? cuda::OutType::f32
               : p.out_dtype == DType::f16 ? cuda::OutType::f16
                                           : cuda::OutType::bf16;
  k.lse = p.lse;
  k.batch = p.batch, k.heads = p.heads, k.kv_heads = p.kv_heads;
  k.head_ratio = p.heads / p.kv_heads;
  k.seqlen_q = p.seqlen_q, k.seqlen_k = p.seqlen_k;
  k.num_q_blocks = (p.seqlen_q + block_m - 1) / block_m;
  k.score_scale_log2 = p.score_scale_log2;
  k.softmax_scale = p.softmax_scale;
  k.causal = p.causal;
  return k;
}

}  // namespace

bool built() { return true; }

bool available() {
  static const bool visible = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return count > 0;
  }();
  return visible;
}

bool is_device_pointer(const void* ptr) {
  if (ptr == nullptr || !available()) return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

int32_t default_kv_block(const Recipe& recipe, int64_t head_dim) {
  if (const cuda::Sm90Config* c = sm90_default(recipe, head_dim)) return c->block_n;
  PMode mode{};
  std::string why;
  // V's element type only chooses between the f16 and bf16 kernels, which share
  // their key block.
  if (mode_for(recipe, DType::f16, &mode, &why)) {
    const auto candidates = configs_for(head_dim, mode);
    if (!candidates.empty()) return candidates.front()->block_n;
  }
  return 64;  // check_supported explains what is wrong
}

void check_supported(const AttentionParams& p) {
  if (!available())
    throw Error(StatusCode::backend_unavailable,
                "the CUDA back-end was requested but no CUDA device is visible");
  PMode mode{};
  std::string why;
  const cuda::Sm90Config* c90 = nullptr;
  const AttentionConfig* c80 = nullptr;
  if (p.v_token_order == VtOrder::interleaved16) {
    c90 = sm90_select(p, nullptr, &why);
    if (c90 == nullptr)
      cuda::unsupported("V̂ᵀ is in interleaved16 token order, which only the Hopper kernel reads, "
                        "and it cannot run this call: " + why +
                        " (quantize with VtOrder::natural for the mma.sync kernel)");
    mode = c90->mode;
  } else {
    c80 = &select(p, &mode);
  }
  const int32_t block_m = c90 != nullptr ? c90->block_m : c80->block_m;
  const int32_t smem_bytes = c90 != nullptr ? c90->smem_bytes : c80->smem_bytes;
  const bool int8_v = mode == PMode::int8_running || mode == PMode::uint8_block;

  for (auto [ptr, name] : {std::pair<const void*, const char*>{p.q, "q"}, {p.k, "k"},
                           {p.v, "v"}, {p.out, "out"}, {p.q_scale, "q_scale"},
                           {p.k_scale, "k_scale"}, {p.lse, "lse"}, {p.lse_offset, "lse_offset"}})
    check_device_memory(ptr, name);
  if (int8_v) check_device_memory(p.v_scale, "v_scale");
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr || p.out == nullptr ||
      p.q_scale == nullptr || p.k_scale == nullptr || (int8_v && p.v_scale == nullptr))
    invalid("the CUDA attention kernel got a null operand pointer");

  check_rows16("Q̂ (q)", p.q, 1, p.q_batch_stride, p.q_row_stride, p.q_head_stride);
  check_rows16("K̂ (k)", p.k, 1, p.k_batch_stride, p.k_row_stride, p.k_head_stride);
  if (int8_v) {
    check_rows16("V̂ᵀ (vt)", p.v, 1, p.v_batch_stride, p.v_row_stride, p.v_head_stride);
    if (p.v_row_stride < padded_kv_length(p.seqlen_k))
      invalid("V̂ᵀ's channel stride must cover the padded key length " +
              std::to_string(padded_kv_length(p.seqlen_k)));
  } else {
    check_rows16("V (v)", p.v, 2, p.v_batch_stride, p.v_row_stride, p.v_head_stride);
  }
  if (p.out_dtype != DType::f32 && p.out_dtype != DType::f16 && p.out_dtype != DType::bf16)
    invalid("out must be f32, f16 or bf16");
  const int64_t pair = 2 * static_cast<int64_t>(dtype_size(p.out_dtype));
  if (!aligned(p.out, pair) || p.o_batch_stride % 2 != 0 || p.o_row_stride % 2 != 0 ||
      p.o_head_stride % 2 != 0)
    cuda::unsupported("out must be aligned to two elements (" + std::to_string(pair) +
                      " bytes) with even strides: the CUDA kernel stores element pairs");
  for (auto [ptr, name] : {std::pair<const void*, const char*>{p.q_scale, "q_scale"},
                           {p.k_scale, "k_scale"}, {p.v_scale, "v_scale"}, {p.lse, "lse"},
                           {p.lse_offset, "lse_offset"}})
    if (ptr != nullptr && !aligned(ptr, 4)) invalid(std::string(name) + " must be 4-byte aligned");
  if (p.heads % p.kv_heads != 0) invalid("query heads must be a multiple of KV heads");

  const int64_t q_blocks = (static_cast<int64_t>(p.seqlen_q) + block_m - 1) / block_m;
  if (static_cast<int64_t>(p.batch) * p.heads * q_blocks > INT_MAX)
    cuda::unsupported("batch · heads · ceil(Sq / " + std::to_string(block_m) +
                      ") must be at most 2^31 - 1 (one CUDA grid)");
  int optin = 0;
  INTFA_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, current_device()));
  if (smem_bytes > optin)
    cuda::unsupported("the CUDA kernel for head dim " + std::to_string(p.head_dim) + " and " +
                      cuda::pmode_name(mode) + " needs " + std::to_string(smem_bytes) +
                      " bytes of shared memory per block; this GPU offers " +
                      std::to_string(optin));
}

void* allocate(std::size_t bytes, void* stream) {
  void* ptr = nullptr;
  INTFA_CUDA_CHECK(cudaMallocAsync(&ptr, bytes > 0 ? bytes : 1, static_cast<cudaStream_t>(stream)));
  return ptr;
}

// Called from destructors: never throws. A failure here means the stream or
// context is already broken, which the next checked call reports.
void release(void* ptr, void* stream) {
  if (ptr != nullptr && cudaFreeAsync(ptr, static_cast<cudaStream_t>(stream)) != cudaSuccess)
    (void)cudaGetLastError();
}

VtOrder default_vt_order() {
#ifdef INTFA_HAVE_SM90
  if (available() && !forced_sm80() && device_is_sm90()) return VtOrder::interleaved16;
#endif
  return VtOrder::natural;
}

VtOrder vt_order_for(const AttentionParams& p) {
  if (!available() || forced_sm80()) return VtOrder::natural;
  std::string why;
  return sm90_select(p, nullptr, &why) != nullptr ? VtOrder::interleaved16 : VtOrder::natural;
}

bool mma_sync_has_kernel(const AttentionParams& p) {
  PMode mode{};
  std::string why;
  if (p.qk_dtype != DType::i8 || !mode_for(p.recipe, p.v_dtype, &mode, &why)) return false;
  for (const AttentionConfig* c : configs_for(p.head_dim, mode))
    if (c->block_n == p.kv_block) return true;
  return false;
}

void attention(const AttentionParams& p) {
  if (p.v_token_order == VtOrder::interleaved16) {
    cuda::sm90::Params prm;
    std::string why;
    const cuda::Sm90Config* c = sm90_select(p, &prm, &why);
    if (c == nullptr) cuda::unsupported(why);  // check_supported ran first: not reached
    prm.p = kernel_params(p, c->block_m);
    const int64_t ctas = static_cast<int64_t>(prm.p.num_q_blocks) * p.heads * p.batch;
    c->launch(prm, ctas, static_cast<cudaStream_t>(p.stream));
    return;
  }
  PMode mode{};
  const AttentionConfig& c = select(p, &mode);
  const cuda::KernelParams k = kernel_params(p, c.block_m);
  const int64_t ctas = static_cast<int64_t>(k.num_q_blocks) * p.heads * p.batch;
  c.launch(k, ctas, static_cast<cudaStream_t>(p.stream));
}

void begin_deferred_finite_check(void* stream) {
  cuda::begin_deferred_scope(static_cast<cudaStream_t>(stream));
}

void end_deferred_finite_check(void* stream, bool check) {
  cuda::end_deferred_scope(static_cast<cudaStream_t>(stream), check);
}

bool finite_check_deferred() { return cuda::deferred_scope_active(); }

namespace {
struct SideStreamState {
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
};
// Per host thread and device; never destroyed (a stream and two events).
SideStreamState& side_stream_state() {
  thread_local std::vector<SideStreamState> by_device;
  const int device = current_device();
  if (static_cast<int>(by_device.size()) <= device) by_device.resize(static_cast<size_t>(device) + 1);
  SideStreamState& s = by_device[static_cast<size_t>(device)];
  if (s.stream == nullptr) {
    INTFA_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    INTFA_CUDA_CHECK(cudaEventCreateWithFlags(&s.fork, cudaEventDisableTiming));
    INTFA_CUDA_CHECK(cudaEventCreateWithFlags(&s.join, cudaEventDisableTiming));
  }
  return s;
}
}  // namespace

SideStream::SideStream(bool active, void* stream) : main_(stream), side_(stream) {
  if (!active) return;
  SideStreamState& s = side_stream_state();
  INTFA_CUDA_CHECK(cudaEventRecord(s.fork, static_cast<cudaStream_t>(stream)));
  INTFA_CUDA_CHECK(cudaStreamWaitEvent(s.stream, s.fork, 0));
  side_ = s.stream;
  join_event_ = s.join;
}

void SideStream::join() {
  if (join_event_ == nullptr) return;
  const auto event = static_cast<cudaEvent_t>(join_event_);
  join_event_ = nullptr;
  INTFA_CUDA_CHECK(cudaEventRecord(event, static_cast<cudaStream_t>(side_)));
  INTFA_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(main_), event, 0));
}

// Called while an exception unwinds too: never throws (a failure here means
// the context is already broken, which the next checked call reports).
SideStream::~SideStream() {
  if (join_event_ == nullptr) return;
  const auto event = static_cast<cudaEvent_t>(join_event_);
  if (cudaEventRecord(event, static_cast<cudaStream_t>(side_)) != cudaSuccess ||
      cudaStreamWaitEvent(static_cast<cudaStream_t>(main_), event, 0) != cudaSuccess)
    (void)cudaGetLastError();
}

}  // namespace intfa::cuda_backend
