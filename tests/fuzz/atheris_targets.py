"""Coverage-guided fuzzing of the routes-file loader and the filter compiler with atheris (optional).

Not part of the suite (pytest does not collect this file, and nothing needs atheris installed); the
hypothesis tests in tests/unit/test_fuzz_*.py are. atheris adds coverage feedback: it keeps inputs that
reach new code. Install it beside the project (it ships wheels) and run a target, for example:

    .venv/bin/pip install --target /tmp/atheris-lib atheris
    PYTHONPATH=/tmp/atheris-lib .venv/bin/python tests/fuzz/atheris_targets.py config -max_total_time=600
    PYTHONPATH=/tmp/atheris-lib .venv/bin/python tests/fuzz/atheris_targets.py filter -max_total_time=600

A crash (any exception other than the expected ones) stops the run and writes the input to crash-*;
add it to the TestRegressions class of the matching tests/unit/test_fuzz_*.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports(include=["karafkad"]):
    from karafkad.config.loading import parse_config
    from karafkad.errors import ConfigError, ExpressionError, FilterRuntimeError
    from karafkad.routes.filter_compiler import compile_filter

FOLDER = Path(tempfile.mkdtemp(prefix="kd-atheris-"))
(FOLDER / "handlers").mkdir()
(FOLDER / "handlers" / "kd_fuzz_h.py").write_text("def f(params):\n    return params\n")
SEEDS = {
    "config": b"groups:\n  g:\n    routes:\n      - topic: t\n        handler: kd_fuzz_h.f\n"
              b"        filter: params.n > 1\n",
    "filter": b'params.total > 0 and params.currency in ["EUR", "USD"]',
}


def config_target(data: bytes) -> None:
    try:
        parse_config(data, FOLDER / "routes.yaml", {"X": "1"})
    except ConfigError as exc:
        assert exc.problems


def _value(provider: Any, depth: int = 0) -> Any:
    kind = provider.ConsumeIntInRange(0, 8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return provider.ConsumeBool()
    if kind == 2:
        return provider.ConsumeInt(provider.ConsumeIntInRange(1, 40))
    if kind == 3:
        return provider.ConsumeFloat()
    if kind == 4:
        return provider.ConsumeUnicode(8)
    if kind == 5:
        return provider.ConsumeBytes(4)
    if kind in (6, 7):
        return [_value(provider, depth + 1) for _ in range(provider.ConsumeIntInRange(0, 3))]
    return {provider.ConsumeUnicode(3): _value(provider, depth + 1) for _ in range(provider.ConsumeIntInRange(0, 3))}


def filter_target(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    source = provider.ConsumeUnicode(provider.ConsumeIntInRange(0, 300))
    try:
        compiled = compile_filter(source)
    except ExpressionError:
        return
    params = _value(provider)
    try:
        result = compiled.function(params, "k", {"h": "v"}, "t", 0, 1, 2)
    except FilterRuntimeError:
        return
    assert result is True or result is False


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "config"
    corpus = FOLDER / f"corpus-{target}"
    corpus.mkdir()
    (corpus / "seed").write_bytes(SEEDS[target])
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], {"config": config_target, "filter": filter_target}[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
