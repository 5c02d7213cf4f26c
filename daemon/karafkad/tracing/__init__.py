"""OpenTelemetry tracing (docs/tracing.md): the W3C trace context carried from a message to its job, and, with
tracing on, karafkad's spans.

`context`, `messages` and `current` (the application's context for karafkad.producer) import nothing of
OpenTelemetry: the context is carried with tracing off too. `switch` decides from the OTEL_* variables whether
tracing is on, and only then imports the SDK (`sdk`, `exporting`, `spans`, `jobs`), which is the optional extra
`karafkad[otel]`.
"""
