"""The safetensors file format: header validation, memory-mapped reads and
byte-stable, atomic writes. The one home of this format in the kit.

Format (huggingface/safetensors, README "Format" and safetensors/src/tensor.rs):
  8 bytes   N, the header length, unsigned 64-bit little-endian
  N bytes   a UTF-8 JSON object: {"__metadata__": {str: str} (optional),
            "<tensor name>": {"dtype": "F32", "shape": [d0, ...],
                              "data_offsets": [begin, end]}, ...}
            padded with spaces (0x20) to a multiple of 8 bytes by the writer
  rest      the data buffer; offsets are relative to its start (byte 8 + N),
            tensors are little-endian, C order, contiguous, and together they
            cover the buffer exactly (no gap, no overlap, nothing after).

Reading validates what the reference reader validates (header length within
the file and at most 100,000,000 bytes, UTF-8, a JSON object, offsets that
tile the buffer, byte counts that match shape x dtype, a file that ends where
the data ends) and more (duplicate names, types of every field); every error
is a KitError naming the file and, where there is one, the tensor.

Writing follows the reference writer (tensor.rs `prepare`): tensors ordered by
dtype alignment, largest first, then by name; compact JSON with "__metadata__"
first and the fields dtype, shape, data_offsets in that order; header padded
with spaces to a multiple of 8. Metadata keys are sorted (the reference writes
a hash map in arbitrary order), so the same tensors and metadata always give
the same bytes. Files are written to a temporary name in the same directory,
fsynced, then renamed.

Supported tensor dtypes for reading into and writing from torch: BF16, F16,
F32. The specification's other dtypes (F4, F6/F8 variants, integers, F64,
C64; sizes in bits) are accepted by read_header and refused by name by
read_safetensors/write_safetensors.
"""
import json
import mmap as _mmap
import os
import sys

from .errors import KitError

# element sizes in bits of every dtype the specification names, in the
# reference's Dtype declaration order (tensor.rs), which is also the writer's
# order key (largest first)
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8,
    "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
_DTYPE_RANK = {name: i for i, name in enumerate(DTYPE_BITS)}
# bytes per element of the dtypes the kit reads and writes
DTYPE_SIZES = {"BF16": 2, "F16": 2, "F32": 4}
SUPPORTED = ("BF16", "F16", "F32")
MAX_HEADER = 100_000_000  # the reference reader's limit


