"""SageMaker Batch Transform: CreateTransformJob, DescribeTransformJob, StopTransformJob,
ListTransformJobs and ListTags of a job over moto's models, the jobs run by the simulated detector
(moto stores transform jobs but runs none, and has no StopTransformJob)."""
