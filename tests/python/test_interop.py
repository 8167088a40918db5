"""Other DLPack frameworks: JAX arrays on the CPU and CuPy arrays on CUDA are
read in place and give outputs of their own kind. Each test skips when its
framework (or, for CuPy, a GPU and an intfa with CUDA) is missing."""
import os

import numpy as np
import pytest

import intfa
from _helpers import check_accuracy, make_qkv


def test_jax_cpu_arrays(rng):
    # CPU only: a GPU JAX would also reserve most of the GPU's memory at start-up,
    # starving the torch tests that run after this one.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jnp = jax.numpy
    cpu = jax.devices("cpu")[0]
    q, k, v = make_qkv(1, 40, 60, 4, 2, 64, seed=41)
    jq, jk, jv = (jax.device_put(x, cpu) for x in (q, k, v))
    out, lse = intfa.attention(jq, jk, jv, causal=True, return_lse=True)
    assert isinstance(out, jax.Array) and isinstance(lse, jax.Array)
    np.testing.assert_array_equal(np.asarray(out), intfa.attention(q, k, v, causal=True))
    qi = intfa.quantize(jq, jk, jv)
    assert isinstance(qi.q_int8, jax.Array)
    np.testing.assert_array_equal(np.asarray(intfa.attention_quantized(qi, causal=True)),
                                  np.asarray(out))
    # bf16 inputs, fp32 output: the model on the values the library saw
    bq, bk, bv = (jax.device_put(x, cpu).astype(jnp.bfloat16)
                  for x in make_qkv(2, 40, 60, 4, 2, 64, seed=rng))
    bf, lse = intfa.attention(bq, bk, bv, causal=True, out_dtype="float32", return_lse=True)
    check_accuracy(np.asarray(bf), np.asarray(lse),
                   *(np.asarray(x, dtype=np.float32) for x in (bq, bk, bv)), "intfa",
                   "jax bf16 inputs", causal=True)
    with pytest.raises(ValueError, match="NumPy buffers, which have no bfloat16"):
        intfa.attention(bq, bk, bv)


def test_cupy_arrays(rng):
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"CuPy cannot reach a CUDA device ({type(e).__name__})")
    if not intfa.cuda_available():
        pytest.skip("intfa has no CUDA back-end here")
    q, k, v = make_qkv(1, 128, 160, 4, 2, 64, seed=rng, dtype="float16")
    cq, ck, cv = (cupy.asarray(x) for x in (q, k, v))
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        out = intfa.attention(cq, ck, cv, causal=True)
    stream.synchronize()
    assert isinstance(out, cupy.ndarray) and out.dtype == cupy.float16
    check_accuracy(cupy.asnumpy(out), None, q, k, v, "intfa", "cupy", causal=True,
                   backend="cuda", out_dtype="float16")
