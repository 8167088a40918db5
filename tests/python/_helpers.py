"""Shared helpers of the Python tests: random inputs, a float64 NumPy
reference, and the accuracy check against the rounding-noise model.

Accuracy (check_accuracy): the tolerance is derived from the quantization
error, never tuned. error_model.py (a NumPy port of tests/cpu/error_model.hpp)
predicts each recipe's relative L1 error and each row's LSE standard
deviation from the data of the call; the test requires, as the C++ suite
(tests/cpu/test_accuracy.cpp):

  * measured / predicted relative L1 of O in [0.7, 1.25]:
    - the model is first order and treats each key's score error as
      independent. With channel offsets and no K smoothing it overcounts Q's
      rounding (the part common to all keys of a row cancels in softmax):
      ratios of 0.86–0.95 are seen there (half-int8, whose error is mostly
      that, lowest); a peaked softmax (scale 0.3) adds second-order error:
      1.0–1.17 (400 trials); elsewhere 0.93–1.05. Over 40 runs of
      test_numpy.py (3,160 checks) all ratios were within 0.88–1.08;
    - the measured L1 is a sum over >= 10^4 elements (MIN_ELEMENTS, checked):
      its sampling noise is about 1–3% (output errors of one KV head share V's
      rounding, so fewer than 10^4 of them are independent: on U(-0.5, 0.5)
      data, where V's rounding dominates, the checks spread over 8 (batch,
      KV head) pairs);
    - the lower bound makes the test fail when a rounding step the recipe
      prescribes is skipped (e.g. P left unquantized, another recipe run),
      not only when the result is too coarse;
  * every row's |ΔLSE| within 6 predicted standard deviations (plus 1e-6
    relative for the float32 arithmetic of the LSE itself): a 6-sigma
    excursion of a Gaussian has probability ~2e-9 per row;
  * rows that see no key (causal, Sq > Sk): O exactly 0 and LSE -inf.

Randomness: every accuracy test draws fresh inputs (the `rng` fixture of
conftest.py, from one seed per run, printed in the header and in every
failure; INTFA_TEST_SEED=<seed> replays a run).
"""
from __future__ import annotations

import numpy as np

import intfa
from error_model import predict_error

RECIPES = ("intfa", "paper", "half-int8", "fp16", "fp8-tensor")  # the base recipes

# Acceptance band for measured / predicted relative L1, and the LSE bound in
# predicted standard deviations (reasons in the module docstring).
RATIO_LOW, RATIO_HIGH = 0.7, 1.25
LSE_SIGMAS = 6.0
# Output elements (of rows that see a key) a check needs for its L1 estimate
# to be a statistic and not one sample.
MIN_ELEMENTS = 10_000

# Every accuracy check of the session: (what, measured / predicted, max LSE z).
# conftest.py prints their range at the end of the run.
RECORDED = []

# The run seed (conftest.py sets it; part of every failure message).
RUN_SEED = None


