"""Telling a kafka-python producer that can no longer send from one that can (checked with kafka-python 3.0.12).

kafka-python 3.0 makes every producer idempotent by default (karafkad keeps
it so: a retried batch is never written twice), and its idempotent producer
turns fatal after any non-retriable error, even one about a single message
such as MESSAGE_TOO_LARGE: every later send then fails. It says so only
through its private `_transaction_manager` (None when idempotence is off),
whose `has_fatal_error()` is the state its own sender checks. karafkad's
Producer reads it after a failed message to replace such a client.
"""

from __future__ import annotations

from typing import Any


def is_fatal(client: Any) -> bool:
    """True if kafka-python's producer `client` reached its fatal state (every later message would fail).

    False for a client without the attribute (a test's fake, a producer
    without idempotence, a kafka-python that renamed it: then a fatal client
    is not replaced and its messages fail, as they would without karafkad).
    """
    manager = getattr(client, "_transaction_manager", None)
    has_fatal_error = getattr(manager, "has_fatal_error", None)
    return callable(has_fatal_error) and bool(has_fatal_error())
