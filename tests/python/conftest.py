"""pytest configuration for the intfa Python tests.

The package under test is whatever `import intfa` finds: the installed wheel
(`pip install .`) or the build tree's staged package (PYTHONPATH set by
tests/python/CMakeLists.txt). An import failure is a test failure, never a
skip: CI installs the package before running these tests.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

try:
    import intfa  # noqa: E402
except ImportError as e:  # a failure, with the way out, never a skip
    pytest.exit(f"the intfa package is not importable by {sys.executable} ({e}): install it "
                "with `pip install .` (docs/PYTHON.md), or configure CMake with "
                "-DINTFA_BUILD_PYTHON=ON to test the build tree", returncode=4)


def pytest_report_header(config):
    try:
        import torch
        torch_line = f"torch {torch.__version__}, CUDA visible: {torch.cuda.is_available()}"
    except Exception as e:  # noqa: BLE001
        torch_line = f"torch not importable ({type(e).__name__})"
    return [
        f"intfa {intfa.__version__} from {os.path.dirname(intfa.__file__)}",
        f"intfa built with CUDA: {intfa.built_with_cuda}, CUDA back-end available: "
        f"{intfa.cuda_available()}, torch ops registered: {intfa.torch_ops_registered}",
        torch_line,
    ]
