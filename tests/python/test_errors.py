"""Every error path raises the mapped exception with the library's message:
invalid_argument -> InvalidArgumentError (ValueError), unsupported ->
UnsupportedError (NotImplementedError), nonfinite_input -> NonFiniteInputError
(FloatingPointError and ValueError), backend_unavailable ->
BackendUnavailableError (RuntimeError)."""
import numpy as np
import pytest

import intfa
from _helpers import make_qkv


@pytest.fixture
def qkv():
    return make_qkv(1, 16, 16, 2, 2, 32)


def test_exception_hierarchy():
    assert issubclass(intfa.InvalidArgumentError, ValueError)
    assert issubclass(intfa.UnsupportedError, NotImplementedError)
    assert issubclass(intfa.NonFiniteInputError, FloatingPointError)
    assert issubclass(intfa.NonFiniteInputError, ValueError)
    assert issubclass(intfa.BackendUnavailableError, RuntimeError)
    assert issubclass(intfa.CudaError, RuntimeError)
    for e in (intfa.InvalidArgumentError, intfa.UnsupportedError, intfa.NonFiniteInputError,
              intfa.BackendUnavailableError, intfa.CudaError, intfa.InternalError):
        assert issubclass(e, intfa.Error)
        assert e.__module__ == "intfa"


def test_non_contiguous_head_dim(qkv):
    q, k, v = qkv
    wide = np.repeat(q, 2, axis=-1)[..., ::2]  # stride 2 on the head dim
    with pytest.raises(ValueError, match=r"q has last-dimension stride 2: the head dimension "
                                         r"must be contiguous \(stride 1\)"):
        intfa.attention(wide, k, v)
    with pytest.raises(ValueError, match="k has last-dimension stride"):
        intfa.attention(q, np.asfortranarray(k), v)


def test_negative_stride(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="q has a negative stride"):
        intfa.attention(q[:, ::-1], k, v)


@pytest.mark.parametrize("dtype,msg", [
    (np.float64, "q has dtype float64"),
    (np.int32, "q has dtype int32"),
    (np.int8, r"q has element type i8 \(expected f32, f16, bf16\)"),
])
def test_wrong_dtype(qkv, dtype, msg):
    q, k, v = qkv
    with pytest.raises(intfa.InvalidArgumentError, match=msg):
        intfa.attention(q.astype(dtype), k, v)


def test_wrong_rank(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match=r"q must be 4-D \[batch, seq, heads, dim\] "
                                         r"\(layout 'bshd'\), got 3-D shape \[16, 2, 32\]"):
        intfa.attention(q[0], k, v)
    with pytest.raises(ValueError, match=r"4-D \[batch, heads, seq, dim\]"):
        intfa.attention(q[0], k, v, layout="bhsd")


def test_empty_dimension(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match=r"q has shape \[1, 0, 2, 32\]: every size must be "
                                         r"at least 1"):
        intfa.attention(q[:, :0], k, v)


@pytest.mark.parametrize("change,msg", [
    (lambda q, k, v: (q, k[:, :, :1], v), "v .* must have the shape of k"),
    (lambda q, k, v: (q, k[..., :16], v[..., :16]), "head dim mismatch"),
    (lambda q, k, v: (q[:, :, :1], k, v), r"query heads \(1\) must be a multiple of KV heads \(2\)"),
    (lambda q, k, v: (np.concatenate([q, q]), k, v), "batch mismatch"),
])
def test_shape_mismatch(qkv, change, msg):
    with pytest.raises(intfa.InvalidArgumentError, match=msg):
        intfa.attention(*change(*qkv))


def test_gqa_heads_not_divisible():
    q, k, v = make_qkv(1, 8, 8, 3, 2, 32)
    with pytest.raises(ValueError, match=r"query heads \(3\) must be a multiple of KV heads \(2\)"):
        intfa.attention(q, k, v)


def test_bad_names(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="bad recipe 'int4': unknown base"):
        intfa.attention(q, k, v, recipe="int4")
    with pytest.raises(ValueError, match="unknown knob 'foo'"):
        intfa.attention(q, k, v, recipe="paper+foo")
    with pytest.raises(ValueError, match="knob p-u8 needs int8 P and V"):
        intfa.attention(q, k, v, recipe="half-int8+p-u8")
    with pytest.raises(ValueError, match="unknown layout 'sbhd'"):
        intfa.attention(q, k, v, layout="sbhd")
    with pytest.raises(ValueError, match=r"unknown back-end 'tpu' \(expected cpu, cuda or auto\)"):
        intfa.attention(q, k, v, backend="tpu")


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_scale(qkv, scale):
    with pytest.raises(ValueError, match="softmax_scale must be finite and positive"):
        intfa.attention(*qkv, scale=scale)


def test_bad_out_dtype(qkv):
    with pytest.raises(ValueError, match="out_dtype must be float32, float16 or bfloat16"):
        intfa.attention(*qkv, out_dtype="int8")
    with pytest.raises(ValueError, match="NumPy has no bfloat16 output"):
        intfa.attention(*qkv, out_dtype="bfloat16")


