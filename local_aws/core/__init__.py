"""The machinery every emulated service shares: the HTTP front that routes requests and answers in
each API's wire protocol, errors, pagination, fault injection, ARNs, timestamps, botocore's service
models, and the pass-through to moto."""
