/* intfa — INT8 FlashAttention: the C API.
 *
 * Every function returns an intfa_status; on failure intfa_last_error()
 * returns a message for the calling thread (valid until its next intfa call).
 * Tensors are described by intfa_tensor: logical dims [batch, seq, heads, dim]
 * (FlashAttention's convention) with strides in elements; strides[3] must be 1.
 */
#ifndef INTFA_INTFA_H_
#define INTFA_INTFA_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum intfa_status {
  INTFA_OK = 0,
  INTFA_ERROR_INVALID_ARGUMENT = 1,
  INTFA_ERROR_UNSUPPORTED = 2,
  INTFA_ERROR_NONFINITE_INPUT = 3,
  INTFA_ERROR_BACKEND_UNAVAILABLE = 4,
  INTFA_ERROR_CUDA = 5,
  INTFA_ERROR_INTERNAL = 6
} intfa_status;

typedef enum intfa_dtype {
  INTFA_F32 = 0,
  INTFA_F16 = 1,
  INTFA_BF16 = 2,
  INTFA_I8 = 3,
  INTFA_U8 = 4
} intfa_dtype;

typedef enum intfa_backend {
  INTFA_BACKEND_AUTO = 0,
  INTFA_BACKEND_CPU = 1,
  INTFA_BACKEND_CUDA = 2
} intfa_backend;

/* Token order of V̂ᵀ along its padded token axis (docs/NUMERICS.md):
 * natural: position n holds token n (the CPU back-end, the mma.sync kernel);
 * interleaved16: inside each group of 16 positions, position 16g + k holds
 * token 16g + 2(k/4) + (k%2) + 8((k/2)%2) (the Hopper wgmma kernel).
 * INTFA_VT_ORDER_DEFAULT (quantization only): the back-end's default, see
 * intfa_default_vt_order. */
typedef enum intfa_vt_order {
  INTFA_VT_ORDER_DEFAULT = -1,
  INTFA_VT_ORDER_NATURAL = 0,
  INTFA_VT_ORDER_INTERLEAVED16 = 1
} intfa_vt_order;

typedef struct intfa_tensor {
  void* data;
  intfa_dtype dtype;
  int64_t shape[4];   /* batch, seq, heads, dim */
  int64_t strides[4]; /* elements; strides[3] must be 1 */
} intfa_tensor;

/* Fills an intfa_tensor for the [B, S, H, D] or [B, H, S, D] memory layout. */
intfa_tensor intfa_tensor_bshd(const void* data, intfa_dtype dtype, int64_t batch, int64_t seq,
                               int64_t heads, int64_t dim);
intfa_tensor intfa_tensor_bhsd(const void* data, intfa_dtype dtype, int64_t batch, int64_t seq,
                               int64_t heads, int64_t dim);

typedef struct intfa_attention_options {
  int causal;          /* bottom-right aligned when Sq != Sk */
  float softmax_scale; /* 0: 1/sqrt(head_dim) */
  const char* recipe;  /* NULL: "intfa"; see intfa_recipe_valid */
  intfa_backend backend;
  int32_t kv_block;    /* 0: back-end default */
  void* stream;        /* cudaStream_t for the CUDA back-end */
} intfa_attention_options;

/* Defaults: non-causal, default scale, recipe intfa, automatic back-end. */
void intfa_attention_options_init(intfa_attention_options* options);

/* One call: quantize q, k, v (f32/f16/bf16) with the recipe and attend.
 * out [B, Sq, H, D] f32/f16/bf16; lse [B, H, Sq] fp32 or NULL. */
intfa_status intfa_attention(const intfa_tensor* q, const intfa_tensor* k, const intfa_tensor* v,
                             const intfa_tensor* out, float* lse,
                             const intfa_attention_options* options);

/* Quantization. scale/mean/lse_offset are contiguous fp32 arrays:
 *   per-token scale [B, H, S]; channel mean [B, Hk, D]; V scale [B, Hk, D];
 *   V̂ᵀ [B, Hk, D, intfa_padded_kv_length(Sk)] int8. */
intfa_status intfa_channel_mean(const intfa_tensor* k, float* mean, intfa_backend backend,
                                void* stream);
intfa_status intfa_quantize_per_token(const intfa_tensor* x, const float* mean,
                                      const intfa_tensor* out, float* scale,
                                      intfa_backend backend, void* stream);
intfa_status intfa_quantize_q(const intfa_tensor* q, const intfa_tensor* out, float* scale,
                              const float* k_mean, int64_t kv_heads, float* lse_offset,
                              intfa_backend backend, void* stream);
/* per_channel: 0 = one scale per (batch, kv head), 1 = one per channel.
 * Writes V̂ᵀ in natural order on every back-end (what a zero-initialized
 * intfa_quantized_inputs.vt_order says); intfa_quantize_v_ordered chooses. */
intfa_status intfa_quantize_v(const intfa_tensor* v, int per_channel, int8_t* vt, float* scale,
                              intfa_backend backend, void* stream);
/* As intfa_quantize_v, with V̂ᵀ in `order` (INTFA_VT_ORDER_DEFAULT: the
 * back-end's default). The order written is stored in *order_used (may be
 * NULL): pass it on as intfa_quantized_inputs.vt_order. */
intfa_status intfa_quantize_v_ordered(const intfa_tensor* v, int per_channel, intfa_vt_order order,
                                      int8_t* vt, float* scale, intfa_vt_order* order_used,
                                      intfa_backend backend, void* stream);
/* The order INTFA_VT_ORDER_DEFAULT means for INTFA_BACKEND_CPU (natural) or
 * INTFA_BACKEND_CUDA (the order of the current device's fastest kernel;
 * natural without CUDA). INTFA_BACKEND_AUTO is an invalid argument. */
intfa_status intfa_default_vt_order(intfa_backend backend, intfa_vt_order* order);
/* Position of token `token` on V̂ᵀ's padded axis in `order` (natural or
 * interleaved16; -1 for any other value or a negative token). */
int64_t intfa_vt_position(int64_t token, intfa_vt_order order);
int64_t intfa_padded_kv_length(int64_t seqlen_k);

typedef struct intfa_quantized_inputs {
  intfa_tensor q;          /* i8 [B, Sq, H, D] */
  const float* q_scale;    /* [B, H, Sq] */
  const float* lse_offset; /* [B, H, Sq]; smooth-k recipes need it for an LSE */
  intfa_tensor k;          /* i8 [B, Sk, Hk, D] */
  const float* k_scale;    /* [B, Hk, Sk] */
  const int8_t* vt;        /* int8 V recipes: [B, Hk, D, Sk_pad] */
  const float* v_scale;    /* [B, Hk, D] */
  intfa_tensor v;          /* half-int8: fp16/bf16 V [B, Sk, Hk, D] */
  intfa_vt_order vt_order; /* the order vt was written in (0 = natural); not DEFAULT */
} intfa_quantized_inputs;

/* Attention on quantized inputs; options->recipe must be an int8-Q/K recipe. */
intfa_status intfa_attention_quantized(const intfa_quantized_inputs* inputs,
                                       const intfa_tensor* out, float* lse,
                                       const intfa_attention_options* options);

/* INTFA_OK when `name` is a recipe name (base plus +knob/-knob). */
intfa_status intfa_recipe_valid(const char* name);

const char* intfa_last_error(void);
const char* intfa_status_string(intfa_status status);
const char* intfa_version(void);
int intfa_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif /* INTFA_INTFA_H_ */
