"""CUDA tensors given to an intfa built without CUDA raise
BackendUnavailableError with the reason (the extension never reads device
memory as host memory). Runs only where torch sees a GPU."""
import pytest

import intfa

torch = pytest.importorskip("torch", reason="PyTorch is not installed")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")
@pytest.mark.skipif(intfa.built_with_cuda, reason="this intfa has the CUDA back-end")
def test_cuda_tensors_on_a_cpu_only_build():
    x = torch.zeros(1, 8, 2, 64, device="cuda")
    with pytest.raises(intfa.BackendUnavailableError, match="built without CUDA"):
        intfa.attention(x, x, x)