def make_qkv(b=2, sq=64, sk=64, h=4, hk=4, d=32, dtype="float32", seed=0, layout="bshd",
             shift=True, dist=None):
    """Random inputs. `seed`: an int or a numpy Generator (the `rng` fixture).
    dist: "normal" N(0, 1); "uniform" U(-0.5, 0.5); "shifted" N(0, 1) with a
    per-channel offset on Q and K (mean 0.5 and 1.0) as real activations have,
    which exercises K smoothing and its LSE correction. Without dist, `shift`
    picks "shifted" or "normal"."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dist = dist or ("shifted" if shift else "normal")
    if dist == "uniform":
        draw = lambda shape: rng.uniform(-0.5, 0.5, shape)  # noqa: E731
    elif dist in ("normal", "shifted"):
        draw = rng.standard_normal
    else:
        raise ValueError(f"unknown dist {dist!r}")
    q = draw((b, sq, h, d))
    k = draw((b, sk, hk, d))
    v = draw((b, sk, hk, d))
    if dist == "shifted":
        q += 0.5 * rng.random(d)
        k += 1.0 * rng.random(d)
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    if layout == "bhsd":
        q, k, v = (np.ascontiguousarray(x.transpose(0, 2, 1, 3)) for x in (q, k, v))
    return q, k, v


def to_bshd(x, layout):
    return x if layout == "bshd" else x.transpose(0, 2, 1, 3)


def reference(q, k, v, causal=False, scale=None, layout="bshd", top_left=False,
              query_rows=None):
    """Exact attention in float64: (out in `layout`, lse [B, H, Sq]).
    Causal masking is bottom-right aligned (FlashAttention, intfa) unless
    top_left (torch.nn.functional.scaled_dot_product_attention). Rows that
    see no key give out = 0 and lse = -inf. query_rows: only those query rows
    (indices into Sq), in that order."""
    q, k, v = (to_bshd(np.asarray(x, dtype=np.float64), layout) for x in (q, k, v))
    full_sq = q.shape[1]
    rows = np.arange(full_sq) if query_rows is None else np.asarray(query_rows)
    q = q[:, rows]
    b, sq, h, d = q.shape
    sk, hk = k.shape[1], k.shape[2]
    g = h // hk  # query head hk·g + i reads KV head hk
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    qg = q.reshape(b, sq, hk, g, d).transpose(0, 2, 3, 1, 4)  # [B, Hk, G, Sq, D]
    kt = k.transpose(0, 2, 3, 1)[:, :, None]                  # [B, Hk, 1, D, Sk]
    vg = v.transpose(0, 2, 1, 3)[:, :, None]                  # [B, Hk, 1, Sk, D]
    s = (qg @ kt) * scale
    if causal:
        i = rows[:, None]
        j = np.arange(sk)[None, :]
        visible = j <= i if top_left else j <= i + sk - full_sq
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m)
    l = p.sum(axis=-1, keepdims=True)
    out = (p / np.where(l > 0, l, 1.0)) @ vg                  # [B, Hk, G, Sq, D]
    out = out.reshape(b, h, sq, d).transpose(0, 2, 1, 3)
    with np.errstate(divide="ignore"):
        lse = (np.log(l) + m)[..., 0].reshape(b, h, sq)
    return (out if layout == "bshd" else out.transpose(0, 2, 1, 3)), lse


def sdpa_problem(k, v, is_causal, sq):
    """The attention problem intfa.sdpa (torch semantics, bhsd) solves, for the
    error model: (k, v, causal, top_left). torch's is_causal is top-left
    aligned; with Sq < Sk only the first Sq keys are visible, and intfa.sdpa
    hands intfa.attention only those (K smoothing then averages over them)."""
    sk = k.shape[-2]
    if is_causal and sq < sk:
        return k[..., :sq, :], v[..., :sq, :], True, False
    return k, v, bool(is_causal), bool(is_causal and sq > sk)


def _seed_note():
    return f"(replay with INTFA_TEST_SEED={RUN_SEED})"


def check_accuracy(out, lse, q, k, v, recipe, what, *, causal=False, scale=None,
                   layout="bshd", top_left=False, out_dtype="float32", backend="cpu",
                   formats=None, ref_out=None, extra_sigma=None, query_rows=None):
    """Checks intfa's out (and lse, unless None) on q, k, v against the
    rounding-noise model of `recipe` (see the module docstring). q, k, v are
    the values the library saw (NumPy, any float dtype). The model uses the
    back-end's key block (intfa's default_kv_block). formats: the recipe's
    formats when they differ from recipe_info's (the CUDA half-int8 kernels).
    ref_out/extra_sigma: compare with another implementation's output instead
    of the exact one, whose own error has standard deviation extra_sigma
    (per element of the checked rows, in `layout`; None for an exact one) and
    is independent of intfa's. query_rows: check only those query rows (a
    sample of a large problem; out, lse and ref_out are passed whole).
    Returns measured / predicted."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    d = q.shape[-1]
    kv_block = intfa._core.default_kv_block(backend, recipe, d)
    pred = predict_error(q, k, v, formats or recipe, kv_block, causal=causal, scale=scale,
                         layout=layout, top_left=top_left, out_dtype=out_dtype,
                         query_rows=query_rows)
    ref, ref_lse = reference(q, k, v, causal, scale=scale, layout=layout, top_left=top_left,
                             query_rows=query_rows)
    ref = to_bshd(ref, layout)
    rows = slice(None) if query_rows is None else np.asarray(query_rows)
    out = to_bshd(np.asarray(out, dtype=np.float64), layout)[:, rows]
    where = f"{what} [recipe {recipe}, kv_block {kv_block}] {_seed_note()}"

    assert out.shape == ref.shape, f"{where}: shape {out.shape} != {ref.shape}"
    assert np.isfinite(out).all(), f"{where}: non-finite output"
    seen = pred.visible > 0  # query rows that see at least one key
    n = int(seen.sum()) * out.shape[0] * out.shape[2] * out.shape[3]
    assert n >= MIN_ELEMENTS, f"{what}: {n} output elements, too few for an L1 statistic"
    assert (out[:, ~seen] == 0).all(), f"{where}: rows that see no key must be 0"

    sigma = pred.sigma
    target = ref
    if ref_out is not None:
        target = to_bshd(np.asarray(ref_out, dtype=np.float64), layout)[:, rows]
        if extra_sigma is not None and np.ndim(extra_sigma) > 0:
            sigma = np.sqrt(sigma**2 + to_bshd(np.asarray(extra_sigma), layout)**2)
    predicted = float(np.sqrt(2.0 / np.pi) * sigma.sum() / np.abs(ref).sum())
    measured = float(np.abs(out - target).sum() / np.abs(ref).sum())
    ratio = measured / predicted

    max_z = 0.0
    if lse is not None:
        lse = np.asarray(lse, dtype=np.float64)[:, :, rows]
        masked = ~np.isfinite(ref_lse)
        assert (np.isneginf(lse) == masked).all(), f"{where}: -inf LSE rows differ"
        fin = ~masked
        # A floor of 1e-6 relative for the float32 arithmetic of the LSE itself.
        bound = pred.lse_sigma[fin] + 1e-6 * (1.0 + np.abs(ref_lse[fin]))
        z = np.abs(lse[fin] - ref_lse[fin]) / bound
        max_z = float(z.max()) if z.size else 0.0
    RECORDED.append((what, recipe, ratio, max_z))

    assert RATIO_LOW <= ratio <= RATIO_HIGH, (
        f"{where}: relative L1 {measured:.4g}, predicted {predicted:.4g}: ratio {ratio:.3f} "
        f"outside [{RATIO_LOW}, {RATIO_HIGH}]")
    assert max_z <= LSE_SIGMAS, (
        f"{where}: an LSE error is {max_z:.2f} predicted sigmas (bound {LSE_SIGMAS})")
    return ratio


def prediction_sigma(q, k, v, recipe, *, kv_block, causal=False, scale=None, layout="bshd",
                     top_left=False, out_dtype="float32", formats=None, query_rows=None):
    """Per-element predicted error std. dev. (in `layout`, of query_rows) of
    another implementation described by `recipe`/`formats` (e.g. torch's fp16
    SDPA), for check_accuracy's extra_sigma."""
    pred = predict_error(q, k, v, formats or recipe, kv_block, causal=causal, scale=scale,
                         layout=layout, top_left=top_left, out_dtype=out_dtype,
                         query_rows=query_rows)
    return pred.sigma if layout == "bshd" else pred.sigma.transpose(0, 2, 1, 3)
