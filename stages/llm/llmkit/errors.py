"""The kit's one error type. A KitError's message already names what was wrong
and where (file, tensor, field, line); entry points print it as
"<program>: error: <message>" and exit with status 2 (see runtime.main)."""


class KitError(Exception):
    """Bad input or an unsupported checkpoint; the message names file and field."""
