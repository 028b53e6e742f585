"""JSON-lines input files (prompt sets, the toy world's splits): one reader,
so every stage reports a bad line the same way. Each non-blank line must be
UTF-8 holding one JSON object; KitError names the file and the 1-based line
(a file that is one JSON array gets a hint)."""
import json

from .errors import KitError


def read_objects(path):
    """[(line_number, dict)] of the non-blank lines of path, in file order.

    Raises KitError: unreadable file, invalid UTF-8, invalid JSON, or a line
    that is not a JSON object."""
    out = []
    try:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise KitError(f"{path}:{n}: not UTF-8 (byte {e.start + 1} of the line)")
                if not line.strip():
                    continue
                try:
                    o = json.loads(line)
                except ValueError as e:
                    hint = (" (the file must be JSON lines, one object a line, not a JSON array)"
                            if n == 1 and line.lstrip().startswith("[") else "")
                    raise KitError(f"{path}:{n}: not JSON ({e}){hint}")
                if not isinstance(o, dict):
                    raise KitError(f"{path}:{n}: not a JSON object (the file must be JSON "
                                   "lines, one object a line)")
                out.append((n, o))
    except OSError as e:
        raise KitError(f"{path}: {e.strerror}")
    return out
