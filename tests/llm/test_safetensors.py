"""Tests of llmkit.safetensors: the reference writer's exact bytes (vectors from
huggingface/safetensors' tensor.rs tests), round trips of BF16/F16/F32 with
every bit preserved, byte-stable re-save, memory-mapped reads, and the exact
message of every malformed-file error. Run by tests/llm/t0100-safetensors.sh."""
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit.errors import KitError  # noqa: E402
from llmkit.safetensors import read_header, read_safetensors, write_safetensors  # noqa: E402

t = Tap()
tmp = tempfile.mkdtemp(prefix="llm-st-")


def p(name):
    return os.path.join(tmp, name)


def raw_file(name, header, data=b"", n=None):
    """Writes 8-byte length + header (dict -> compact JSON, or bytes) + data."""
    hb = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    with open(p(name), "wb") as f:
        f.write(struct.pack("<Q", len(hb) if n is None else n) + hb + data)
    return p(name)


def msg_is(fn, want, name):
    t.msg_is(fn, KitError, want, name)


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def bits(x):
    return x.view(torch.int16) if x.element_size() == 2 else x.view(torch.int32)


# --- the reference writer's bytes (tensor.rs test_serialization,
# test_serialization_forced_alignement, test_empty) -------------------------
f32 = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
write_safetensors(p("ref1"), {"attn.0": f32.reshape(1, 2, 3)})
want = bytes([64, 0, 0, 0, 0, 0, 0, 0]) + b'{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}' \
    + struct.pack("<6f", *range(6))
t.ok(file_bytes(p("ref1")) == want, "reference vector: one F32 tensor, header already 8-aligned",
     file_bytes(p("ref1"))[:80])
write_safetensors(p("ref2"), {"attn0": f32.reshape(1, 1, 2, 3)})
want = bytes([72, 0, 0, 0, 0, 0, 0, 0]) + b'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' \
    + b" " * 7 + struct.pack("<6f", *range(6))
t.ok(file_bytes(p("ref2")) == want, "reference vector: header padded with 7 spaces to a multiple of 8",
     file_bytes(p("ref2"))[:88])
write_safetensors(p("ref3"), {})
t.ok(file_bytes(p("ref3")) == bytes([8, 0, 0, 0, 0, 0, 0, 0]) + b"{}" + b" " * 6,
     "reference vector: no tensors", file_bytes(p("ref3")))
write_safetensors(p("ref4"), {}, {"framework": "pt"})
t.ok(file_bytes(p("ref4")) == bytes([40, 0, 0, 0, 0, 0, 0, 0]) + b'{"__metadata__":{"framework":"pt"}}' + b" " * 5,
     "reference vector: metadata only", file_bytes(p("ref4")))

# --- round trips: every bit of BF16/F16/F32 (incl. -0, inf, nan, subnormal) --
special = torch.tensor([0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"), 1e-40, 3.0e38])
g = torch.Generator().manual_seed(7)
tensors = {}
for dt in (torch.bfloat16, torch.float16, torch.float32):
    tag = str(dt).split(".")[1]
    tensors[f"{tag}.special"] = special.to(dt)
    tensors[f"{tag}.w"] = torch.randn(5, 3, generator=g).to(dt)
    tensors[f"{tag}.scalar"] = torch.tensor(1.5, dtype=dt)
    tensors[f"{tag}.empty"] = torch.zeros(0, 4, dtype=dt)
meta = {"format": "pt", "note": "ünïcode ✓"}
write_safetensors(p("rt.safetensors"), tensors, meta)
header, md, start = read_header(p("rt.safetensors"))
t.ok(md == meta, "metadata round trip (non-ASCII kept)", md)
t.ok(start % 8 == 0 and start == 8 + int.from_bytes(file_bytes(p("rt.safetensors"))[:8], "little"),
     "data starts at 8 + N, a multiple of 8", start)
order = sorted(header, key=lambda n: header[n]["data_offsets"])
t.ok([header[n]["dtype"] for n in order if header[n]["data_offsets"][1] > header[n]["data_offsets"][0]]
     == ["F32"] * 3 + ["BF16"] * 3 + ["F16"] * 3,
     "file order: dtype alignment descending (F32, BF16, F16) as the reference writer",
     [(n, header[n]["dtype"]) for n in order])
t.ok(order == sorted(order, key=lambda n: ({"F32": 0, "BF16": 1, "F16": 2}[header[n]["dtype"]], n)),
     "file order: names sorted within a dtype", order)
for mm in (True, False):
    back = read_safetensors(p("rt.safetensors"), mmap=mm)
    same = set(back) == set(tensors) and all(
        back[n].dtype == tensors[n].dtype and back[n].shape == tensors[n].shape
        and torch.equal(bits(back[n]), bits(tensors[n])) for n in tensors)
    t.ok(same, f"round trip bit-exact, dtypes and shapes kept (mmap={mm})",
         [n for n in tensors if n not in back or not torch.equal(bits(back[n]), bits(tensors[n]))])

# mmap reads: equal to plain reads, copy-on-write (the file never changes)
a = read_safetensors(p("rt.safetensors"), mmap=True)
b = read_safetensors(p("rt.safetensors"), mmap=False)
t.ok(all(torch.equal(bits(a[n]), bits(b[n])) for n in a), "mmap read equals plain read")
before = file_bytes(p("rt.safetensors"))
a["float32.w"].add_(1.0)
t.ok(file_bytes(p("rt.safetensors")) == before, "writing to an mmap-read tensor leaves the file unchanged")
sub = read_safetensors(p("rt.safetensors"), names=["bfloat16.w"])
t.ok(list(sub) == ["bfloat16.w"] and torch.equal(bits(sub["bfloat16.w"]), bits(tensors["bfloat16.w"])),
     "names= reads only the named tensors")
msg_is(lambda: read_safetensors(p("rt.safetensors"), names=["nope"]),
       f"{p('rt.safetensors')}: no tensor 'nope' in this file", "names= with an absent name")

# byte-stable: another insertion order, a re-save of what was read, non-contiguous input
rev = dict(reversed(list(tensors.items())))
write_safetensors(p("rt2.safetensors"), rev, dict(reversed(list(meta.items()))))
t.ok(file_bytes(p("rt2.safetensors")) == before, "same tensors in another order -> same bytes")
write_safetensors(p("rt3.safetensors"), read_safetensors(p("rt2.safetensors")), meta)
t.ok(file_bytes(p("rt3.safetensors")) == before, "re-save of a read file -> same bytes")
base = torch.randn(3, 5, generator=g)
write_safetensors(p("nc1"), {"x": base.t()})
write_safetensors(p("nc2"), {"x": base.t().contiguous()})
t.ok(file_bytes(p("nc1")) == file_bytes(p("nc2")), "a transposed (non-contiguous) tensor is written in C order")
# re-save over the file being read through mmap
m = read_safetensors(p("rt2.safetensors"))
write_safetensors(p("rt2.safetensors"), m, meta)
t.ok(file_bytes(p("rt2.safetensors")) == before, "re-save over the mmap-read file itself -> same bytes")

# --- malformed files: exact messages ---------------------------------------
good_h = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]}}
data16 = bytes(range(16))
hs = 8 + len(json.dumps(good_h, separators=(",", ":")))  # where data starts
with open(p("short"), "wb") as f:
    f.write(b"\x05\x00\x00")
