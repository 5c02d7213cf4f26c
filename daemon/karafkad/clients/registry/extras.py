"""The libraries of the registry decode modes, an optional extra: found, or named with the command to install them.

fastavro, protobuf and grpcio-tools come with `karafkad[schema-registry]`
(README, "Dependencies"): a daemon routing JSON does not load them, and one
installed without them says, at `karafkad check`, exactly what to install
instead of failing on the first record.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

EXTRA = "karafkad[schema-registry]"

NEEDS: dict[str, tuple[str, ...]] = {
    "avro": ("fastavro",),
    "protobuf": ("google.protobuf", "grpc_tools"),
    "json_schema": (),
}
"""The modules each registry decode mode imports (the JSON Schema one needs only the base's)."""

DISTRIBUTIONS = {"fastavro": "fastavro", "google.protobuf": "protobuf", "grpc_tools": "grpcio-tools"}


def missing(mode: str) -> str | None:
    """Why `mode` cannot run here, with the command that fixes it; None when it can."""
    absent = [name for name in NEEDS.get(mode, ()) if not _installed(name)]
    if not absent:
        return None
    names = ", ".join(DISTRIBUTIONS[name] for name in absent)
    return f"decode: {mode} needs {names}, not installed here: pip install '{EXTRA}'"


def load(module: str, mode: str) -> ModuleType:
    """Import `module` (deferred: only registry routes need it); ImportError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(missing(mode) or f"cannot import {module}") from None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package (google) is missing
        return False
