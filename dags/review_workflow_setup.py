"""review_workflow_setup: create (or reuse) the A2I worker task UI and flow definition reviews run on."""

from pathlib import Path

from airflow.sdk import DAG, Param

from hitl_detection.dag_defaults import default_args
from hitl_detection.operators.review_workflow import EnsureFlowDefinitionOperator, EnsureHumanTaskUiOperator
from hitl_detection.run_config import ROLE_ARN_PATTERN

TEMPLATE_PATH = Path(__file__).parent.parent / "include" / "templates" / "a2i_bounding_box.liquid.html"
NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"  # SageMaker's rule for task UI and flow definition names
WORKTEAM_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/.+$"

DOC = """
### Set up the A2I review workflow that `detect_and_review` sends images to

Run it once per account and region (and again whenever you want to check the setup). It:

1. renders the worker task template `include/templates/a2i_bounding_box.liquid.html` with a
   sample task (`RenderUiTemplate`) and stops with the template's errors if it does not render;
2. creates the **human task UI** `human_task_ui_name` from it;
3. creates the **flow definition** (human review workflow) `flow_definition_name`, retrying for
   a while if a just-created role is not yet visible to SageMaker, and waits until it is Active;
4. returns the flow definition ARN (task `ensure_flow_definition`, XCom `return_value`): give it
   to `detect_and_review` as `flow_definition_arn`.

It is safe to run again: what exists with the same template or settings is reused, and the log
says so. Neither resource can be changed once created, so when one exists with a different
template or settings the run fails and names the difference: choose a new name (for instance
`...-v2`) or delete the old one.

**Before the first run**, in the same account and region:

- a **private workforce and work team** (SageMaker Ground Truth, *Labeling workforces*); its ARN
  is `workteam_arn`. Reviewers sign in to the team's labeling portal to work;
- an **IAM role** for A2I (`role_arn`) that trusts `sagemaker.amazonaws.com`, can read the input
  images and write under `s3_output_path`;
- a CORS rule on the input image bucket allowing `GET` from any origin, or images do not load in
  the worker console.

AWS access goes through the Airflow connection `aws_conn_id` (default `aws_default`).
"""

with DAG(
    dag_id="review_workflow_setup",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # task_count and labels reach the operators as int and list
    default_args=default_args(),
    tags=["hitl-detection", "a2i", "setup"],
    doc_md=DOC,
    params={
        "flow_definition_name": Param(
            "hitl-detection-review",
            type="string",
            minLength=1,
            maxLength=63,
            pattern=NAME_PATTERN,
            description="Name of the flow definition (lowercase letters, digits, inner hyphens).",
        ),
        "human_task_ui_name": Param(
            "hitl-detection-bounding-box-v1",
            type="string",
            minLength=1,
            maxLength=63,
            pattern=NAME_PATTERN,
            description="Name of the worker task UI; change it when the template changes.",
        ),
        "workteam_arn": Param(
            type="string",
            pattern=WORKTEAM_ARN_PATTERN,
            description="The reviewing work team: arn:aws:sagemaker:<region>:<account>:workteam/...",
        ),
        "role_arn": Param(
            type="string",
            pattern=ROLE_ARN_PATTERN,
            description="IAM role A2I runs as: trusts sagemaker.amazonaws.com, reads images, writes output.",
        ),
        "s3_output_path": Param(
            type="string",
            pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
            description="s3://bucket/prefix where A2I writes the reviewers' answers.",
        ),
        "task_count": Param(
            1, type="integer", minimum=1, maximum=3, description="Reviewers per image (1-3)."
        ),
        "task_availability_lifetime_seconds": Param(
            864000,
            type="integer",
            minimum=1,
            maximum=864000,
            description="How long a task waits for a reviewer before it expires (at most 10 days).",
        ),
        "task_time_limit_seconds": Param(
            3600,
            type="integer",
            minimum=30,
            maximum=28800,
            description="How long a reviewer has for one task once they start it (30 s to 8 h).",
        ),
        "task_title": Param(
            "Check the boxes around objects in an image",
            type="string",
            minLength=1,
            maxLength=128,
            description="What reviewers see in their task list.",
        ),
        "task_description": Param(
            "Correct the model's boxes, draw the missing ones and delete the wrong ones.",
            type="string",
            minLength=1,
            maxLength=255,
        ),
        "labels": Param(
            ["car", "person", "bicycle", "bus"],
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            maxItems=10,
            uniqueItems=True,
            description="Labels of the sample task the template is checked with (1-10); each "
            "detect_and_review run sends its own labels with every task.",
        ),
        "aws_conn_id": Param("aws_default", type="string", minLength=1),
    },
) as dag:
    ensure_human_task_ui = EnsureHumanTaskUiOperator(
        task_id="ensure_human_task_ui",
        aws_conn_id="{{ params.aws_conn_id }}",
        human_task_ui_name="{{ params.human_task_ui_name }}",
        template_path=str(TEMPLATE_PATH),
        role_arn="{{ params.role_arn }}",
        labels="{{ params.labels }}",
        sample_image_s3_uri="{{ params.s3_output_path.rstrip('/') }}/render-check/sample.jpg",
    )
    ensure_flow_definition = EnsureFlowDefinitionOperator(
        task_id="ensure_flow_definition",
        aws_conn_id="{{ params.aws_conn_id }}",
        flow_definition_name="{{ params.flow_definition_name }}",
        role_arn="{{ params.role_arn }}",
        workteam_arn="{{ params.workteam_arn }}",
        human_task_ui_arn=ensure_human_task_ui.output,
        s3_output_path="{{ params.s3_output_path }}",
        task_count="{{ params.task_count }}",
        task_availability_lifetime_seconds="{{ params.task_availability_lifetime_seconds }}",
        task_time_limit_seconds="{{ params.task_time_limit_seconds }}",
        task_title="{{ params.task_title }}",
        task_description="{{ params.task_description }}",
    )
