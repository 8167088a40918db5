"""Shared helpers of the Python tests: a float64 NumPy reference, seeded
inputs, and each recipe's error bounds.

Error bounds (TOLERANCES) come from measurement, not from hope:
tests/python/measure_tolerances.py runs the library over SWEEP (288 problems
per recipe and distribution: GQA 4:4 and 4:1, four (Sq, Sk) pairs including
Sq > Sk and Sq = 1, D in {32, 64, 128}, causal or not, fp32 and fp16 inputs,
three seeds) and prints the worst relative L1 error of O, the worst max-abs
error of O, and the worst max-abs error of the LSE against this file's float64
reference. The bounds below are those worst cases times 1.5 (rounded up): the
margin covers problems the sweep did not run (other seeds and sizes in the
same ranges), while a real bug (a wrong row, a wrong scale, a swapped head)
moves the error by far more than 50%. The worst cases measured on the CPU
back-end, over both input distributions of make_qkv (shift on and off), are
kept next to each bound.

The CUDA back-end follows the same contract (docs/NUMERICS.md: equal on every
integer, within the documented tolerance on the float softmax), so the same
bounds apply to it.
"""
from __future__ import annotations

import itertools

import numpy as np

# (relative L1 of O, max |O - ref|, max |LSE - ref|) per recipe.
#   measured worst (python3 tests/python/measure_tolerances.py) -> bound (x1.5)
TOLERANCES = {
    #            rel-L1    max-abs  lse
    "intfa":      (0.020,   0.075,  0.042),   # measured 0.01323, 0.04867, 0.02774
    "paper":      (0.032,   0.090,  0.046),   # measured 0.02098, 0.05819, 0.03017
    "half-int8":  (0.020,   0.070,  0.046),   # measured 0.01321, 0.04579, 0.03017
    "fp16":       (0.00075, 0.0034, 0.0019),  # measured 0.000494, 0.002201, 0.001266
    "fp8-tensor": (0.090,   0.430,  0.250),   # measured 0.05973, 0.2857, 0.1607
}

RECIPES = tuple(TOLERANCES)

# The sweep behind TOLERANCES: (Hk, (Sq, Sk), D, causal, dtype, seed), H = 4, B = 2.
SWEEP = list(itertools.product([4, 1], [(128, 128), (100, 300), (300, 100), (1, 77)],
                               [32, 64, 128], [False, True], ["float32", "float16"], range(3)))


def make_qkv(b=2, sq=64, sk=64, h=4, hk=4, d=32, dtype="float32", seed=0, layout="bshd",
             shift=True):
    """Seeded N(0, 1) inputs; with `shift`, Q and K get a per-channel offset
    (mean 0.5 and 1.0) as real activations do, which exercises K smoothing
    and its LSE correction."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, sq, h, d))
    k = rng.standard_normal((b, sk, hk, d))
    v = rng.standard_normal((b, sk, hk, d))
    if shift:
        q += 0.5 * rng.random(d)
        k += 1.0 * rng.random(d)
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    if layout == "bhsd":
        q, k, v = (np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v))
    return q, k, v


def to_bshd(x, layout):
    return x if layout == "bshd" else x.transpose(0, 2, 1, 3)


def reference(q, k, v, causal=False, scale=None, layout="bshd", top_left=False):
    """Exact attention in float64: (out in `layout`, lse [B, H, Sq]).
    Causal masking is bottom-right aligned (FlashAttention, intfa) unless
    top_left (torch.nn.functional.scaled_dot_product_attention). Rows that
    see no key give out = 0 and lse = -inf."""
    q, k, v = (to_bshd(np.asarray(x, dtype=np.float64), layout) for x in (q, k, v))
    _, sq, h, d = q.shape
    sk, hk = k.shape[1], k.shape[2]
    k = np.repeat(k, h // hk, axis=2)
    v = np.repeat(v, h // hk, axis=2)
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    s = np.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if causal:
        i = np.arange(sq)[:, None]
        j = np.arange(sk)[None, :]
        visible = j <= i if top_left else j <= i + sk - sq
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m)
    l = p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", p / np.where(l > 0, l, 1.0), v)
    with np.errstate(divide="ignore"):
        lse = (np.log(l) + m)[..., 0]
    return (out if layout == "bshd" else out.transpose(0, 2, 1, 3)), lse


def rel_l1(x, ref):
    x = np.asarray(x, dtype=np.float64)
    return float(np.abs(x - ref).sum() / np.abs(ref).sum())


# Unit roundoff of an output rounded to 16 bits (the bounds above are for fp32
# outputs): rounding adds at most this relative error to each element.
OUTPUT_ROUNDING = {"float32": 0.0, "float16": 2.0**-11, "bfloat16": 2.0**-8}


def check_close(out, ref, recipe, what="", out_dtype="float32"):
    """O within the recipe's measured bounds, plus the rounding of a 16-bit
    output."""
    tol_rel, tol_abs, _ = TOLERANCES[recipe]
    u = OUTPUT_ROUNDING[out_dtype]
    tol_rel += u
    tol_abs += u * float(np.abs(ref).max())
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == ref.shape
    assert np.isfinite(out).all(), f"{what}: non-finite output"
    err = rel_l1(out, ref)
    mx = float(np.abs(out - ref).max())
    assert err <= tol_rel, f"{what}: relative L1 {err:.4g} > {tol_rel} (recipe {recipe})"
    assert mx <= tol_abs, f"{what}: max abs error {mx:.4g} > {tol_abs} (recipe {recipe})"


def check_lse(lse, ref_lse, recipe, what=""):
    _, _, tol = TOLERANCES[recipe]
    lse = np.asarray(lse, dtype=np.float64)
    masked = ~np.isfinite(ref_lse)
    assert (np.isneginf(lse) == masked).all(), f"{what}: -inf rows differ"
    err = float(np.abs(lse[~masked] - ref_lse[~masked]).max()) if (~masked).any() else 0.0
    assert err <= tol, f"{what}: LSE max abs error {err:.4g} > {tol} (recipe {recipe})"
