"""intfa.quantize and intfa.attention_quantized on NumPy arrays: round-trip
bounds of the quantizers (docs/NUMERICS.md: |x - x̂·s| <= s/2 up to one fp32
rounding of s) and bit-for-bit agreement with the one-call attention."""
import numpy as np
import pytest

import intfa
from _helpers import make_qkv, to_bshd



def per_token(scale):
    """[B, H, S] scales broadcast against [B, S, H, D]."""
    return np.asarray(scale, dtype=np.float64).transpose(0, 2, 1)[..., None]


def check_round_trip(x, x8, scale, what):
    x = np.asarray(x, dtype=np.float64)
    s = per_token(scale)
    err = np.abs(x - x8.astype(np.float64) * s)
    # s/2 from the rounding rule, plus three fp32 roundings (inv = 127/amax,
    # x*inv, s = amax/127), each a relative 2^-24, that can move a value near
    # a rounding tie by at most 3 * 2^-24 * |x| (docs/NUMERICS.md)
    bound = s / 2 + 3 * 2.0**-24 * np.abs(x)
    assert (err <= bound).all(), f"{what}: round trip error {err.max()} above s/2"
    # the largest element of every (nonzero) token maps to +-127
    amax8 = np.abs(x8.astype(np.int32)).max(axis=-1)
    assert ((amax8 == 127) | (s[..., 0] == 0)).all(), f"{what}: a token does not reach 127"


