"""The model endpoint: `sagemaker-runtime` InvokeEndpoint over moto's endpoints, answered by a simulated
GluonCV SSD detector."""
