"""Example Avro handler: a payment decoded with its writer schema from the Schema Registry (decode: avro).

The record arrives as a dict in JSON's types: the decimal amount as its exact
digits, the timestamp as ISO 8601 text (docs/schema-registry.md).
"""


def record_payment(params):
    line = f"payment {params['id']}: {params['amount']} {params['currency']} at {params['at']} ({params['method']})"
    print(line, flush=True)
    return line
