"""PlanRunOperator.execute against the stand-in: bad params and review or endpoint settings that
point at the wrong thing are refused before anything is paid for; the plan it returns is the one
every other task decodes."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support import (
    BUCKET,
    CONCURRENCY_PER_INSTANCE,
    DAG_ID,
    FLOW_DEFINITION_NAME,
    INSTALLATION_ID,
    RUN_ID,
    deploy_by_hand,
    make_plan,
    rewrite_answers,
    run_params,
    task_context,
)

from hitl_detection.domain.run_owner import DeploymentIdentity
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.operators.plan import PlanRunOperator
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack


def plan_run(params: dict, concurrency_per_instance: int = CONCURRENCY_PER_INSTANCE) -> dict:
    operator = PlanRunOperator(task_id="plan_run", concurrency_per_instance=concurrency_per_instance)
    return operator.execute(task_context(params=params, run_id=RUN_ID))


def test_the_plan_round_trips_and_is_what_every_task_decodes(flow_definition, bucket):
    planned = plan_run(run_params())

    assert RunPlan.from_xcom(json.loads(json.dumps(planned))) == make_plan()
    assert planned["deployment"]["deploys"] is True
    assert planned["endpoint_concurrency"] == 4


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"threshold": 1.5}, "threshold 1.5 is above 1"),
        ({"labels": None}, "labels is missing"),
        ({"execution_role_arn": None}, "execution_role_arn is required when endpoint_name is null"),
        ({"output_s3_uri": "s3://hitl-runs/images/"}, "output_s3_uri 's3://hitl-runs/images/' is the same"),
        (
            {"flow_definition_arn": "review-boxes"},
            "flow_definition_arn 'review-boxes' is not a flow definition",
        ),
    ],
)
def test_bad_params_fail_at_once_naming_the_param(aws, a2i_calls, overrides, named):
    with pytest.raises(AirflowFailException, match="The run's params are not valid") as raised:
        plan_run(run_params(**overrides))

    assert named in str(raised.value)
    assert sum(a2i_calls.values()) == 0


def test_every_param_problem_is_reported_at_once(aws):
    with pytest.raises(AirflowFailException, match=r"have 2 problem\(s\)") as raised:
        plan_run(run_params(threshold=-1, instance_count=0))

    assert "threshold -1 is below 0" in str(raised.value)
    assert "instance_count 0 is below 1" in str(raised.value)


def test_labels_the_model_never_says_are_refused_before_anything_is_checked_or_paid_for(aws, a2i_calls):
    with pytest.raises(AirflowFailException) as raised:
        plan_run(run_params(labels=["Car", "person", "forklift"]))

    assert str(raised.value) == (
        "The run's labels do not match the model: labels[0] 'Car' is not a class of the GluonCV SSD "
        "model (COCO, 80 classes): it would never be detected; did you mean 'car'?; labels[2] 'forklift' "
        "is not a class of the GluonCV SSD model (COCO, 80 classes): it would never be detected"
    )
    assert sum(a2i_calls.values()) == 0


def test_the_labels_of_a_model_whose_classes_are_unknown_are_planned_with_a_warning(
    flow_definition, bucket, capfd
):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/my-detector/3"

    planned = plan_run(run_params(model_package_arn=arn, labels=["forklift"]))

    assert RunPlan.from_xcom(planned).config.labels == ("forklift",)
    assert (
        f"The classes of model package {arn} are not known here: labels ['forklift'] cannot be checked"
        in capfd.readouterr().out
    )


def test_a_flow_definition_of_another_account_or_region_is_refused_naming_both_arns(flow_definition):
    elsewhere = f"arn:aws:sagemaker:eu-west-1:999999999999:flow-definition/{FLOW_DEFINITION_NAME}"

    with pytest.raises(
        AirflowFailException, match=f"flow_definition_arn {elsewhere} does not exist here"
    ) as raised:
        plan_run(run_params(flow_definition_arn=elsewhere))

    assert f"the flow definition of that name is {flow_definition}" in str(raised.value)


def test_a_flow_definition_that_does_not_exist_is_refused(aws):
    with pytest.raises(
        AirflowFailException, match=r"review_backend a2i: flow_definition_arn .*ResourceNotFound"
    ):
        plan_run(run_params())


def test_a_flow_definition_that_is_not_active_is_refused(flow_definition, on_botocore_event):
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeFlowDefinition", FlowDefinitionStatus="Failed")

    with pytest.raises(
        AirflowFailException,
        match=f"flow_definition_arn {flow_definition} is Failed; expected Active",
    ):
        plan_run(run_params())


def test_a_reused_endpoint_sets_the_concurrency_from_its_instances(aws, flow_definition, bucket):
    other_run = make_plan(run_id="manual__2026-11-24T08:00:00+00:00", instance_count=3)
    deploy_by_hand(aws.client("sagemaker"), other_run)
    name = other_run.deployment.endpoint_name

    planned = RunPlan.from_xcom(plan_run(run_params(endpoint_name=name), concurrency_per_instance=2))

    assert planned.deployment.deploys is False
    assert planned.deployment.endpoint_name == name
    assert planned.config.instance_count == 1
    assert planned.endpoint_concurrency == 3 * 2


def test_a_reused_endpoint_that_is_not_in_service_is_refused(aws, flow_definition, on_botocore_event):
    create_endpoint(aws.client("sagemaker"), "team-detector")
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeEndpoint", EndpointStatus="Updating")

    with pytest.raises(
        AirflowFailException, match="endpoint_name team-detector is Updating; expected an InService endpoint"
    ):
        plan_run(run_params(endpoint_name="team-detector"))


def test_a_reused_endpoint_that_does_not_exist_is_refused(aws, flow_definition):
    with pytest.raises(AirflowFailException, match=r"endpoint_name team-detector: .*Could not find endpoint"):
        plan_run(run_params(endpoint_name="team-detector"))


def test_a_conf_variable_overrides_the_params_of_a_scheduled_run(flow_definition, bucket, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DAILY_CONF", json.dumps({"threshold": 0.75, "max_images": 20}))
    operator = PlanRunOperator(task_id="plan_run", conf_variable="hitl_daily_conf")

    planned = RunPlan.from_xcom(operator.execute(task_context(params=run_params(), run_id=RUN_ID)))

    assert (planned.config.policy.threshold, planned.config.max_images) == (0.75, 20)


def test_a_conf_variable_that_is_not_a_json_object_is_refused(aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DAILY_CONF", json.dumps([0.75]))
    operator = PlanRunOperator(task_id="plan_run", conf_variable="hitl_daily_conf")

    with pytest.raises(
        AirflowFailException, match=r"Variable hitl_daily_conf is \[0.75\]; expected a JSON object"
    ):
        operator.execute(task_context(params=run_params(), run_id=RUN_ID))


# --- who the run is: its key, and the owner file of its folder --------------------------------


def owner_file(aws, plan: RunPlan) -> dict:
    body = aws.client("s3").get_object(Bucket=BUCKET, Key=plan.layout.owner_key)["Body"].read()
    return json.loads(body)


def test_the_run_is_named_after_this_deployment_and_claims_its_folder(aws, flow_definition, bucket):
    planned = RunPlan.from_xcom(plan_run(run_params()))

    assert planned.owner == DeploymentIdentity(INSTALLATION_ID, INSTALLATION_ID).owner_of(DAG_ID, RUN_ID)
    assert planned.run_key == f"{RUN_ID}:{DAG_ID}:{INSTALLATION_ID}"
    assert owner_file(aws, planned) == planned.owner.to_json()


def test_a_retried_or_cleared_plan_finds_its_own_folder_and_names_again(aws, flow_definition, bucket):
    first = plan_run(run_params())

    assert plan_run(run_params()) == first


def test_the_deployment_id_setting_names_the_run(aws, flow_definition, bucket, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HITL_DETECTION__DEPLOYMENT_ID", "prod")
    planned = RunPlan.from_xcom(plan_run(run_params()))

    assert (planned.owner.deployment_id, planned.owner.installation_id) == ("prod", INSTALLATION_ID)
    assert planned.layout.folder.startswith(f"results/manual__2026-11-25T10-00-00-00-00-{DAG_ID}-prod-")
    assert planned.deployment.endpoint_name != make_plan().deployment.endpoint_name


def test_a_second_deployment_with_the_same_run_id_gets_its_own_folder_and_names(
    aws, flow_definition, bucket, monkeypatch
):
    """Finding: staging and prod, one run id, one output location: the first run's results held the
    second's images, the second reused the first's model. Here each has its own."""
    prod = RunPlan.from_xcom(plan_run(run_params()))
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DETECTION_INSTALLATION_ID", "0b8e6d1f2c4a9e75")
    staging = RunPlan.from_xcom(plan_run(run_params()))

    assert prod.run_id == staging.run_id
    assert prod.layout.folder != staging.layout.folder
    assert prod.deployment.model_name != staging.deployment.model_name
    assert prod.deployment.endpoint_name != staging.deployment.endpoint_name
    assert owner_file(aws, prod) == prod.owner.to_json()
    assert owner_file(aws, staging) == staging.owner.to_json()


def test_two_installations_given_the_same_deployment_id_are_refused_not_mixed(
    aws, flow_definition, bucket, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HITL_DETECTION__DEPLOYMENT_ID", "prod")
    prod = RunPlan.from_xcom(plan_run(run_params()))
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DETECTION_INSTALLATION_ID", "0b8e6d1f2c4a9e75")

    with pytest.raises(AirflowFailException) as raised:
        plan_run(run_params())

    assert str(raised.value) == (
        f"The run's folder {prod.layout.uri} is not this run's: it belongs to run {RUN_ID} of DAG "
        f"{DAG_ID} in another Airflow installation (installation id {INSTALLATION_ID}; this one is "
        "0b8e6d1f2c4a9e75) that uses the same deployment_id 'prod': give each deployment its own "
        "[hitl_detection] deployment_id"
    )
    assert owner_file(aws, prod) == prod.owner.to_json()


def test_a_folder_claimed_between_the_read_and_the_write_is_read_again(
    aws, flow_definition, bucket, on_botocore_event
):
    theirs = DeploymentIdentity(INSTALLATION_ID, "0b8e6d1f2c4a9e75").owner_of(DAG_ID, RUN_ID)
    folder = make_plan().layout

    def claim_first(params, **_):
        if params.get("IfNoneMatch") == "*":
            aws.client("s3").put_object(
                Bucket=BUCKET, Key=folder.owner_key, Body=json.dumps(theirs.to_json())
            )

    on_botocore_event("before-parameter-build.s3.PutObject", claim_first)

    with pytest.raises(AirflowFailException, match="in another Airflow installation"):
        plan_run(run_params())


@pytest.mark.parametrize(
    ("content", "found"), [(b"{not json", "'{not json'"), (b'{"run_id": "x"}', "{'run_id': 'x'}")]
)
def test_a_folder_with_an_owner_file_this_project_did_not_write_is_refused(
    aws, flow_definition, bucket, content, found
):
    aws.client("s3").put_object(Bucket=BUCKET, Key=make_plan().layout.owner_key, Body=content)

    with pytest.raises(
        AirflowFailException, match="is not this run's: its owner file is not one this project writes: "
    ) as raised:
        plan_run(run_params())

    assert found in str(raised.value)


def test_an_output_bucket_that_does_not_exist_is_refused_before_anything_is_paid_for(aws, flow_definition):
    with pytest.raises(
        AirflowFailException, match=f"output_s3_uri s3://{BUCKET}/results/: bucket {BUCKET} does not exist"
    ):
        plan_run(run_params())


def test_a_deployment_id_that_is_not_one_is_refused_by_name(aws, flow_definition, bucket, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HITL_DETECTION__DEPLOYMENT_ID", "Prod_1")

    with pytest.raises(
        AirflowFailException,
        match=r"The run cannot be named: setting \[hitl_detection\] deployment_id or Variable "
        r"hitl_detection_installation_id: deployment_id 'Prod_1' is not 1 to 32 lowercase",
    ):
        plan_run(run_params())
