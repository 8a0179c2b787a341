"""review_workflow_setup: create (or reuse) what reviews run on: the A2I worker task UI and flow
definition, or a Label Studio project."""

from pathlib import Path

from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException

from hitl_detection.dag_builder.defaults import default_args
from hitl_detection.domain.run_config import ROLE_ARN_PATTERN
from hitl_detection.operators.review_workflow import (
    EnsureFlowDefinitionOperator,
    EnsureHumanTaskUiOperator,
    EnsureLabelStudioProjectOperator,
)

TEMPLATES = Path(__file__).parent.parent / "include" / "templates"
TEMPLATE_PATH = TEMPLATES / "a2i_bounding_box.liquid.html"
LABEL_STUDIO_TEMPLATE_PATH = TEMPLATES / "label_studio_bounding_box.xml.j2"
NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"  # SageMaker's rule for task UI and flow definition names
WORKTEAM_ARN_PATTERN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/.+$"

REQUIRED = {
    "a2i": ("workteam_arn", "role_arn", "s3_output_path"),
    "labelstudio": ("images_s3_uri",),
}
_NULLABLE_STRING = ["null", "string"]

DOC = """
### Set up what `detect_and_review` sends images to for review

Run it once per review workflow (and again whenever you want to check the setup). It is safe to
run again: what exists with the same template or settings is reused, and the log says so.

**`review_backend` = `a2i`** (Amazon A2I; AWS no longer opens it to new customers). It:

1. renders the worker task template `include/templates/a2i_bounding_box.liquid.html` with a
   sample task (`RenderUiTemplate`) and stops with the template's errors if it does not render;
2. creates the **human task UI** `human_task_ui_name` from it;
3. creates the **flow definition** (human review workflow) `flow_definition_name`, retrying for
   a while if a just-created role is not yet visible to SageMaker, and waits until it is Active;
4. returns the flow definition ARN (task `ensure_flow_definition`, XCom `return_value`): give it
   to `detect_and_review` as `flow_definition_arn`.

Neither resource can be changed once created, so when one exists with a different template or
settings the run fails and names the difference: choose a new name (for instance `...-v2`) or
delete the old one. Before the first run, in the same account and region: a **private workforce
and work team** (its ARN is `workteam_arn`), an **IAM role** for A2I (`role_arn`) that trusts
`sagemaker.amazonaws.com`, reads the input images and writes under `s3_output_path`, and a CORS
rule on the image bucket allowing `GET` from any origin.

**`review_backend` = `labelstudio`** (a self-hosted Label Studio, connection `label_studio_default`:
host = its URL, password = an API token, legacy or personal access token). It creates the project
`label_studio_project_title` from `include/templates/label_studio_bounding_box.xml.j2` with
`labels`, showing the model's predictions and asking `task_count` annotations per image, or
reuses the project of that title when it offers the same labels (a project offers one set of
labels: choose another title for other labels). It connects the bucket of `images_s3_uri` as the
project's S3 source storage, with presigned links and the credentials, region and endpoint of
the AWS connection (`label_studio_s3_endpoint_url` when Label Studio reaches S3 by another
address), and returns the project id (task `ensure_label_studio_project`): give it to
`detect_and_review` as `label_studio_project_id`. The bucket needs a CORS rule allowing `GET`
from Label Studio's origin.

AWS access goes through the Airflow connection `aws_conn_id` (default `aws_default`).
"""


@task.branch
def choose_review_backend(params=None) -> str:
    """The setup of the chosen backend; the params it needs must be given."""
    backend = params["review_backend"]
    missing = [name for name in REQUIRED[backend] if not params.get(name)]
    if missing:
        raise AirflowFailException(f"review_backend {backend} needs {', '.join(missing)}; got none")
    return "ensure_human_task_ui" if backend == "a2i" else "ensure_label_studio_project"