@pytest.mark.parametrize("which", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input(qkv, which, bad):
    q, k, v = (x.copy() for x in qkv)
    target = {"q": q, "k": k, "v": v}[which]
    target[0, 5, 1, 7] = bad
    with pytest.raises(intfa.NonFiniteInputError,
                       match=rf"{which.upper()} contains NaN or Inf at batch 0, token 5, head 1"):
        intfa.attention(q, k, v)
    with pytest.raises(FloatingPointError):
        intfa.attention(q, k, v, recipe="paper")


def test_nonfinite_input_float_baselines(qkv):
    q, k, v = (x.copy() for x in qkv)
    v[0, 2, 0, 0] = np.nan
    for recipe in ("fp16", "fp8-tensor"):
        with pytest.raises(ValueError, match="contains NaN or Inf"):
            intfa.attention(q, k, v, recipe=recipe)


def test_head_dim_unsupported_on_cpu():
    x = np.ones((1, 4, 1, 520), np.float32)
    with pytest.raises(NotImplementedError, match=r"head dim 520 is not supported by the CPU "
                                                  r"back-end \(1..512\)"):
        intfa.attention(x, x, x)


def test_cuda_backend_with_host_arrays(qkv):
    if intfa.cuda_available():
        # a GPU build: host arrays cannot go to the CUDA back-end
        with pytest.raises(ValueError, match="host memory"):
            intfa.attention(*qkv, backend="cuda")
    else:
        with pytest.raises(intfa.BackendUnavailableError, match="CUDA"):
            intfa.attention(*qkv, backend="cuda")


def test_not_an_array(qkv):
    q, k, v = qkv
    with pytest.raises(TypeError, match="q must be a NumPy array, torch.Tensor"):
        intfa.attention(q.tolist(), k, v)
    with pytest.raises(TypeError, match="v must be a NumPy array"):
        intfa.attention(q, k, "v")


def test_quantize_errors(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="quantize makes int8 Q and K; recipe fp16 is a "
                                         "float baseline"):
        intfa.quantize(q, k, v, recipe="fp16")
    q2 = q.copy()
    q2[0, 0, 0, 0] = np.inf
    with pytest.raises(intfa.NonFiniteInputError, match="Q contains NaN or Inf"):
        intfa.quantize(q2, k, v)


def test_attention_quantized_errors(qkv):
    q, k, v = qkv
    qi = intfa.quantize(*qkv)
    with pytest.raises(TypeError, match="QuantizedInputs"):
        intfa.attention_quantized((q, k, v))
    with pytest.raises(ValueError, match="smooths K and needs lse_offset"):
        intfa.attention_quantized(qi._replace(lse_offset=None))
    with pytest.raises(ValueError, match=r"vt \[B, Hk, D, Sk_pad\] and v_scale \[B, Hk, D\] are "
                                         r"required"):
        intfa.attention_quantized(qi._replace(vt=None))
    with pytest.raises(ValueError, match=r"vt must have shape \[B, Hk, D, Sk_pad\] = "
                                         r"\[1, 2, 32, 128\]"):
        intfa.attention_quantized(qi._replace(vt=qi.vt[..., :64]))
    with pytest.raises(ValueError, match="q_scale must be float32"):
        intfa.attention_quantized(qi._replace(q_scale=qi.q_scale.astype(np.float16)))
    with pytest.raises(ValueError, match=r"k_scale must have shape \[1, 2, 16\]"):
        intfa.attention_quantized(qi._replace(k_scale=qi.k_scale[:, :1]))
    with pytest.raises(ValueError, match="q_scale must be C-contiguous"):
        intfa.attention_quantized(
            qi._replace(q_scale=np.repeat(qi.q_scale, 2, axis=-1)[..., ::2]))
    with pytest.raises(ValueError, match=r"q has element type f32 \(expected i8\)"):
        intfa.attention_quantized(qi._replace(q_int8=q))
    with pytest.raises(ValueError, match="differs|keeps V in 16 bits"):
        intfa.attention_quantized(qi._replace(recipe="half-int8"))
    half = intfa.quantize(q, k, v, recipe="half-int8")
    with pytest.raises(ValueError, match=r"keeps V in 16 bits: v \[B, Sk, Hk, D\] is required"):
        intfa.attention_quantized(half._replace(v=None))


def test_sdpa_errors():
    q, k, v = make_qkv(1, 8, 8, 4, 2, 32, layout="bhsd")
    with pytest.raises(NotImplementedError, match="does not support attn_mask"):
        intfa.sdpa(q, k, v, attn_mask=np.ones((8, 8), bool), enable_gqa=True)
    with pytest.raises(NotImplementedError, match="dropout_p must be 0.0"):
        intfa.sdpa(q, k, v, dropout_p=0.1, enable_gqa=True)
    with pytest.raises(ValueError, match="pass enable_gqa=True"):
        intfa.sdpa(q, k, v)
    with pytest.raises(NotImplementedError, match="one head dim"):
        intfa.sdpa(q, k, v[..., :16], enable_gqa=True)
    with pytest.raises(ValueError, match=r"takes \[B, H, S, D\]"):
        intfa.sdpa(q[0, 0], k[0, 0], v[0, 0])
