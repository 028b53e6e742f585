"""Stage set-up shared by every entry point under stages/llm: torch threads
from $STUDY_THREADS (the orchestrator's slot count; default 1), the device
(--device cpu|cuda|cuda:N), the checks every numeric option gets, the --out
directory discipline (checked before any model is loaded; built in a
temporary directory next to it and renamed in at the end, so a failed run
leaves nothing half-written), --help text with meanings and defaults, and
one way to report errors (KitError -> '<prog>: error: ...', status 2).

This module imports no other llmkit module but errors (the data stage's
code: list in studies/real-tiny.yaml holds only __init__, errors, runtime)."""
import argparse
import os
import shutil
import sys

# temporary build directories of check_out, removed by main when the stage fails
TEMP_DIRS = []
PYTHON_HINT = ("the stages need Python 3 with PyTorch: call /usr/bin/python3 (Debian's "
               "python3-torch; `make deps` installs it), or on the GPU machine "
               "/opt/torch/.venv/bin/python3")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help: the module docstring as written, each option's meaning and its
    default."""


def parser(prog, doc):
    """An ArgumentParser whose --help shows the stage's docstring (doc)."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=HelpFormatter)


def threads():
    """$STUDY_THREADS as a positive int (default 1); KitError otherwise."""
    from .errors import KitError
    v = os.environ.get("STUDY_THREADS", "") or "1"
    try:
        n = int(v)
    except ValueError:
        n = 0
    if n < 1:
        raise KitError(f"environment STUDY_THREADS: '{v}' is not a positive integer")
    return n


def check_device(device):
    """KitError unless device is cpu, cuda or cuda:N (N a non-negative int).
    Needs no torch: stages check it before loading anything."""
    from .errors import KitError
    ok = device in ("cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    if not ok:
        raise KitError(f"--device: '{device}' is not cpu, cuda or cuda:N")


def setup_torch(device="cpu"):
    """Sets torch's intra-op threads from STUDY_THREADS and returns the device.

    Raises KitError for an unknown device, cuda without a GPU or a GPU index
    out of range."""
    import torch
    from .errors import KitError

    torch.set_num_threads(threads())
    check_device(device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise KitError(f"--device {device}: no CUDA device is available to torch")
        if ":" in device and int(device[5:]) >= torch.cuda.device_count():
            raise KitError(f"--device {device}: torch sees {torch.cuda.device_count()} "
                           "CUDA device(s)")
    return torch.device(device)


def compute_dtype(dtype, device):
    """The dtype a model computes in: float16 on CPU becomes float32 (torch's
    CPU kernels lack float16 matmuls, 'addmm_impl_cpu_ not implemented for
    Half'); checkpoints are still saved in their own dtype. bfloat16 on CPU
    is kept (torch has its CPU kernels)."""
    import torch
    if dtype == torch.float16 and torch.device(device).type == "cpu":
        return torch.float32
    return dtype


def need(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """KitError '--name: V is ...' unless lo <= value <= hi (open ends with
    lo_open / hi_open); returns value. None passes (an unset option)."""
    from .errors import KitError
    if value is None:
        return value
    if value != value:
        raise KitError(f"--{name}: {value} is not a number")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise KitError(f"--{name}: {value} must be {'above' if lo_open else 'at least'} {lo}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise KitError(f"--{name}: {value} must be {'below' if hi_open else 'at most'} {hi}")
    return value


def json_object_arg(name, text):
    """The dict a JSON-object option (--chat-kwargs) holds; KitError
    '--name: not a JSON object (why)' otherwise."""
    import json
    from .errors import KitError
    try:
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise KitError(f"--{name}: not a JSON object ({e})")
    return obj


def check_out(out):
    """--out, checked before any work: a directory that does not exist yet
    (its parent must) or an empty one (a stage's ${out}). A non-empty
    directory is refused: the kit never deletes or mixes with files it did
    not write. Returns the temporary build directory next to out
    (out.tmp<pid>), created empty."""
    from .errors import KitError
    out = os.path.normpath(out)
    if os.path.lexists(out):
        if not os.path.isdir(out):
            raise KitError(f"--out: '{out}' exists and is not a directory")
        if os.listdir(out):
            raise KitError(f"--out: '{out}' is not empty (the stage writes a new directory; "
                           "remove it or choose another)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise KitError(f"--out: '{out}': parent directory '{parent}' does not exist")
    tmp = f"{out}.tmp{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp)
        TEMP_DIRS.append(tmp)
    except OSError as e:
        raise KitError(f"--out: '{out}': cannot create '{tmp}': {e.strerror}")
    return tmp


def finish_out(tmp, out):
    """Moves the built directory tmp into place: renamed to out, or (when
    out is an existing empty directory, e.g. a stage's ${out} that must stay
    the same directory) each file renamed into it."""
    out = os.path.normpath(out)
    if not os.path.isdir(out):
        os.replace(tmp, out)
        return
    for name in sorted(os.listdir(tmp)):
        os.replace(os.path.join(tmp, name), os.path.join(out, name))
    os.rmdir(tmp)


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
    """Runs fn() and turns a KitError into '<prog>: error: ...', status 2.
    Checks first that torch imports (else the same form of error naming the
    Python to use). When fn fails, check_out's temporary directories are
    removed."""
    from .errors import KitError

    try:
        import torch  # noqa: F401
    except ImportError as e:
        print(f"{prog}: error: {sys.executable}: cannot import torch ({e}); {PYTHON_HINT}",
              file=sys.stderr)
        sys.exit(2)
    ok = False
    try:
        threads()  # a bad STUDY_THREADS fails before any work
        rc = fn()
        ok = True
    except KitError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    finally:
        if not ok:
            for d in TEMP_DIRS:
                shutil.rmtree(d, ignore_errors=True)
    sys.exit(rc or 0)
