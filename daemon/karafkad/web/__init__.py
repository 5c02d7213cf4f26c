"""The web: the opt-in HTTP port (/ping, /ready, /metrics, /status.json, the status page).

`server` answers the requests from snapshots only (it never blocks a
consumer); `board` gathers the snapshot from the supervisor's status, the
metrics and the RQ queue depths; `page` renders it as HTML with the files in
`static/`. May import the supervision (for the status snapshot's shape) and
every floor below it.
"""
