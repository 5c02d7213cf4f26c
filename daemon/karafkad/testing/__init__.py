"""Test an application's routes.yaml in its own test suite: no Kafka, no Redis, the daemon's own decisions.

The public API (`from karafkad.testing import Routes, message`) lives in
`routes`; `suite` reads route tests files (`routes_test.yaml`) and `runner`
runs them, for `karafkad test` and `karafkad check`. Sits beside the store:
it uses the pipeline, the route table and the producer's JSON encoding, and
nothing that talks to Kafka or Redis. The guide is docs/testing.md.
"""

from karafkad.testing.routes import DeadLetter, Job, Message, Outcome, Routes, Skip, job_options, message

__all__ = ["DeadLetter", "Job", "Message", "Outcome", "Routes", "Skip", "job_options", "message"]
