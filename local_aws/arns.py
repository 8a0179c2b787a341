"""ARNs and name patterns shared by the emulated SageMaker control plane and the A2I runtime."""

from moto.core import DEFAULT_ACCOUNT_ID

# moto's account, so the emulator's ARNs and moto's (endpoints, models) name the same account.
ACCOUNT_ID = DEFAULT_ACCOUNT_ID

RESOURCE_NAME = r"[a-z0-9](-*[a-z0-9])*"
ROLE_ARN = r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
WORKTEAM_ARN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.*"
HUMAN_TASK_UI_ARN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:human-task-ui/.*"
FLOW_DEFINITION_ARN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:flow-definition/.*"


def sagemaker_arn(region: str, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{resource_type}/{name}"