msg_is(lambda: read_header(p("short")),
       f"{p('short')}: 3 bytes, shorter than the 8-byte header length (truncated file?)",
       "error: file shorter than the header length")
raw_file("huge", b"{}", n=100_000_001)
msg_is(lambda: read_header(p("huge")),
       f"{p('huge')}: header length 100000001 exceeds the format's limit of 100000000 bytes",
       "error: header length above the format's limit")
raw_file("beyond", b'{"a":1}', n=1000)
msg_is(lambda: read_header(p("beyond")),
       f"{p('beyond')}: header length 1000 goes beyond the end of the file (15 bytes): "
       "truncated or not a safetensors file", "error: header length beyond the file")
raw_file("utf8", b'{"\xff":1}   ')
msg_is(lambda: read_header(p("utf8")), f"{p('utf8')}: header is not valid UTF-8 (byte 10 of the file)",
       "error: header not UTF-8")
raw_file("notobj", b"[1, 2]  ")
msg_is(lambda: read_header(p("notobj")),
       f"{p('notobj')}: header is not a JSON object (not a safetensors file?)", "error: header not an object")
raw_file("lead", b'  {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', bytes(4))
t.ok(read_header(p("lead"))[0] == {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
     "leading spaces and unknown entry fields are accepted (as the reference reader)")
raw_file("json", b'{"a": {"dtype": "F32" "shape": [1]}}')
msg_is(lambda: read_header(p("json")),
       f"{p('json')}: header is not valid JSON: Expecting ',' delimiter at line 1 column 23",
       "error: header not valid JSON (line and column)")
raw_file("dup", b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
         b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4))
msg_is(lambda: read_header(p("dup")), f"{p('dup')}: header: duplicate key 'a'", "error: duplicate tensor name")
raw_file("meta", {"__metadata__": {"k": 1}, **good_h}, data16)
msg_is(lambda: read_header(p("meta")), f"{p('meta')}: __metadata__['k'] is not a string",
       "error: __metadata__ value not a string")
raw_file("meta2", {"__metadata__": ["x"], **good_h}, data16)
msg_is(lambda: read_header(p("meta2")), f"{p('meta2')}: __metadata__ is not an object of strings",
       "error: __metadata__ not an object")
