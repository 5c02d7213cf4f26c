"""The routes file as settings: read the YAML with positions and `${VAR}`s, check it, type it.

`yamlfile` reads YAML safely and remembers where each value was written
(`yaml_hints` says what a syntax error likely means); `routes_schema` and
`schema_check` turn JSON Schema errors into problems naming file, line and
field; `settings` holds the frozen dataclasses; `loading` builds them
(`load_config`); `checks` adds the rules that span several values; `secrets`
keeps passwords out of every output; `sections` checks one section given as
keyword arguments (the producer API's `kafka` and `schema_registry`). `web` is the `web` section (the
console's auth and TLS). Nothing here imports a handler,
compiles a filter or connects anywhere. May import only the bottom modules
(`karafkad.errors`, `defaults`, `text`, `times`).
"""