@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
@pytest.mark.parametrize("recipe", ["intfa", "paper", "half-int8"])
def test_quantize_round_trip(recipe, layout):
    b, sq, sk, h, hk, d = 2, 37, 150, 4, 2, 64
    q, k, v = make_qkv(b, sq, sk, h, hk, d, seed=1, layout=layout)
    qi = intfa.quantize(q, k, v, recipe=recipe, layout=layout)
    info = intfa.recipe_info(recipe)
    assert qi.recipe == info["name"] and qi.layout == layout and qi.dtype == "float32"
    assert qi.q_int8.dtype == np.int8 and qi.q_int8.shape == q.shape
    assert qi.k_int8.dtype == np.int8 and qi.k_int8.shape == k.shape
    assert qi.q_scale.shape == (b, h, sq) and qi.q_scale.dtype == np.float32
    assert qi.k_scale.shape == (b, hk, sk) and qi.k_scale.dtype == np.float32
    qb, kb, vb = (to_bshd(x, layout) for x in (q, k, v))
    check_round_trip(qb, to_bshd(qi.q_int8, layout), qi.q_scale, "Q")

    if info["smooth_k"]:
        assert qi.k_mean.shape == (b, hk, d) and qi.lse_offset.shape == (b, h, sq)
        mean = kb.astype(np.float64).mean(axis=1)  # [B, Hk, D]
        np.testing.assert_allclose(qi.k_mean, mean, rtol=1e-6, atol=1e-7)
        # K is quantized as k - mean (fp32 subtraction)
        smoothed = kb - qi.k_mean[:, None, :, :]
        check_round_trip(smoothed, to_bshd(qi.k_int8, layout), qi.k_scale, "K - mean")
        # lse_offset = q . mean of its KV head
        mean_per_head = np.repeat(qi.k_mean.astype(np.float64), h // hk, axis=1)  # [B, H, D]
        expected = np.einsum("bshd,bhd->bhs", qb.astype(np.float64), mean_per_head)
        np.testing.assert_allclose(qi.lse_offset, expected, rtol=1e-5, atol=1e-5)
    else:
        assert qi.k_mean is None and qi.lse_offset is None
        check_round_trip(kb, to_bshd(qi.k_int8, layout), qi.k_scale, "K")

    if info["int8_v"]:
        sk_pad = (sk + 127) // 128 * 128
        assert qi.v is None
        assert qi.vt.shape == (b, hk, d, sk_pad) and qi.vt.dtype == np.int8
        assert qi.v_scale.shape == (b, hk, d)
        assert (qi.vt[..., sk:] == 0).all(), "V̂ᵀ padding must be zero"
        vhat = qi.vt[..., :sk].astype(np.float64) * qi.v_scale[..., None]  # [B, Hk, D, Sk]
        v64 = vb.astype(np.float64).transpose(0, 2, 3, 1)
        err = np.abs(v64 - vhat)
        bound = qi.v_scale[..., None] / 2 + 3 * 2.0**-24 * np.abs(v64)  # as check_round_trip
        assert (err <= bound).all()
        if info["v"] == "int8_per_tensor":  # one scale per (batch, KV head)
            assert (qi.v_scale == qi.v_scale[..., :1]).all()
        else:
            assert (qi.v_scale != qi.v_scale[..., :1]).any()
    else:  # half-int8: V stays in 16 bits; fp32 inputs are rounded to fp16
        assert qi.vt is None and qi.v_scale is None
        assert qi.v.dtype == np.float16 and qi.v.shape == v.shape
        np.testing.assert_array_equal(qi.v, v.astype(np.float16))


def test_quantize_zero_token_has_zero_scale():
    q, k, v = make_qkv(1, 8, 8, 2, 2, 32, shift=False)
    q[0, 3, 1] = 0
    qi = intfa.quantize(q, k, v, recipe="paper")
    assert qi.q_scale[0, 1, 3] == 0 and (qi.q_int8[0, 3, 1] == 0).all()
    assert np.isfinite(intfa.attention_quantized(qi)).all()


def test_quantize_half_int8_keeps_16_bit_v():
    q, k, v = make_qkv(1, 8, 8, 2, 2, 32, dtype="float16")
    qi = intfa.quantize(q, k, v, recipe="half-int8")
    assert qi.v is v  # already 16 bits: no copy
    assert qi.dtype == "float16"


CASES = [  # recipe, dtype, layout, (B, Sq, Sk, H, Hk, D), causal
    ("intfa", "float32", "bshd", (2, 64, 64, 4, 4, 32), False),
    ("intfa", "float16", "bhsd", (1, 70, 130, 4, 2, 64), True),
    ("intfa", "float32", "bshd", (1, 150, 40, 2, 1, 32), True),
    ("paper", "float32", "bshd", (2, 33, 90, 4, 1, 64), True),
    ("paper", "float16", "bhsd", (1, 64, 64, 2, 2, 128), False),
    ("half-int8", "float32", "bshd", (1, 50, 80, 4, 2, 64), True),
    ("half-int8", "float16", "bhsd", (2, 17, 17, 2, 2, 32), False),
    ("paper+p-u8", "float32", "bshd", (1, 40, 100, 2, 2, 64), True),
    ("intfa-smooth-k", "float32", "bshd", (1, 40, 100, 2, 2, 64), False),
    ("paper+v-channel", "float16", "bshd", (1, 40, 100, 2, 2, 64), True),
]


@pytest.mark.parametrize("recipe,dtype,layout,shape,causal", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{'causal' if c[4] else 'full'}"
                              for c in CASES])
def test_attention_quantized_equals_attention(recipe, dtype, layout, shape, causal):
    b, sq, sk, h, hk, d = shape
    q, k, v = make_qkv(b, sq, sk, h, hk, d, dtype=dtype, seed=12, layout=layout)
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, layout=layout,
                               return_lse=True)
    qi = intfa.quantize(q, k, v, recipe=recipe, layout=layout)
    out2, lse2 = intfa.attention_quantized(qi, causal=causal, return_lse=True)
    assert out2.dtype == out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(lse2, lse)
    # options pass through: scale and out_dtype
    a = intfa.attention(q, k, v, causal=causal, recipe=recipe, layout=layout, scale=0.3,
                        out_dtype="float32")
    b_ = intfa.attention_quantized(qi, causal=causal, scale=0.3, out_dtype="float32")
    np.testing.assert_array_equal(a, b_)
