"""intfa.attention / intfa.sdpa on NumPy arrays (CPU back-end) against a
float64 NumPy reference, within each recipe's measured error bounds
(_helpers.TOLERANCES explains where they come from)."""
import zlib

import numpy as np
import pytest

import intfa
from _helpers import (RECIPES, check_close, check_lse, make_qkv, reference)

# name -> (B, Sq, Sk, H, Hk, D)
SHAPES = {
    "square": (2, 64, 64, 4, 4, 32),
    "gqa": (1, 70, 70, 4, 2, 64),
    "mqa": (2, 33, 48, 4, 1, 32),
    "sq<sk": (1, 40, 150, 2, 2, 64),
    "sq>sk": (1, 150, 40, 2, 1, 32),  # causal: the first 110 rows see no key
    "d128": (1, 45, 90, 2, 2, 128),
    "one-query": (2, 1, 77, 4, 2, 64),
}


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("recipe", RECIPES)
def test_attention_matches_reference(recipe, shape, causal):
    b, sq, sk, h, hk, d = SHAPES[shape]
    q, k, v = make_qkv(b, sq, sk, h, hk, d, seed=zlib.crc32(f"{shape}{causal}".encode()) % 1000)
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, return_lse=True)
    ref, ref_lse = reference(q, k, v, causal)
    assert out.dtype == np.float32 and out.shape == q.shape
    assert lse.dtype == np.float32 and lse.shape == (b, h, sq)
    check_close(out, ref, recipe, f"{recipe} {shape} causal={causal}")
    check_lse(lse, ref_lse, recipe, f"{recipe} {shape} causal={causal}")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
@pytest.mark.parametrize("shape", ["gqa", "sq<sk", "sq>sk"])
def test_layouts_and_dtypes(shape, layout, dtype):
    b, sq, sk, h, hk, d = SHAPES[shape]
    q, k, v = make_qkv(b, sq, sk, h, hk, d, dtype=dtype, seed=3, layout=layout)
    out = intfa.attention(q, k, v, causal=True, layout=layout)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == q.shape  # same layout as the input
    ref, _ = reference(q, k, v, True, layout=layout)
    check_close(out, ref, "intfa", f"{shape} {layout} {dtype}", out_dtype=dtype)


def test_bhsd_equals_bshd_bit_for_bit():
    q, k, v = make_qkv(2, 50, 70, 4, 2, 64, seed=5)
    out = intfa.attention(q, k, v, causal=True)
    qt, kt, vt = (np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v))
    out_t = intfa.attention(qt, kt, vt, causal=True, layout="bhsd")
    np.testing.assert_array_equal(out_t.transpose(0, 2, 1, 3), out)


def test_strided_views_read_in_place():
    """Packed QKV slices and transposed views give the result of contiguous
    copies, bit for bit (strides go to the library, nothing is copied)."""
    rng = np.random.default_rng(7)
    b, s, h, d = 2, 96, 4, 64
    qkv = rng.standard_normal((b, s, 3, h, d)).astype(np.float32)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    assert not q.flags.c_contiguous
    out = intfa.attention(q, k, v, causal=True)
    expected = intfa.attention(*(np.ascontiguousarray(x) for x in (q, k, v)), causal=True)
    np.testing.assert_array_equal(out, expected)
    # bshd memory seen as bhsd, and a head slice
    out_view = intfa.attention(*(x.transpose(0, 2, 1, 3) for x in (q, k, v)), causal=True,
                               layout="bhsd")
    np.testing.assert_array_equal(out_view.transpose(0, 2, 1, 3), expected)
    sliced = intfa.attention(q[:, :, 1:3], k[:, :, 1:3], v[:, :, 1:3])
    expected = intfa.attention(*(np.ascontiguousarray(x[:, :, 1:3]) for x in (q, k, v)))
    np.testing.assert_array_equal(sliced, expected)


def test_read_only_inputs():
    q, k, v = make_qkv(1, 16, 16, 2, 2, 32)
    for x in (q, k, v):
        x.flags.writeable = False
    out = intfa.attention(q, k, v)
    check_close(out, reference(q, k, v)[0], "intfa")


