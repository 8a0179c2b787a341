"""Amazon A2I, which moto lacks: the `sagemaker-a2i-runtime` human loops, the SageMaker control plane's
human task UIs, flow definitions and RenderUiTemplate, worker template rendering, the output.json of a
finished loop, and the request checks against botocore's models."""
