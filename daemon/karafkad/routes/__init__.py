"""The compiled route table: what each route checks and which job it makes.

`table` compiles the settings of `karafkad.config` into a frozen RouteTable
(all or nothing, every problem listed): `plugins` finds handlers and hooks
by dotted path in the plugin folders only, `schemas` compiles message JSON
Schemas, `filter_compiler` turns a filter expression into a function that
can call only `filter_runtime`'s helpers (`filter_types` refuses its
comparisons that the route's schema makes fail), `decoding` turns values into
params, `jobs` builds RQ job hashes from per-route templates. Nothing here
talks to Kafka or Redis. May import the clients and everything below them
(in practice `karafkad.config` and the bottom modules); not the producer,
its neighbour.
"""
