"""Example handlers for the `orders` topic (see config/routes.yaml).

A handler is a plain function. RQ workers run it with the decoded message as
`params`; a handler that takes a second parameter also gets `meta` (topic,
partition, offset, timestamp, key, headers, group, route).
"""

import logging

log = logging.getLogger(__name__)


def process_order(params):
    """Runs in an RQ worker for every order that passed the schema, filter and hook."""
    line = f"order {params['id']}: {params['total']} {params['currency']} for {params['customer']['email']}"
    print(line, flush=True)
    return line


def alert_big_order(params, meta):
    """Runs for orders of 1000 or more, with the message metadata."""
    line = f"ALERT big order {params['id']} ({params['total']} {params['currency']}) from partition {meta['partition']}"
    print(line, flush=True)
    return line


def is_real_order(params, meta):
    """before_enqueue hook, run by karafkad itself: orders from the load tester are not enqueued."""
    return not params["customer"]["email"].endswith("@loadtest.invalid")