def test_causal_bottom_right_masked_rows():
    """Sq > Sk, causal: query i sees keys j <= i + Sk - Sq; the first Sq - Sk
    rows see nothing: O = 0, LSE = -inf."""
    q, k, v = make_qkv(1, 20, 8, 2, 2, 32, seed=11)
    out, lse = intfa.attention(q, k, v, causal=True, return_lse=True)
    assert (out[:, :12] == 0).all()
    assert np.isneginf(lse[:, :, :12]).all() and np.isfinite(lse[:, :, 12:]).all()
    # row 12 sees exactly key 0: its output is v[0] up to V's quantization
    np.testing.assert_allclose(out[0, 12], v[0, 0], atol=0.03)


def test_scale_argument():
    q, k, v = make_qkv(1, 32, 48, 2, 2, 64, seed=2)
    out = intfa.attention(q, k, v, scale=0.05)
    check_close(out, reference(q, k, v, scale=0.05)[0], "intfa", "scale=0.05")


def test_out_dtype():
    q, k, v = make_qkv(1, 16, 16, 2, 2, 32)
    assert intfa.attention(q, k, v, out_dtype="float16").dtype == np.float16
    assert intfa.attention(q, k, v, out_dtype=np.float16).dtype == np.float16
    q16, k16, v16 = (x.astype(np.float16) for x in (q, k, v))
    out = intfa.attention(q16, k16, v16, out_dtype=np.float32)
    assert out.dtype == np.float32


def test_backend_cpu_explicit():
    q, k, v = make_qkv(1, 16, 16, 2, 2, 32)
    np.testing.assert_array_equal(intfa.attention(q, k, v, backend="cpu"),
                                  intfa.attention(q, k, v))


def test_library_reference_matches_numpy_reference():
    q, k, v = make_qkv(2, 30, 50, 4, 2, 32, seed=9)
    for causal in (False, True):
        out, lse = intfa.attention_reference(q, k, v, causal=causal, return_lse=True)
        ref, ref_lse = reference(q, k, v, causal)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lse, ref_lse, rtol=0, atol=1e-12)
    qt, kt, vt = (np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v))
    out_t = intfa.attention_reference(qt, kt, vt, layout="bhsd")
    np.testing.assert_allclose(out_t, reference(q, k, v)[0].transpose(0, 2, 1, 3), atol=1e-12)


# ---- sdpa (torch's signature, [B, H, S, D]) on NumPy -----------------------------
@pytest.mark.parametrize("sq,sk", [(48, 48), (20, 60), (60, 20)])
def test_sdpa_causal_is_top_left_like_torch(sq, sk):
    q, k, v = make_qkv(1, sq, sk, 2, 2, 32, seed=4, layout="bhsd")
    out = intfa.sdpa(q, k, v, is_causal=True)
    ref, _ = reference(q, k, v, True, layout="bhsd", top_left=True)
    assert out.shape == q.shape
    check_close(out, ref, "intfa", f"sdpa causal {sq}x{sk}")


def test_sdpa_gqa_and_recipe():
    q, k, v = make_qkv(2, 40, 40, 4, 2, 64, seed=6, layout="bhsd")
    out = intfa.sdpa(q, k, v, enable_gqa=True, recipe="paper", scale=0.1)
    check_close(out, reference(q, k, v, scale=0.1, layout="bhsd")[0], "paper", "sdpa gqa")


def test_sdpa_three_dimensional():
    q, k, v = make_qkv(2, 24, 24, 1, 1, 32, seed=8, layout="bhsd")
    out = intfa.sdpa(q[:, 0], k[:, 0], v[:, 0])
    assert out.shape == (2, 24, 32)
    check_close(out, reference(q, k, v, layout="bhsd")[0][:, 0], "intfa", "sdpa 3-D")


def test_package_metadata():
    assert intfa.__version__.count(".") == 2
    assert set(intfa.RECIPES) == set(RECIPES)
    info = intfa.recipe_info("intfa")
    assert info == {"name": "intfa", "qk": "int8_per_token", "smooth_k": True,
                    "v": "int8_per_channel", "p": "uint8_block_max", "int8_qk": True,
                    "int8_v": True, "full_int8": True}
    assert intfa.recipe_info("paper+p-u8")["p"] == "uint8_block_max"
    assert isinstance(intfa.cuda_available(), bool)