raw_file("dtype", {"a": {"dtype": "F31", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
msg_is(lambda: read_header(p("dtype")), f"{p('dtype')}: tensor 'a': unknown dtype \"F31\"",
       "error: unknown dtype names the tensor")
raw_file("shape", {"a": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}}, bytes(8))
msg_is(lambda: read_header(p("shape")),
       f"{p('shape')}: tensor 'a': shape [2, -1] is not a list of non-negative integers", "error: bad shape")
raw_file("field", {"a": {"dtype": "F32", "shape": [2]}}, bytes(8))
msg_is(lambda: read_header(p("field")), f"{p('field')}: tensor 'a': header entry has no 'data_offsets'",
       "error: entry without data_offsets")
raw_file("offs", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, bytes(8))
msg_is(lambda: read_header(p("offs")),
       f"{p('offs')}: tensor 'a': data_offsets [8, 0] is not [begin, end] with 0 <= begin <= end",
       "error: data_offsets end before begin")
raw_file("count", {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8))
msg_is(lambda: read_header(p("count")),
       f"{p('count')}: tensor 'a': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12",
       "error: byte count does not match shape and dtype")
raw_file("overlap", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]}}, bytes(12))
msg_is(lambda: read_header(p("overlap")),
       f"{p('overlap')}: tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]", "error: overlapping tensors")
raw_file("same", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
msg_is(lambda: read_header(p("same")),
       f"{p('same')}: tensor 'b' data_offsets [0, 8] overlap tensor 'a' [0, 8]", "error: two tensors, one range")
raw_file("gap", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [12, 20]}}, bytes(20))
msg_is(lambda: read_header(p("gap")),
       f"{p('gap')}: tensor 'b' data_offsets [12, 20] leave a gap of 4 bytes after tensor 'a' at data offset 8",
       "error: gap between tensors")
raw_file("range", good_h, data16[:12])
msg_is(lambda: read_header(p("range")),
       f"{p('range')}: tensor 'b' data_offsets [8, 16] go beyond the end of the file "
       f"({hs + 12} bytes, data starts at byte {hs}): truncated file?", "error: offsets out of range (truncated data)")
raw_file("trail", good_h, data16 + b"xyz")
msg_is(lambda: read_header(p("trail")),
       f"{p('trail')}: 3 bytes after the last tensor's data (data ends at byte {hs + 16}, file has {hs + 19})",
       "error: bytes after the data")
# a real file cut short
with open(p("cut"), "wb") as f:
    f.write(before[:len(before) - 10])
msg_is(lambda: read_safetensors(p("cut")),
       f"{p('cut')}: tensor 'float16.w' data_offsets [{header['float16.w']['data_offsets'][0]}, "
       f"{header['float16.w']['data_offsets'][1]}] go beyond the end of the file ({len(before) - 10} bytes, "
       f"data starts at byte {start}): truncated file?", "error: truncated file names the last tensor")
raw_file("f64", {"d": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8))
raw_file("f4", {"q": {"dtype": "F4", "shape": [3, 2], "data_offsets": [0, 3]},
                "s": {"dtype": "F8_E8M0", "shape": [2], "data_offsets": [3, 5]}}, bytes(5))
t.ok(read_header(p("f64"))[0]["d"]["dtype"] == "F64" and read_header(p("f4"))[0]["q"]["dtype"] == "F4",
     "read_header accepts the specification's other dtypes (sizes in bits: F4 is half a byte)")
raw_file("f4odd", {"q": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, bytes(2))
msg_is(lambda: read_header(p("f4odd")), f"{p('f4odd')}: tensor 'q': shape [3] of F4 is 12 bits, not whole bytes",
       "error: a sub-byte tensor that does not fill whole bytes")
msg_is(lambda: read_safetensors(p("f64")),
       f"{p('f64')}: tensor 'd': dtype F64 is not supported (supported: BF16, F16, F32)",
       "error: reading an unsupported dtype names the tensor")
msg_is(lambda: read_header(p("absent")), f"{p('absent')}: cannot read: No such file or directory",
       "error: missing file")

# --- writer errors; nothing half-written ----------------------------------
write_safetensors(p("keep"), {"x": torch.ones(2)})
kept = file_bytes(p("keep"))
msg_is(lambda: write_safetensors(p("keep"), {"x": torch.ones(2), "y": torch.ones(2, dtype=torch.float64)}),
       f"{p('keep')}: tensor 'y': dtype torch.float64 is not supported (supported: BF16, F16, F32)",
       "error: writing an unsupported dtype names the tensor")
msg_is(lambda: write_safetensors(p("keep"), {"x": [1.0]}),
       f"{p('keep')}: tensor 'x' is a list, not a torch.Tensor", "error: writing a non-tensor")
msg_is(lambda: write_safetensors(p("keep"), {"x": torch.ones(1)}, {"k": 1}),
       f"{p('keep')}: metadata must map strings to strings", "error: non-string metadata")
msg_is(lambda: write_safetensors(p("keep"), {"__metadata__": torch.ones(1)}),
       f"{p('keep')}: tensor name '__metadata__' is not allowed", "error: reserved tensor name")
os.mkdir(p("adir"))
msg_is(lambda: write_safetensors(p("adir"), {"x": torch.ones(1)}),
       f"{p('adir')}: cannot write: Is a directory", "error: rename onto a directory fails cleanly")
t.ok(file_bytes(p("keep")) == kept and not [n for n in os.listdir(tmp) if ".tmp" in n],
     "failed writes leave the old file and no temporary file", os.listdir(tmp))

import shutil  # noqa: E402
shutil.rmtree(tmp)
sys.exit(t.done())
