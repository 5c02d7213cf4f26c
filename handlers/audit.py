"""Example text handler: each audit-log line (decode: text); a tombstone arrives as None."""


def store_line(params):
    line = "audit: (tombstone)" if params is None else f"audit: {params}"
    print(line, flush=True)
    return line
