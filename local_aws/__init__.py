"""A local stand-in for the AWS services of the pipeline, for the demo, the tests and docker compose.

`python -m local_aws` runs moto (S3, SageMaker models, endpoint configs, endpoints) and an emulator
of what moto lacks; `local_aws.stack.start_stack()` runs it for a test, and `local_aws.workflow`
creates resources on it. Like moto, the emulator has one folder per service over shared machinery:
`core/` (HTTP front, wire protocols, errors, faults, botocore's models), `a2i/` (the A2I control plane
and runtime), `endpoint/` (InvokeEndpoint with a simulated detector), `transform/` (Batch Transform
jobs run by the same detector) and `actors/` (a scripted
reviewer, the reviewer API that plays the worker portal, sample images); `emulator.py` wires them.
"""
