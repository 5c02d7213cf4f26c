"""karafkad: route Apache Kafka messages to RQ jobs, configured in YAML.

The package is built in floors, each importing only those below it (an
import-linter contract in setup.cfg; docs/architecture.md has every module
with its one job). From the top: `cli` (the command); `web` and `ops` (the
HTTP port; the operator's commands); `supervision` (the daemon as a process);
`consuming` (the consumer loop); `store` and `testing` (what karafkad keeps
in Redis; the public test API); `pipeline` (what a message becomes); `routes`
and `producer` (the compiled route table; the public producer); `clients`
(Kafka, Redis and TLS); `observability` (logs and metrics); `config` (the
routes file); and at the bottom `errors`, `defaults`, `text` and `times`.
`__main__` makes `python -m karafkad` the `karafkad` command.
"""

__version__ = "0.1.0"
