"""Measures the error of each recipe over _helpers.SWEEP (both input
distributions of make_qkv) and prints the worst cases behind
_helpers.TOLERANCES. Not a test: run `python3 tests/python/measure_tolerances.py`
after a change to the numerics, then update TOLERANCES (worst x 1.5).
Takes about a minute and a half on 2 cores."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import intfa  # noqa: E402
from _helpers import RECIPES, SWEEP, TOLERANCES, make_qkv, reference, rel_l1  # noqa: E402


def main():
    print(f"{'recipe':<12} {'rel-L1':>9} {'max-abs':>9} {'lse':>9}   bounds in _helpers.py")
    for recipe in RECIPES:
        worst = [0.0, 0.0, 0.0]
        for hk, (sq, sk), d, causal, dtype, seed in SWEEP:
            for shift in (False, True):
                q, k, v = make_qkv(2, sq, sk, 4, hk, d, dtype, seed, shift=shift)
                out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe,
                                           out_dtype="float32", return_lse=True)
                ref, ref_lse = reference(q, k, v, causal)
                fin = np.isfinite(ref_lse)
                worst[0] = max(worst[0], rel_l1(out, ref))
                worst[1] = max(worst[1], float(np.abs(out - ref).max()))
                worst[2] = max(worst[2], float(np.abs(lse[fin] - ref_lse[fin]).max()))
        print(f"{recipe:<12} {worst[0]:9.4g} {worst[1]:9.4g} {worst[2]:9.4g}   "
              f"{TOLERANCES[recipe]}", flush=True)


if __name__ == "__main__":
    main()
