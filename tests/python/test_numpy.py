"""intfa.attention / intfa.sdpa on NumPy arrays (CPU back-end) against a
float64 NumPy reference, within the error predicted by the rounding-noise
model of each recipe (_helpers.check_accuracy: measured / predicted relative
L1 in [0.7, 1.25], LSE within 6 predicted sigmas; the reasons are there).
Accuracy tests draw fresh inputs every run (the `rng` fixture)."""
import numpy as np
import pytest

import intfa
from _helpers import RECIPES, check_accuracy, make_qkv, reference, sdpa_problem

# Each recipe on each input distribution it is meant for, as the C++ suite
# (tests/cpu/test_accuracy.cpp): the base recipes on N(0, 1) and U(-0.5, 0.5),
# the int8 ones also on channel-offset data, and knob variants.
RECIPE_CASES = [
    ("intfa", "normal"), ("intfa", "uniform"), ("intfa", "shifted"),
    ("paper", "normal"), ("paper", "uniform"), ("paper", "shifted"),
    ("half-int8", "normal"), ("half-int8", "uniform"), ("half-int8", "shifted"),
    ("fp16", "normal"), ("fp16", "uniform"),
    ("fp8-tensor", "normal"), ("fp8-tensor", "uniform"),
    ("paper+smooth-k", "shifted"), ("intfa-smooth-k", "shifted"),
    ("paper+v-channel", "normal"), ("paper+p-u8", "normal"), ("intfa-p-u8", "uniform"),
]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("recipe,dist", RECIPE_CASES, ids=[f"{r}-{d}" for r, d in RECIPE_CASES])
def test_recipe_matches_noise_model(recipe, dist, causal, rng):
    """GQA (8 query heads on 4 KV heads), Sq < Sk, a random key count (full
    and partial key blocks) and head dim: 12,288 output elements, over 8
    (batch, KV head) pairs so that V's rounding is sampled broadly."""
    b, h, hk = 2, 8, 4
    sk, d = int(rng.integers(150, 401)), int(rng.choice([64, 128]))
    sq = 12288 // (b * h * d)
    q, k, v = make_qkv(b, sq, sk, h, hk, d, seed=rng, dist=dist)
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, return_lse=True)
    assert out.dtype == np.float32 and out.shape == q.shape
    assert lse.dtype == np.float32 and lse.shape == (b, h, sq)
    check_accuracy(out, lse, q, k, v, recipe, f"{recipe} {dist} Sk={sk} D={d} causal={causal}",
                   causal=causal)


# name -> (B, Sq, Sk, H, Hk, D); each has >= 10^4 output elements in rows that
# see a key, causal or not.
SHAPES = {
    "square": (2, 64, 64, 4, 4, 64),
    "mqa-d32": (2, 48, 96, 8, 1, 32),
    "sq<sk-d128": (1, 40, 150, 4, 2, 128),
    "sq>sk": (2, 160, 48, 4, 2, 32),  # causal: the first 112 rows see no key
    "decode": (8, 1, 77, 16, 4, 128),
    "long-kv": (1, 12, 600, 8, 2, 128),
}


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("recipe", ["intfa", "paper"])
def test_shapes_match_noise_model(recipe, shape, causal, rng):
    b, sq, sk, h, hk, d = SHAPES[shape]
    q, k, v = make_qkv(b, sq, sk, h, hk, d, seed=rng)
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, return_lse=True)
    assert out.shape == q.shape and lse.shape == (b, h, sq)
    check_accuracy(out, lse, q, k, v, recipe, f"{shape} causal={causal}", causal=causal)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
@pytest.mark.parametrize("recipe", ["intfa", "half-int8", "fp16"])
def test_layouts_and_dtypes(recipe, layout, dtype, rng):
    """Output in the input's dtype and layout. fp16 inputs are already on the
    fp16 grid: the model then gives half-int8's V and all of fp16's Q, K, V
    no error, and adds the fp16 output's rounding."""
    b, sq, sk, h, hk, d = 2, 20, 100, 8, 4, 64
    q, k, v = make_qkv(b, sq, sk, h, hk, d, dtype=dtype, seed=rng, layout=layout)
    out, lse = intfa.attention(q, k, v, causal=True, layout=layout, recipe=recipe,
                               return_lse=True)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == q.shape  # same layout as the input
    check_accuracy(out, lse, q, k, v, recipe, f"{layout} {dtype}", causal=True, layout=layout,
                   out_dtype=dtype)


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
    expected = intfa.attention(q, k, v)
    for x in (q, k, v):
        x.flags.writeable = False
    np.testing.assert_array_equal(intfa.attention(q, k, v), expected)


