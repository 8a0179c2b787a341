"""SageMaker Batch Transform: CreateTransformJob, DescribeTransformJob, StopTransformJob and
ListTransformJobs over moto's models, the jobs run by the simulated detector (moto stores transform
jobs but runs none, and has no StopTransformJob)."""
