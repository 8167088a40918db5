// Names, recipe parsing and tensor-view helpers.
#include <string>
#include <vector>

#include "intfa/intfa.hpp"

namespace intfa {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::i8:
    case DType::u8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
  }
  return "unknown";
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::automatic: return "auto";
    case Backend::cpu: return "cpu";
    case Backend::cuda: return "cuda";
  }
  return "unknown";
}

Backend parse_backend(std::string_view name) {
  if (name == "auto") return Backend::automatic;
  if (name == "cpu") return Backend::cpu;
  if (name == "cuda") return Backend::cuda;
  throw Error(StatusCode::invalid_argument,
              "unknown back-end '" + std::string(name) + "' (expected cpu, cuda or auto)");
}

const char* status_name(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid argument";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::nonfinite_input: return "non-finite input";
    case StatusCode::backend_unavailable: return "back-end unavailable";
    case StatusCode::cuda_error: return "CUDA error";
    case StatusCode::internal: return "internal error";
  }
  return "unknown status";
}

// ---- recipes ----------------------------------------------------------------
Recipe Recipe::paper() {
  return {QKFormat::int8_per_token, false, VFormat::int8_per_tensor, PFormat::int8_running_max};
}
Recipe Recipe::intfa() {
  return {QKFormat::int8_per_token, true, VFormat::int8_per_channel, PFormat::uint8_block_max};
}
Recipe Recipe::half_int8() {
  return {QKFormat::int8_per_token, false, VFormat::fp16, PFormat::fp16};
}
Recipe Recipe::fp16() { return {QKFormat::fp16, false, VFormat::fp16, PFormat::fp16}; }
Recipe Recipe::fp8_tensor() {
  return {QKFormat::e4m3_per_tensor, false, VFormat::e4m3_per_tensor, PFormat::e4m3};
}

namespace {

struct NamedRecipe {
  const char* name;
  Recipe (*make)();
};
constexpr NamedRecipe kBases[] = {
    {"intfa", &Recipe::intfa},   {"paper", &Recipe::paper},
    {"half-int8", &Recipe::half_int8}, {"fp16", &Recipe::fp16},
    {"fp8-tensor", &Recipe::fp8_tensor},
};

[[noreturn]] void bad_recipe(std::string_view name, const std::string& why) {
  throw Error(StatusCode::invalid_argument, "bad recipe '" + std::string(name) + "': " + why);
}

void apply_knob(Recipe& r, std::string_view full, std::string_view knob, bool on) {
  if (knob == "smooth-k") {
    if (!r.int8_qk()) bad_recipe(full, "knob smooth-k needs int8 Q/K");
    r.smooth_k = on;
  } else if (knob == "v-channel") {
    if (!r.int8_v()) bad_recipe(full, "knob v-channel needs an int8 V");
    r.v = on ? VFormat::int8_per_channel : VFormat::int8_per_tensor;
  } else if (knob == "p-u8") {
    if (!r.full_int8()) bad_recipe(full, "knob p-u8 needs int8 P and V");
    r.p = on ? PFormat::uint8_block_max : PFormat::int8_running_max;
  } else {
    bad_recipe(full, "unknown knob '" + std::string(knob) +
                         "' (knobs: smooth-k, v-channel, p-u8)");
  }
}

}  // namespace

Recipe parse_recipe(std::string_view name) {
  // Base names contain '-' themselves (half-int8, fp8-tensor): match the
  // longest base that is a prefix followed by the end or a knob sign.
  const NamedRecipe* base = nullptr;
  size_t base_len = 0;
  for (const auto& b : kBases) {
    const std::string_view bn(b.name);
    if (name.substr(0, bn.size()) == bn &&
        (name.size() == bn.size() || name[bn.size()] == '+' || name[bn.size()] == '-') &&
        bn.size() > base_len) {
      base = &b;
      base_len = bn.size();
    }
  }
  if (!base) {
    bad_recipe(name, "unknown base (expected intfa, paper, half-int8, fp16 or fp8-tensor, "
                     "optionally followed by +knob or -knob)");
  }
  Recipe r = base->make();
  size_t pos = base_len;
  while (pos < name.size()) {
    const bool on = name[pos] == '+';
    size_t end = pos + 1;
    // A knob runs until the next '+', or a '-' that starts a known knob.
    while (end < name.size() && name[end] != '+') {
      if (name[end] == '-') {
        const std::string_view rest = name.substr(end + 1);
        if (rest.rfind("smooth-k", 0) == 0 || rest.rfind("v-channel", 0) == 0 ||
            rest.rfind("p-u8", 0) == 0)
          break;
      }
      ++end;
    }
    const std::string_view knob = name.substr(pos + 1, end - pos - 1);
    if (knob.empty()) bad_recipe(name, "empty knob");
    apply_knob(r, name, knob, on);
    pos = end;
  }
  return r;
}

std::string recipe_name(const Recipe& r) {
  for (const auto& b : kBases)
    if (b.make() == r) return b.name;
  if (r.int8_qk()) {
    // Express as the closest base plus knobs.
    const Recipe base = r.int8_v() ? Recipe::paper() : Recipe::half_int8();
    std::string name = r.int8_v() ? "paper" : "half-int8";
    if (r.smooth_k != base.smooth_k) name += r.smooth_k ? "+smooth-k" : "-smooth-k";
    if (r.int8_v() && r.v != base.v) name += "+v-channel";
    if (r.p != base.p && r.p == PFormat::uint8_block_max) name += "+p-u8";
    if (parse_recipe(name) == r) return name;
  }
  return "custom(qk=" + std::to_string(static_cast<int>(r.qk)) +
         ",smooth_k=" + std::to_string(r.smooth_k) + ",v=" + std::to_string(static_cast<int>(r.v)) +
         ",p=" + std::to_string(static_cast<int>(r.p)) + ")";
}

// ---- tensor views -----------------------------------------------------------
TensorView TensorView::bshd(const void* data, DType dtype, int64_t batch, int64_t seq,
                            int64_t heads, int64_t dim) {
  TensorView t;
  t.data = const_cast<void*>(data);
  t.dtype = dtype;
  t.batch = batch, t.seq = seq, t.heads = heads, t.dim = dim;
  t.stride_head = dim;
  t.stride_seq = heads * dim;
  t.stride_batch = seq * heads * dim;
  return t;
}

TensorView TensorView::bhsd(const void* data, DType dtype, int64_t batch, int64_t seq,
                            int64_t heads, int64_t dim) {
  TensorView t;
  t.data = const_cast<void*>(data);
  t.dtype = dtype;
  t.batch = batch, t.seq = seq, t.heads = heads, t.dim = dim;
  t.stride_seq = dim;
  t.stride_head = seq * dim;
  t.stride_batch = heads * seq * dim;
  return t;
}

}  // namespace intfa
