"""pytest configuration for the intfa Python tests.

The package under test is whatever `import intfa` finds: the installed wheel
(`pip install .`) or the build tree's staged package (PYTHONPATH set by
tests/python/CMakeLists.txt). An import failure is a test failure, never a
skip: CI installs the package before running these tests.
"""
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:
    import intfa  # noqa: E402
except ImportError as e:  # a failure, with the way out, never a skip
    pytest.exit(f"the intfa package is not importable by {sys.executable} ({e}): install it "
                "with `pip install .` (docs/PYTHON.md), or configure CMake with "
                "-DINTFA_BUILD_PYTHON=ON to test the build tree", returncode=4)


import _helpers  # noqa: E402

# One seed per run: fresh unless INTFA_TEST_SEED is set (as the C++ suites).
# The accuracy tests draw their inputs from it, so every run tests new data;
# the header and every accuracy failure print it for replaying.
_env_seed = os.environ.get("INTFA_TEST_SEED", "")
RUN_SEED = int(_env_seed) if _env_seed else int(np.random.SeedSequence().entropy % 2**63)
_helpers.RUN_SEED = RUN_SEED


@pytest.fixture
def rng(request):
    """A generator for one test, derived from the run seed and the test's id."""
    request.node.user_properties.append(("seed", RUN_SEED))  # in --junitxml reports
    return np.random.default_rng([RUN_SEED, zlib.crc32(request.node.nodeid.encode())])


def pytest_terminal_summary(terminalreporter):
    rec = _helpers.RECORDED
    if not rec:
        return
    ratios = [r for _, _, r, _ in rec]
    lo, hi = min(rec, key=lambda x: x[2]), max(rec, key=lambda x: x[2])
    worst_z = max(rec, key=lambda x: x[3])
    terminalreporter.write_line(
        f"intfa accuracy: {len(rec)} checks against the noise model (seed {RUN_SEED}): "
        f"measured/predicted rel-L1 {lo[2]:.3f} ({lo[1]}: {lo[0]}) .. {hi[2]:.3f} "
        f"({hi[1]}: {hi[0]}), median {float(np.median(ratios)):.3f}; max LSE error "
        f"{worst_z[3]:.2f} sigma ({worst_z[1]}: {worst_z[0]})")


def pytest_report_header(config):
    try:
        import torch
        torch_line = f"torch {torch.__version__}, CUDA visible: {torch.cuda.is_available()}"
    except Exception as e:  # noqa: BLE001
        torch_line = f"torch not importable ({type(e).__name__})"
    return [
        f"intfa test seed: {RUN_SEED} (replay with INTFA_TEST_SEED={RUN_SEED})",
        f"intfa {intfa.__version__} from {os.path.dirname(intfa.__file__)}",
        f"intfa built with CUDA: {intfa.built_with_cuda}, CUDA back-end available: "
        f"{intfa.cuda_available()}, torch ops registered: {intfa.torch_ops_registered}",
        torch_line,
    ]
