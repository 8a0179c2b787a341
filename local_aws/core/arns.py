"""ARNs of the resources the emulator creates, in moto's account."""

from moto.core import DEFAULT_ACCOUNT_ID

# moto's account, so the emulator's ARNs and moto's (endpoints, models) name the same account.
ACCOUNT_ID = DEFAULT_ACCOUNT_ID


def sagemaker_arn(region: str, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{resource_type}/{name}"
