"""Route tests files (routes_test.yaml) for the tests of karafkad.testing and of `karafkad test` and `check`: the
example's, one deliberately wrong with the diff it fails with, and a writer for small ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "routes.yaml"
EXAMPLE_TESTS = ROOT / "config" / "routes_test.yaml"

WRONG = f"""\
routes: {EXAMPLE}
tests:
  - name: a big order is only processed
    topic: orders
    value: {{id: 2, customer: {{email: bob@example.com}}, total: 2500, currency: USD}}
    expect:
      - route: orders
        enqueue: {{queue: orders, options: {{timeout: 60}}}}
      - route: big-orders
        skip: filtered
"""
"""A deliberately wrong route test of the example: big orders also raise an alert."""

WRONG_DIFF = """\
--- expected
+++ actual
@@ -1,7 +1,9 @@
 - route: orders
   enqueue:
     queue: orders
     options:
       timeout: 60
 - route: big-orders
-  skip: filtered
+  enqueue:
+    queue: alerts
+    function: orders.alert_big_order"""
"""Its diff: the whole of both sides, the difference marked."""


def write_tests(folder: Path, text: str, name: str = "routes_test.yaml") -> Path:
    """A route tests file `name` in `folder` holding `text` (dedented)."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path