with DAG(
    dag_id="review_workflow_setup",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # task_count and labels reach the operators as int and list
    default_args=default_args(),
    tags=["hitl-detection", "a2i", "labelstudio", "setup"],
    doc_md=DOC,
    params={
        "review_backend": Param(
            "a2i",
            type="string",
            enum=["a2i", "labelstudio"],
            description="What to set up: an A2I flow definition, or a Label Studio project.",
        ),
        "flow_definition_name": Param(
            "hitl-detection-review",
            type="string",
            minLength=1,
            maxLength=63,
            pattern=NAME_PATTERN,
            description="A2I: name of the flow definition (lowercase letters, digits, inner hyphens).",
        ),
        "human_task_ui_name": Param(
            "hitl-detection-bounding-box-v1",
            type="string",
            minLength=1,
            maxLength=63,
            pattern=NAME_PATTERN,
            description="A2I: name of the worker task UI; change it when the template changes.",
        ),
        "workteam_arn": Param(
            None,
            type=_NULLABLE_STRING,
            pattern=WORKTEAM_ARN_PATTERN,
            description="A2I: the reviewing work team: arn:aws:sagemaker:<region>:<account>:workteam/...",
        ),
        "role_arn": Param(
            None,
            type=_NULLABLE_STRING,
            pattern=ROLE_ARN_PATTERN,
            description="A2I: IAM role A2I runs as: trusts sagemaker.amazonaws.com, reads images, "
            "writes output.",
        ),
        "s3_output_path": Param(
            None,
            type=_NULLABLE_STRING,
            pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
            description="A2I: s3://bucket/prefix where A2I writes the reviewers' answers.",
        ),
        "task_count": Param(
            1, type="integer", minimum=1, maximum=3, description="Reviewers per image (1-3)."
        ),
        "task_availability_lifetime_seconds": Param(
            864000,
            type="integer",
            minimum=1,
            maximum=864000,
            description="A2I: how long a task waits for a reviewer before it expires (at most 10 days).",
        ),
        "task_time_limit_seconds": Param(
            3600,
            type="integer",
            minimum=30,
            maximum=28800,
            description="A2I: how long a reviewer has for one task once they start it (30 s to 8 h).",
        ),
        "task_title": Param(
            "Check the boxes around objects in an image",
            type="string",
            minLength=1,
            maxLength=128,
            description="A2I: what reviewers see in their task list.",
        ),
        "task_description": Param(
            "Correct the model's boxes, draw the missing ones and delete the wrong ones.",
            type="string",
            minLength=1,
            maxLength=255,
        ),
        "label_studio_project_title": Param(
            "HITL detection review",
            type="string",
            minLength=3,
            maxLength=50,
            description="Label Studio: the project's title; a project of this title is reused.",
        ),
        "images_s3_uri": Param(
            None,
            type=_NULLABLE_STRING,
            pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$",
            description="Label Studio: s3://bucket/prefix/ of the images to review; the bucket becomes "
            "the project's S3 source storage, so that reviewers see them.",
        ),
        "label_studio_s3_endpoint_url": Param(
            None,
            type=_NULLABLE_STRING,
            description="Label Studio: the S3 endpoint as Label Studio reaches it, when it differs from "
            "the AWS connection's (empty: the connection's, or AWS).",
        ),
        "labels": Param(
            ["car", "person", "bicycle", "bus"],
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            maxItems=10,
            uniqueItems=True,
            description="The labels reviewers pick from (1-10). A2I: the sample task the template is "
            "checked with (each run sends its own). Label Studio: the project's labels, which must be "
            "exactly the labels of the runs that use it.",
        ),
        "aws_conn_id": Param("aws_default", type="string", minLength=1),
    },
) as dag:
    choose = choose_review_backend()
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
    ensure_label_studio_project = EnsureLabelStudioProjectOperator(
        task_id="ensure_label_studio_project",
        aws_conn_id="{{ params.aws_conn_id }}",
        project_title="{{ params.label_studio_project_title }}",
        template_path=str(LABEL_STUDIO_TEMPLATE_PATH),
        labels="{{ params.labels }}",
        reviewers="{{ params.task_count }}",
        images_s3_uri="{{ params.images_s3_uri }}",
        s3_endpoint_url="{{ params.label_studio_s3_endpoint_url }}",
    )
    choose >> [ensure_human_task_ui, ensure_label_studio_project]
