"""The token order of V̂ᵀ (docs/NUMERICS.md, "V̂ᵀ token order"): the vt_order
argument of intfa.quantize, the order recorded in QuantizedInputs, and
attention_quantized giving the same bits for either order (NumPy, CPU)."""
import numpy as np
import pytest

import intfa
from _helpers import make_qkv


def interleaved_positions(n):
    """vt_position(t, "interleaved16") for t in range(n), from the definition:
    position 16g + 4a + i holds token 16g + 2a + (i & 1) + 8 (i >> 1)."""
    pos = np.empty(n, dtype=np.int64)
    for p in range(n):
        g, k = divmod(p, 16)
        a, i = divmod(k, 4)
        pos[16 * g + 2 * a + (i & 1) + 8 * (i >> 1)] = p
    return pos


def test_vt_position_and_defaults():
    assert intfa.VT_ORDERS == ("natural", "interleaved16")
    n = 256
    expected = interleaved_positions(n)
    got = np.array([intfa.vt_position(t, "interleaved16") for t in range(n)])
    np.testing.assert_array_equal(got, expected)
    assert sorted(got) == list(range(n))
    assert [intfa.vt_position(t, "natural") for t in range(40)] == list(range(40))
    assert intfa.default_vt_order("cpu") == "natural"
    assert intfa.default_vt_order("cuda") in intfa.VT_ORDERS
    if not intfa.built_with_cuda:
        assert intfa.default_vt_order("cuda") == "natural"
    with pytest.raises(intfa.InvalidArgumentError, match="automatic"):
        intfa.default_vt_order("auto")
    with pytest.raises(ValueError, match="'natural' or 'interleaved16'"):
        intfa.vt_position(3, "zigzag")


@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
@pytest.mark.parametrize("recipe", ["intfa", "paper"])
def test_quantize_interleaved_is_natural_permuted(recipe, layout):
    b, sq, sk, h, hk, d = 2, 21, 150, 4, 2, 32
    q, k, v = make_qkv(b, sq, sk, h, hk, d, seed=41, layout=layout)
    nat = intfa.quantize(q, k, v, recipe=recipe, layout=layout)
    assert nat.vt_order == "natural"  # the CPU's default
    assert intfa.quantize(q, k, v, recipe=recipe, layout=layout,
                          vt_order="natural").vt_order == "natural"
    il = intfa.quantize(q, k, v, recipe=recipe, layout=layout, vt_order="interleaved16")
    assert il.vt_order == "interleaved16"
    sk_pad = nat.vt.shape[-1]
    pos = interleaved_positions(sk_pad)
    np.testing.assert_array_equal(il.vt[..., pos], nat.vt)
    assert (il.vt[..., pos[sk:]] == 0).all(), "padding tokens must be zero"
    assert not np.array_equal(il.vt, nat.vt)
    for name in ("q_int8", "q_scale", "k_int8", "k_scale", "v_scale"):
        np.testing.assert_array_equal(getattr(il, name), getattr(nat, name))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("recipe", ["intfa", "paper+p-u8"])
def test_attention_quantized_same_bits_for_both_orders(recipe, causal):
    q, k, v = make_qkv(1, 70, 130, 4, 2, 64, seed=42)
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, return_lse=True)
    for order in intfa.VT_ORDERS:
        qi = intfa.quantize(q, k, v, recipe=recipe, vt_order=order)
        out2, lse2 = intfa.attention_quantized(qi, causal=causal, return_lse=True)
        np.testing.assert_array_equal(out2, out)
        np.testing.assert_array_equal(lse2, lse)


def test_half_int8_has_no_vt_and_natural_order():
    q, k, v = make_qkv(1, 8, 8, 2, 2, 32, dtype="float16")
    qi = intfa.quantize(q, k, v, recipe="half-int8", vt_order="interleaved16")
    assert qi.vt is None and qi.vt_order == "natural"


def test_bad_vt_order_values():
    q, k, v = make_qkv(1, 8, 8, 2, 2, 32)
    with pytest.raises(intfa.InvalidArgumentError, match="unknown vt_order 'interleaved'"):
        intfa.quantize(q, k, v, vt_order="interleaved")
    qi = intfa.quantize(q, k, v)
    with pytest.raises(intfa.InvalidArgumentError, match="unknown vt_order"):
        intfa.attention_quantized(qi._replace(vt_order=None))
    # A QuantizedInputs that lies about its order gives another (wrong) result:
    # the order travels with the bytes, it is not detected from them.
    wrong = intfa.attention_quantized(qi._replace(vt_order="interleaved16"))
    assert not np.array_equal(wrong, intfa.attention_quantized(qi))
