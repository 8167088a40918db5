"""A first-order rounding-noise model of each recipe's output error, computed
from the data itself: the accuracy tests compare the measured error with this
prediction instead of a hand-picked or measured tolerance.

NumPy port of tests/cpu/error_model.hpp, which is the source of truth: the
formulas below are the same, vectorized over keys and the head dimension
(docs/NUMERICS.md defines the recipes).

Model (per query row, natural units; w = exact softmax weights, R = exact
output, every rounding error independent with variance step²/12, or x² when a
value x below half a step is flushed to zero):

  scores   z_j  error var  σ²_j = scale² Σ_d (q_d² Δk_jd² + k_jd² Δq_d²)/12
           → output var     Σ_j w_j² σ²_j (v_jd − R_d)²
             (Q's error is shared by all keys of a row; for the output this
             sum is its expectation over V independent of K. For the LSE the
             shared part is added coherently, see below.)
  V        error var Δv²/12 → Σ_j w_j² Δv_jd²/12
  P        weights c_j·p̂_j/l with c_j = exp(m_ref(j) − m_final) the factor
           that rescales a block's P to the final max, e_j = p̂_j − p_j:
           l from unrounded P (paper, fp16, e4m3):  Σ_j c_j² E[e_j²] v_jd² / l²
           l from quantized P (intfa's uint8):      Σ_j c_j² E[e_j²] (v_jd − R_d)² / l²
  LSE      δlse = Σ_j w_j ε_j + δl/l: K's score errors add incoherently
           (Σ_j w_j² scale² Σ_d q_d² Δk_jd²), Q's coherently
           (scale² Σ_d Δq_d² (Σ_j w_j k_jd)²: softmax cancels a common shift
           in the output, not in the LSE), plus Σ_j c_j² E[e_j²] / l² when l
           is summed from the quantized P.

Predicted E|ΔO| = sqrt(2/π)·σ for Gaussian-like sums of many small errors.

Extensions over the C++ model, whose inputs are always random float32 and
whose outputs are float32 (each is exact, not a fit):
  * an input element already on the fp16 grid (fp16 data, or bf16 data in
    fp16's range) is not changed by an fp16 format: variance 0;
  * `p="bf16"`: P rounded to bfloat16 (the CUDA half-int8 kernel with bf16 V);
  * `v="none"`: V used as is (the CUDA half-int8 kernel keeps 16-bit V);
  * `out_dtype` float16/bfloat16: the output's own rounding, step(R)²/12 per
    element, added to its variance;
  * `top_left`: torch SDPA's causal alignment (query i sees keys j <= i)
    instead of FlashAttention's bottom-right one (j <= i + Sk − Sq);
  * `exact_one` (default on): a key at its own reference max has p = exp(0)
    = 1, which every P format holds exactly (127, 255, fp16 1.0, e4m3 1.0):
    variance 0, where the C++ model counts step(1)²/12. That is the largest
    P rounding term in the relative formats (fp16's step at 1 is twice the
    step just below it, and the max key has the largest weight): counting it
    overestimates the fp16 recipe's error by ~7% on N(0, 1) data (ratio
    0.93) and by ~25% when Q, K, V are fp16 already and P is the only
    rounding (ratio 0.75, at the edge of the band); not counting it, the
    ratios are 0.98–1.03. The int8/uint8 formats barely move (one key in
    Sk, or one per block, has a uniform step). exact_one=False reproduces
    the C++ model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Union

import numpy as np

_FP16_MIN_NORMAL = 2.0**-14  # 6.103515625e-05
_E4M3_MIN_NORMAL = 2.0**-6   # 0.015625
_BF16_MIN_NORMAL = 2.0**-126


def _exponent(a):
    """floor(log2 a) for a > 0, exactly (frexp: a = m·2^e, m in [0.5, 1))."""
    return np.frexp(a)[1] - 1


# Rounding step of x in each format (x in the format's own units).
def fp16_step(x):
    a = np.abs(x)
    return np.where(a < _FP16_MIN_NORMAL, 2.0**-24,  # subnormal: 2^-24
                    np.ldexp(1.0, _exponent(np.maximum(a, _FP16_MIN_NORMAL)) - 10))


def e4m3_step(x):
    a = np.abs(x)
    return np.where(a < _E4M3_MIN_NORMAL, 2.0**-9,  # subnormal: 2^-9
                    np.ldexp(1.0, _exponent(np.maximum(a, _E4M3_MIN_NORMAL)) - 3))


def bf16_step(x):  # extension (see the module docstring)
    a = np.abs(x)
    return np.where(a < _BF16_MIN_NORMAL, 2.0**-133,
                    np.ldexp(1.0, _exponent(np.maximum(a, _BF16_MIN_NORMAL)) - 7))


def rounding_var(x, step):
    """E[e²] for rounding x to a grid of `step` (flush to zero below half a step)."""
    a = np.abs(x)
    return np.where(a < step / 2, a * a, step * step / 12.0)


def _fp16_input_var(x):
    """fp16 rounding of an input tensor: 0 where x is already an fp16 value."""
    on_grid = x.astype(np.float16).astype(np.float64) == x
    return np.where(on_grid, 0.0, rounding_var(x, fp16_step(x)))


def _per_token_int8_var(x):
    """int8 per token: step amax/127 with amax over the last (head) axis."""
    amax = np.abs(x).max(axis=-1, keepdims=True)
    return rounding_var(x, amax / 127.0)


def _e4m3_tensor_var(x, tensor_scale):
    """E4M3 of x / s with one scale s = amax(whole tensor) / 448."""
    if tensor_scale == 0:
        return np.zeros_like(x)
    return rounding_var(x, e4m3_step(x / tensor_scale) * tensor_scale)


def _qk_var(x, fmt, tensor_scale):
    if fmt == "int8_per_token":
        return _per_token_int8_var(x)
    if fmt == "fp16":
        return _fp16_input_var(x)
    if fmt == "e4m3_per_tensor":
        return _e4m3_tensor_var(x, tensor_scale)
    raise ValueError(f"unknown Q/K format {fmt!r}")


def _p_var(p, fmt):
    if fmt == "int8_running_max":
        return rounding_var(p, 1.0 / 127.0)
    if fmt == "uint8_block_max":
        return rounding_var(p, 1.0 / 255.0)
    if fmt == "fp16":
        return rounding_var(p, fp16_step(p))
    if fmt == "e4m3":
        return rounding_var(p, e4m3_step(p))
    if fmt == "bf16":
        return rounding_var(p, bf16_step(p))
    raise ValueError(f"unknown P format {fmt!r}")


_OUT_STEP = {"float16": fp16_step, "bfloat16": bf16_step}


@dataclass
class Prediction:
    rel_l1: float           # predicted Σ|ΔO| / Σ|R|
    ref_l1: float           # Σ|R|
    sigma: np.ndarray       # [B, Sq, H, D] predicted std. dev. of each output element's error
    ref: np.ndarray         # [B, Sq, H, D] exact output R (float64; 0 on rows that see no key)
    lse_sigma: np.ndarray   # [B, H, Sq] predicted std. dev. of the LSE error
    visible: np.ndarray     # [Sq] number of keys each query row sees


def _centered_sum(a, v, r):
    """Σ_j a_j (v_jd − R_d)² for every row, as matmuls: a [..., Sq, Sk] ≥ 0,
    v [..., Sk, D], r [..., Sq, D]. v and r are shifted by V's mean first (the
    sum does not change) so that the expansion does not cancel."""
    mu = v.mean(axis=-2, keepdims=True)
    vc, rc = v - mu, r - mu
    out = a @ (vc * vc) - 2.0 * rc * (a @ vc) + rc * rc * a.sum(axis=-1, keepdims=True)
    return np.maximum(out, 0.0)


def predict_error(q, k, v, recipe: Union[str, Mapping], kv_block: int, causal: bool = False,
                  scale: Optional[float] = None, layout: str = "bshd", top_left: bool = False,
                  out_dtype: str = "float32", exact_one: bool = True,
                  query_rows=None) -> Prediction:
    """Predicts the error of `recipe` on q, k, v (the values the library sees:
    pass 16-bit inputs as they are, or their float64 copies), with key blocks
    of `kv_block` (the granularity of the uint8 P scale and of the
    rescaling). Causal masking is bottom-right aligned unless top_left.

    recipe: a name ("intfa", "paper+p-u8", ...; resolved by
    intfa.recipe_info) or a mapping with the formats 'qk', 'smooth_k', 'v',
    'p' (recipe_info's keys; extensions: p="bf16", v="none").

    query_rows: indices of the query rows to predict (default all; the
    model treats rows independently, so a subset costs proportionally less);
    the returned arrays then have len(query_rows) rows.

    exact_one=False gives error_model.hpp's numbers (for inputs it models:
    float32, float32 output, bottom-right causal); see the module docstring."""
    if isinstance(recipe, str):
        import intfa
        recipe = intfa.recipe_info(recipe)
    qk_fmt, v_fmt, p_fmt = recipe["qk"], recipe["v"], recipe["p"]
    smooth_k = bool(recipe["smooth_k"])

    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    if layout == "bhsd":
        q, k, v = (x.transpose(0, 2, 1, 3) for x in (q, k, v))
    elif layout != "bshd":
        raise ValueError(f"layout must be bshd or bhsd, got {layout!r}")
    B, Sq, H, D = q.shape
    Sk, Hk = k.shape[1], k.shape[2]
    G = H // Hk
    scale = 1.0 / np.sqrt(D) if scale is None else float(scale)

    # Per-tensor amax for the FP8 formats (all batches and heads).
    fp8_sq, fp8_sk, fp8_sv = (float(np.abs(x).max(initial=0.0)) / 448.0 for x in (q, k, v))

    # Keys query row i sees: j < visible[i] (a prefix), masked keys have w = 0.
    i = np.arange(Sq) if query_rows is None else np.asarray(query_rows)
    if not causal:
        visible = np.full(len(i), Sk)
    elif top_left:
        visible = np.clip(i + 1, 0, Sk)
    else:
        visible = np.clip(i + Sk - Sq + 1, 0, Sk)
    if query_rows is not None:  # from here on, Sq counts the rows predicted
        q = q[:, i]
        Sq = len(i)
    mask = np.arange(Sk)[None, :] < visible[:, None]  # [Sq, Sk]
    any_key = visible > 0                              # [Sq]

    # Key blocks: block index of each key, padded to whole blocks.
    nblk = max(1, -(-Sk // kv_block))
    pad = nblk * kv_block - Sk
    block_of = np.arange(Sk) // kv_block

    sigma = np.zeros((B, Sq, H, D))
    ref = np.zeros((B, Sq, H, D))
    lse_sigma = np.zeros((B, H, Sq))

    # One batch at a time, vectorized over KV heads hk, the G query heads of
    # each (GQA), query rows i, keys j and channels d:
    # scores etc. are [Hk, G, Sq, Sk], K and V [Hk, 1, Sk, D].
    for b in range(B):
        # Keys (smoothed when the recipe smooths), their per-element error
        # variances, and V's.
        # (contiguous copies: matmul uses BLAS only on contiguous matrices)
        kk = np.ascontiguousarray(k[b].transpose(1, 0, 2))[:, None]  # [Hk, 1, Sk, D]
        if smooth_k:
            kk = kk - kk.mean(axis=2, keepdims=True)
        vv = np.ascontiguousarray(v[b].transpose(1, 0, 2))[:, None]  # [Hk, 1, Sk, D]
        k_var = _qk_var(kk, qk_fmt, fp8_sk)
        if v_fmt in ("int8_per_tensor", "int8_per_channel"):
            v_amax = np.abs(vv).max(axis=2, keepdims=True)   # per channel [Hk, 1, 1, D]
            if v_fmt == "int8_per_tensor":
                v_amax = np.broadcast_to(v_amax.max(axis=3, keepdims=True), v_amax.shape)
            v_var = rounding_var(vv, v_amax / 127.0)
        elif v_fmt == "fp16":
            v_var = _fp16_input_var(vv)
        elif v_fmt == "e4m3_per_tensor":
            v_var = _e4m3_tensor_var(vv, fp8_sv)
        elif v_fmt == "none":
            v_var = np.zeros_like(vv)
        else:
            raise ValueError(f"unknown V format {v_fmt!r}")

        qg = np.ascontiguousarray(q[b].reshape(Sq, Hk, G, D).transpose(1, 2, 0, 3))
        # qg: [Hk, G, Sq, D], query head h = hk·G + g
        q_var = _qk_var(qg, qk_fmt, fp8_sq)
        kt = kk.swapaxes(-1, -2)                              # [Hk, 1, D, Sk]

        # Exact scores, weights, output over the keys each row sees.
        with np.errstate(invalid="ignore", over="ignore"):
            z = np.where(mask, scale * (qg @ kt), -np.inf)                # [Hk, G, Sq, Sk]
            kq = (qg * qg) @ k_var.swapaxes(-1, -2)                        # Σ_d q² Δk²
            z_var = scale * scale * (kq + q_var @ (kt * kt))
            m = np.where(any_key, z.max(axis=-1), 0.0)[..., None]          # final max
            e = np.where(mask, np.exp(z - m), 0.0)
            l = e.sum(axis=-1, keepdims=True)
            l_safe = np.where(l > 0, l, 1.0)
            w = e / l_safe
            r = w @ vv                                                      # [Hk, G, Sq, D]

            # Reference max of each key's P: the running max (paper, fp16,
            # e4m3) or the block's own max (uint8), in final-max units c_j.
            zp = np.pad(z, ((0, 0),) * 3 + ((0, pad),), constant_values=-np.inf)
            block_max = zp.reshape(*z.shape[:-1], nblk, kv_block).max(axis=-1)
            if p_fmt == "uint8_block_max":
                m_ref = block_max
            else:
                m_ref = np.maximum.accumulate(block_max, axis=-1)
            m_ref = m_ref[..., block_of]                                     # [Hk, G, Sq, Sk]
            p = np.where(mask, np.exp(z - m_ref), 0.0)
            c = np.where(mask, np.exp(m_ref - m), 0.0)
            p_var = np.where(mask, _p_var(p, p_fmt), 0.0)
            if exact_one:  # p = exp(0) = 1 at a key's own reference max: exact
                p_var = np.where(p == 1.0, 0.0, p_var)
        l_from_quantized = p_fmt == "uint8_block_max"
        cp = c * c * p_var / (l_safe * l_safe)                               # c_j² E[e_j²] / l²
        w2 = w * w

        # LSE: K's rounding is independent per key, but Q's is shared by all
        # keys of the row, so its effect adds coherently: Δq · Σ_j w_j k_j.
        # (Softmax cancels that common shift in the output, not in the LSE.)
        k_mean_w = w @ kk                                                    # [Hk, G, Sq, D]
        lse_var = scale * scale * (q_var * k_mean_w * k_mean_w).sum(axis=-1)
        lse_var += scale * scale * (w2 * kq).sum(axis=-1)
        if l_from_quantized:
            lse_var += cp.sum(axis=-1)

        # Output: score errors, V's rounding, P's rounding.
        var = _centered_sum(w2 * z_var, vv, r) + w2 @ v_var
        var += _centered_sum(cp, vv, r) if l_from_quantized else cp @ (vv * vv)
        if out_dtype in _OUT_STEP:
            var += rounding_var(r, _OUT_STEP[out_dtype](r))
        elif out_dtype != "float32":
            raise ValueError(f"unknown out_dtype {out_dtype!r}")
        var = np.where(any_key[:, None], var, 0.0)

        # [Hk, G, Sq, ...] -> [Sq, H, ...] (query head h = hk·G + g)
        sigma[b] = np.sqrt(var).transpose(2, 0, 1, 3).reshape(Sq, H, D)
        ref[b] = r.transpose(2, 0, 1, 3).reshape(Sq, H, D)
        lse_sigma[b] = np.where(any_key, np.sqrt(lse_var), 0.0).reshape(H, Sq)

    ref_l1 = float(np.abs(ref).sum())
    rel = float(np.sqrt(2.0 / np.pi) * sigma.sum() / ref_l1) if ref_l1 > 0 else 0.0
    return Prediction(rel_l1=rel, ref_l1=ref_l1, sigma=sigma, ref=ref, lse_sigma=lse_sigma,
                      visible=visible)
