import os
from pathlib import Path

import pytest
import torch

# Keep CPU runs predictable on the 2-core CI machine.
torch.set_num_threads(min(2, os.cpu_count() or 1))
# Under pytest-xdist (two workers) each worker gets one torch thread: two busy threads on two cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data():
    """../shared/data beside the checkout; tests that need it skip cleanly when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED
