"""The benchmark's parts; scripts/bench.py runs them one after another and prints them side by side.

- `data`: the services' addresses, the messages, topics filled with them, the routes file
- `cpu`: process CPU time, read the same way for every row, and the backlog procedure every
  consuming row goes through (join, stop, fill, continue, measure)
- `baselines`: raw kafka-python and the obvious loop (each in a child process), RQ's enqueue_many,
  Redis's own cost per job
- `daemons`: karafkad end to end, and its latency at a fixed rate
- `workers`: messages produced -> handler finished, with `karafkad worker` setups
- `profile`: py-spy on one daemon over the backlog (`--only profile`), and its summary
- `report`: the printed tables
"""