def test_causal_bottom_right_masked_rows():
    """Sq > Sk, causal: query i sees keys j <= i + Sk - Sq; the first Sq - Sk
    rows see nothing: O = 0, LSE = -inf."""
    q, k, v = make_qkv(1, 20, 8, 2, 2, 32, seed=11)
    out, lse = intfa.attention(q, k, v, causal=True, return_lse=True)
    assert (out[:, :12] == 0).all()
    assert np.isneginf(lse[:, :, :12]).all() and np.isfinite(lse[:, :, 12:]).all()
    # Row 12 sees exactly key 0: its P is exactly 1 (255 of 255), so its output
    # is V's round trip v̂_0, within half a step of V's per-channel scale
    # amax/127 (docs/NUMERICS.md), plus a few fp32 roundings (1e-6 · amax).
    amax = np.abs(v[0]).max(axis=0)  # [Hk, D]; here H = Hk
    assert (np.abs(out[0, 12] - v[0, 0]) <= amax * (0.5 / 127 + 1e-6)).all()


@pytest.mark.parametrize("scale", [0.05, 0.3])
def test_scale_argument(scale, rng):
    # (at scale 0.3 the softmax is peaked: few keys carry each row, so the L1
    # estimate needs more rows to stay within a few percent)
    q, k, v = make_qkv(2, 40, 90, 4, 2, 64, seed=rng)
    out, lse = intfa.attention(q, k, v, scale=scale, return_lse=True)
    check_accuracy(out, lse, q, k, v, "intfa", f"scale={scale}", scale=scale)


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
@pytest.mark.parametrize("sq,sk", [(48, 48), (24, 60), (60, 24)])
def test_sdpa_causal_is_top_left_like_torch(sq, sk, rng):
    q, k, v = make_qkv(2, sq, sk, 4, 4, 64, seed=rng, layout="bhsd")
    out = intfa.sdpa(q, k, v, is_causal=True)
    assert out.shape == q.shape
    # The model's problem: query i sees keys j <= i (top-left).
    k_, v_, causal, top_left = sdpa_problem(k, v, True, sq)
    check_accuracy(out, None, q, k_, v_, "intfa", f"sdpa causal {sq}x{sk}", causal=causal,
                   top_left=top_left, layout="bhsd")
    # and the reference with torch's masking is the one it matches
    ref, _ = reference(q, k, v, True, layout="bhsd", top_left=True)
    ref_k, _ = reference(q, k_, v_, causal, layout="bhsd", top_left=top_left)
    np.testing.assert_allclose(ref_k, ref, rtol=0, atol=1e-12)


def test_sdpa_gqa_and_recipe(rng):
    q, k, v = make_qkv(2, 40, 40, 4, 2, 64, seed=rng, layout="bhsd")
    out = intfa.sdpa(q, k, v, enable_gqa=True, recipe="paper", scale=0.1)
    check_accuracy(out, None, q, k, v, "paper", "sdpa gqa", scale=0.1, layout="bhsd")


def test_sdpa_three_dimensional(rng):
    q, k, v = make_qkv(8, 48, 48, 1, 1, 32, seed=rng, layout="bhsd")
    out = intfa.sdpa(q[:, 0], k[:, 0], v[:, 0])
    assert out.shape == (8, 48, 32)
    check_accuracy(out[:, None], None, q, k, v, "intfa", "sdpa 3-D", layout="bhsd")


def test_package_metadata():
    assert intfa.__version__.count(".") == 2
    assert set(intfa.RECIPES) == set(RECIPES)
    info = intfa.recipe_info("intfa")
    assert info == {"name": "intfa", "qk": "int8_per_token", "smooth_k": True,
                    "v": "int8_per_channel", "p": "uint8_block_max", "int8_qk": True,
                    "int8_v": True, "full_int8": True}
    assert intfa.recipe_info("paper+p-u8")["p"] == "uint8_block_max"
    assert isinstance(intfa.cuda_available(), bool)
