"""Build real RouteTables from small routes files written into a temp folder (no Kafka, no Redis)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from karafkad.pipeline.records import PlainRecord
from karafkad.routes.table import RouteTable, load_routes

HANDLERS = '''
def handle(params):
    return params


def handle_meta(params, meta):
    return params


def even(params, meta):
    return params["n"] % 2 == 0


def explode(params):
    raise ValueError("hook broke")


def enrich(params):
    params["seen"] = True
    return True
'''


def make_table(tmp_path: Path, groups: dict[str, Any], **sections: Any) -> RouteTable:
    """A compiled RouteTable for `groups`, with a handler module `h` (see HANDLERS) in a plugin folder."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    module = f"h_{abs(hash(str(tmp_path))) % 10**8}"
    (plugins / f"{module}.py").write_text(textwrap.dedent(HANDLERS))
    text = json.dumps({"plugins": {"paths": [str(plugins)]}, **sections, "groups": groups})
    text = text.replace('"h.', f'"{module}.')
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return load_routes(path, environ={})


@contextmanager
def forgetting_plugin_imports(also: Callable[[str], bool] = lambda origin: False) -> Iterator[None]:
    """Afterwards, sys.path is as before, and the modules imported meanwhile from folders put on it
    (or whose file `also` names) are forgotten, so the next test imports its own plugins afresh.

    Only those: re-importing a library such as PyYAML would pair its C extension
    with new copies of its Python classes.
    """
    path, modules = list(sys.path), set(sys.modules)
    yield
    added = [entry for entry in sys.path if entry not in path]
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if any(origin.startswith(folder + os.sep) for folder in added) or also(origin):
            del sys.modules[name]


def make_record(offset: int, value: bytes | None, *, topic: str = "t", partition: int = 0,
                key: bytes | None = None, headers: list[tuple[str, bytes | None]] | None = None) -> PlainRecord:
    """A record at `offset` (its timestamp follows the offset, so tests can tell records apart by it)."""
    return PlainRecord(topic, partition, offset, value, key, tuple(headers or ()), 1_700_000_000_000 + offset)


def records(values: list[Any], topic: str = "t", partition: int = 0, start: int = 0) -> list[PlainRecord]:
    """Records of `values` (JSON-encoded unless bytes or None) from offset `start` on."""
    return [make_record(start + i, v if v is None or isinstance(v, bytes) else json.dumps(v).encode(),
                        topic=topic, partition=partition) for i, v in enumerate(values)]
