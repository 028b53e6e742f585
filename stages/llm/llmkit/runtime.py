"""Stage set-up shared by every entry point under stages/llm: torch threads
from $STUDY_THREADS (the orchestrator's slot count; default 1), the device
(--device cpu|cuda), and one way to report errors (KitError -> status 2,
nothing half-written is left: entry points write into a temporary name and
rename, see write_atomic)."""
import os
import sys


def setup_torch(device="cpu"):
    """Sets torch's intra-op threads from STUDY_THREADS and returns the device.

    Raises KitError for an unknown device or cuda without a GPU."""
    import torch
    from .errors import KitError

    threads = int(os.environ.get("STUDY_THREADS", "1") or "1")
    torch.set_num_threads(max(1, threads))
    if device not in ("cpu", "cuda"):
        raise KitError(f"--device: '{device}' is not cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise KitError("--device cuda: no CUDA device is available to torch")
    return torch.device(device)


def write_atomic(path, data):
    """Writes bytes or str to path through a temporary file and a rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(prog, fn):
    """Runs fn() and turns a KitError into '<prog>: error: ...', status 2."""
    from .errors import KitError

    try:
        rc = fn()
    except KitError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rc or 0)
