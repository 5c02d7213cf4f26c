"""Where karafkad reaches into kafka-python's internals, kept together so an upgrade knows what to re-check.

`patches` holds the narrow fixes applied to kafka-python's classes and the
prefetch; `fetch_state` reads what kafka-python knows but does not say
(positions, last stable offsets, a batch it could not read); `fencing`
notices a static member fenced by another with its instance id;
`close_race` drops the traceback of a harmless race in kafka-python's close;
`producer_state` tells a producer kafka-python turned fatal.
Each names the kafka-python version it was checked against.
"""