def _torch_dtypes():
    import torch
    return {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def dtype_name(torch_dtype):
    """'BF16' | 'F16' | 'F32' for a torch dtype; None for any other."""
    for name, dt in _torch_dtypes().items():
        if dt == torch_dtype:
            return name
    return None


def _check_little_endian():
    if sys.byteorder != "little":
        raise KitError("safetensors: this reader/writer supports little-endian hosts only")


def _nelements(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _no_duplicates(path):
    def hook(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise KitError(f"{path}: header: duplicate key '{k}'")
            seen[k] = v
        return seen
    return hook


def _parse_header(path, raw, size):
    """Validates the header bytes `raw` of a file of `size` bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise KitError(f"{path}: header is not valid UTF-8 (byte {8 + e.start} of the file)") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates(path))
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: header is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(obj, dict):
        raise KitError(f"{path}: header is not a JSON object (not a safetensors file?)")
    metadata = obj.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise KitError(f"{path}: __metadata__ is not an object of strings")
    for k, v in metadata.items():
        if not isinstance(v, str):
            raise KitError(f"{path}: __metadata__['{k}'] is not a string")
    header = {}
    for name, info in obj.items():
        where = f"{path}: tensor '{name}'"
        if not isinstance(info, dict):
            raise KitError(f"{where}: header entry is not an object")
        # other fields are ignored, as the reference reader does
        for field in ("dtype", "shape", "data_offsets"):
            if field not in info:
                raise KitError(f"{where}: header entry has no '{field}'")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_BITS:
            raise KitError(f"{where}: unknown dtype {json.dumps(dtype)}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise KitError(f"{where}: shape {json.dumps(shape)} is not a list of non-negative integers")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(_is_int(o) for o in offs)
                or offs[0] < 0 or offs[1] < offs[0]):
            raise KitError(f"{where}: data_offsets {json.dumps(offs)} is not [begin, end] with 0 <= begin <= end")
        bits = _nelements(shape) * DTYPE_BITS[dtype]
        if bits % 8:
            raise KitError(f"{where}: shape {shape} of {dtype} is {bits} bits, not whole bytes")
        need = bits // 8
        if offs[1] - offs[0] != need:
            raise KitError(f"{where}: data_offsets {offs} hold {offs[1] - offs[0]} bytes but "
                           f"shape {shape} of {dtype} needs {need}")
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": list(offs)}
    # the tensors must tile the data buffer: sorted by offsets, each begins
    # where the previous one ended (empty tensors may sit anywhere in order)
    data_start = 8 + len(raw)
    pos, prev = 0, None
    for name, info in sorted(header.items(), key=lambda kv: (kv[1]["data_offsets"], kv[0])):
        b, e = info["data_offsets"]
        if b < pos:
            raise KitError(f"{path}: tensor '{name}' data_offsets [{b}, {e}] overlap tensor "
                           f"'{prev[0]}' [{prev[1][0]}, {prev[1][1]}]")
        if b > pos:
            after = f"after tensor '{prev[0]}' " if prev else ""
            raise KitError(f"{path}: tensor '{name}' data_offsets [{b}, {e}] leave a gap of "
                           f"{b - pos} bytes {after}at data offset {pos}")
        if e > b or prev is None:
            prev = (name, (b, e))
        pos = e
        if data_start + e > size:
            raise KitError(f"{path}: tensor '{name}' data_offsets [{b}, {e}] go beyond the end "
                           f"of the file ({size} bytes, data starts at byte {data_start}): truncated file?")
    if data_start + pos != size:
        raise KitError(f"{path}: {size - data_start - pos} bytes after the last tensor's data "
                       f"(data ends at byte {data_start + pos}, file has {size})")
    return header, metadata, data_start


def _read_header_from(f, path):
    """read_header on an open file (the caller maps the same file it checked)."""
    size = os.fstat(f.fileno()).st_size
    if size < 8:
        raise KitError(f"{path}: {size} bytes, shorter than the 8-byte header length (truncated file?)")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER:
        raise KitError(f"{path}: header length {n} exceeds the format's limit of {MAX_HEADER} bytes")
    if 8 + n > size:
        raise KitError(f"{path}: header length {n} goes beyond the end of the file "
                       f"({size} bytes): truncated or not a safetensors file")
    return _parse_header(path, f.read(n), size)


def read_header(path):
    """Returns (header, metadata, data_start) of a safetensors file.

    header: {name: {"dtype": str, "shape": [int], "data_offsets": [begin, end]}}
    (offsets relative to data_start); metadata: the __metadata__ map ({} when
    absent); data_start: the file offset of the data buffer (8 + N).
    Raises KitError naming the file (and tensor) for any malformed file."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            return _read_header_from(f, path)
    except OSError as e:
        raise KitError(f"{path}: cannot read: {e.strerror}") from None


def read_safetensors(path, names=None, mmap=True):
    """Reads tensors from a safetensors file into CPU torch tensors.

    names: an iterable of tensor names to read (default: all); a name not in
    the file is a KitError. mmap=True maps the file privately (copy-on-write):
    the tensors share pages with the page cache and no data is read until
    used; writing to such a tensor never changes the file. mmap=False reads
    each tensor into its own memory. BF16/F16/F32 only: any other dtype in a
    requested tensor is a KitError naming it.
    Returns {name: tensor of the header's shape and dtype}."""
    _check_little_endian()
    path = str(path)
    try:
        with open(path, "rb") as f:
            return _read_tensors(f, path, names, mmap)
    except OSError as e:
        raise KitError(f"{path}: cannot read: {e.strerror}") from None


def _read_tensors(f, path, names, mmap):
    import torch
    header, _, data_start = _read_header_from(f, path)
    if names is None:
        wanted = sorted(header)
    else:
        wanted = list(names)
        for name in wanted:
            if name not in header:
                raise KitError(f"{path}: no tensor '{name}' in this file")
    tdt = _torch_dtypes()
    for name in wanted:
        if header[name]["dtype"] not in tdt:
            raise KitError(f"{path}: tensor '{name}': dtype {header[name]['dtype']} is not supported "
                           f"(supported: {', '.join(SUPPORTED)})")
    out = {}
    # the mapping stays alive as long as a tensor made from it does
    buf = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_COPY) if mmap else None
    for name in wanted:
        info = header[name]
        dt = tdt[info["dtype"]]
        b, e = info["data_offsets"]
        count = (e - b) // DTYPE_SIZES[info["dtype"]]
        if count == 0:
            t = torch.empty(info["shape"], dtype=dt)
        elif buf is not None:
            t = torch.frombuffer(buf, dtype=dt, count=count, offset=data_start + b)
        else:
            f.seek(data_start + b)
            data = bytearray(e - b)
            if f.readinto(data) != e - b:
                raise KitError(f"{path}: tensor '{name}': file ended while reading its data")
            t = torch.frombuffer(data, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out


def header_bytes(entries, metadata=None):
    """The padded JSON header for entries [(name, dtype, shape, nbytes)] in
    file order, as write_safetensors writes it; returns (bytes,
    [(name, begin, end)])."""
    parts = []
    if metadata is not None:
        parts.append('"__metadata__":' + json.dumps(dict(sorted(metadata.items())),
                                                    ensure_ascii=False, separators=(",", ":")))
    offs, pos = [], 0
    for name, dtype, shape, nbytes in entries:
        parts.append(json.dumps(name, ensure_ascii=False) + ":" + json.dumps(
            {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + nbytes]},
            separators=(",", ":")))
        offs.append((name, pos, pos + nbytes))
        pos += nbytes
    text = ("{" + ",".join(parts) + "}").encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return text, offs


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: torch tensor} (BF16/F16/F32, any device, any layout) to a
    safetensors file, byte-stable (same names, dtypes, shapes, values and
    metadata -> same bytes) and atomically (a temporary file in the same
    directory, fsynced, renamed over path). metadata: {str: str} or None
    (None writes no __metadata__). Raises KitError naming path and tensor."""
    import torch
    _check_little_endian()
    path = str(path)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise KitError(f"{path}: metadata must map strings to strings")
    entries, data = [], {}
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise KitError(f"{path}: tensor name {name!r} is not allowed")
        if not isinstance(t, torch.Tensor):
            raise KitError(f"{path}: tensor '{name}' is a {type(t).__name__}, not a torch.Tensor")
        dt = dtype_name(t.dtype)
        if dt is None:
            raise KitError(f"{path}: tensor '{name}': dtype {t.dtype} is not supported "
                           f"(supported: {', '.join(SUPPORTED)})")
        entries.append((name, dt, list(t.shape), t.numel() * DTYPE_SIZES[dt]))
        data[name] = t
    entries.sort(key=lambda e: (-_DTYPE_RANK[e[1]], e[0]))
    head, _ = header_bytes(entries, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            for name, dt, _, nbytes in entries:
                if nbytes == 0:
                    continue
                # one tensor at a time on the CPU: a GPU model is not copied whole
                t = data[name].detach().to("cpu").contiguous()
                raw = t.view(torch.int16) if dt in ("BF16", "F16") else t
                f.write(memoryview(raw.reshape(-1).numpy()).cast("B"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise KitError(f"{path}: cannot write: {e.strerror}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
