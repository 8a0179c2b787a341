"""A local stand-in for the AWS services of the pipeline, for the demo, the tests and docker compose.

`python -m local_aws` runs moto (S3, SageMaker models, endpoint configs, endpoints) and an emulator
of what moto lacks (the A2I control plane and runtime, InvokeEndpoint with a simulated detector,
a reviewer API that plays the worker portal); `local_aws.stack.start_stack()` runs it for a test.
"""
