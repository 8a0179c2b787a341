import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.gating import GatePolicy
from hitl_detection.domain.run_config import ParamsError, RunConfig

MODEL_PACKAGE = (
    "arn:aws:sagemaker:us-east-1:865070037744:model-package/"
    "gluoncv-ssd-resnet501547760463-0f9e6796d2438a1d64bb9b15aac57bc0"
)
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000"
FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl-detection"
PARAMS = {
    "input_s3_uri": "s3://images-bucket/incoming/",
    "output_s3_uri": "s3://results-bucket/",
    "threshold": 0.9,
    "min_score": 0.2,
    "class_thresholds": {},
    "labels": ["dog", "person"],
    "model_package_arn": MODEL_PACKAGE,
    "instance_type": "ml.m4.xlarge",
    "instance_count": 1,
    "execution_role_arn": ROLE,
    "endpoint_name": None,
    "review_backend": "a2i",
    "flow_definition_arn": FLOW,
    "label_studio_project_id": None,
    "max_images": None,
    "inference": "endpoint",
}
PARAM_NAMES = set(PARAMS)


def problems_of(**overrides) -> list[str]:
    params = {**PARAMS, **overrides}
    with pytest.raises(ParamsError) as caught:
        RunConfig.from_params({k: v for k, v in params.items() if v is not ...})
    for problem in caught.value.problems:
        assert problem.split(" ", 1)[0].split("[", 1)[0].rstrip(":") in PARAM_NAMES, problem
    return caught.value.problems


def test_from_params():
    config = RunConfig.from_params(PARAMS)
    assert config == RunConfig(
        input_bucket="images-bucket",
        input_prefix="incoming/",
        output_bucket="results-bucket",
        output_prefix="",
        policy=GatePolicy(threshold=0.9, min_score=0.2, labels=("dog", "person")),
        labels=("dog", "person"),
        model_package_arn=MODEL_PACKAGE,
        instance_type="ml.m4.xlarge",
        instance_count=1,
        execution_role_arn=ROLE,
        endpoint_name=None,
        review_backend="a2i",
        flow_definition_arn=FLOW,
        max_images=None,
    )
    assert config.input_s3_uri == "s3://images-bucket/incoming/"
    assert config.output_s3_uri == "s3://results-bucket/"
    assert config.deploys_endpoint


def test_defaults_and_ignored_keys():
    params = {
        "input_s3_uri": "s3://bucket/in/",
        "output_s3_uri": "s3://bucket/out/",
        "labels": ["dog"],
        "model_package_arn": MODEL_PACKAGE,
        "execution_role_arn": ROLE,
        "flow_definition_arn": FLOW,
        "batch_size": 50,
    }
    config = RunConfig.from_params(params)
    assert config.policy == GatePolicy(labels=("dog",))
    assert (config.instance_type, config.instance_count, config.review_backend) == ("ml.m4.xlarge", 1, "a2i")
    assert (config.endpoint_name, config.max_images) == (None, None)


def test_reusing_an_endpoint_needs_no_model_or_role():
    config = RunConfig.from_params(
        {**PARAMS, "endpoint_name": "my-endpoint", "model_package_arn": "", "execution_role_arn": None}
    )
    assert config.endpoint_name == "my-endpoint"
    assert (config.model_package_arn, config.execution_role_arn) == (None, None)
    assert not config.deploys_endpoint


def test_blank_strings_count_as_null_and_values_are_stripped():
    config = RunConfig.from_params(
        {**PARAMS, "endpoint_name": "  ", "model_package_arn": f" {MODEL_PACKAGE}\n"}
    )
    assert config.endpoint_name is None
    assert config.model_package_arn == MODEL_PACKAGE


def test_label_studio_needs_a_project_and_no_flow_definition():
    config = RunConfig.from_params(
        {**PARAMS, "review_backend": "labelstudio", "flow_definition_arn": None, "label_studio_project_id": 7}
    )
    assert (config.flow_definition_arn, config.label_studio_project_id) == (None, 7)


def test_an_a2i_run_keeps_a_label_studio_project_it_does_not_use():
    assert RunConfig.from_params({**PARAMS, "label_studio_project_id": 7}).label_studio_project_id == 7
    assert RunConfig.from_params(PARAMS).label_studio_project_id is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("model_package_arn", "arn:aws:sagemaker:eu-west-1:123456789012:model-package/my-detector/3"),
        ("model_package_arn", "arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/Detector"),
        ("execution_role_arn", "arn:aws-us-gov:iam::123456789012:role/hitl"),
        ("execution_role_arn", "arn:aws:iam::123456789012:role/a/b/c/Role+=,.@_-x"),
        ("flow_definition_arn", "arn:aws:sagemaker:us-gov-west-1:123456789012:flow-definition/f-1"),
        ("instance_type", "ml.g4dn.2xlarge"),
        ("instance_count", 3.0),
        ("max_images", 1),
        ("class_thresholds", None),
        ("input_s3_uri", "s3://bucket/"),
        ("output_s3_uri", "s3://images-bucket/incoming/results/"),
        ("inference", "batch_transform"),
        ("inference", "auto"),
    ],
)
def test_accepts(name, value):
    config = RunConfig.from_params({**PARAMS, name: value})
    if name == "instance_count":
        assert config.instance_count == 3
        assert isinstance(config.instance_count, int)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"input_s3_uri": ...}, "input_s3_uri is missing; expected s3://bucket/prefix/"),
        ({"output_s3_uri": None}, "output_s3_uri is missing; expected s3://bucket/prefix/"),
        ({"input_s3_uri": "s3://bucket/in"}, "input_s3_uri: 's3://bucket/in' does not end with '/'"),
        ({"input_s3_uri": "bucket/in/"}, "input_s3_uri: 'bucket/in/' is not an S3 URI"),
        (
            {"output_s3_uri": "s3://Results/"},
            "output_s3_uri: 's3://Results/': bucket name 'Results' has characters",
        ),
        (
            {"output_s3_uri": "s3://images-bucket/incoming/"},
            "output_s3_uri 's3://images-bucket/incoming/' is the same location as input_s3_uri",
        ),
        ({"threshold": 1.5}, "threshold 1.5 is above 1"),
        ({"min_score": "0.2"}, "min_score '0.2' is not a number"),
        ({"threshold": 0.3, "min_score": 0.5}, "min_score 0.5 is above threshold 0.3"),
        ({"labels": ...}, "labels is missing; expected a list of 1-10 class names"),
        ({"labels": [f"c{i}" for i in range(11)]}, "labels has 11 labels, above the limit of 10"),
        ({"labels": ["dog", "dog"]}, "labels[1] 'dog' is a duplicate"),
        (
            {"class_thresholds": {"cat": 0.5}},
            "class_thresholds['cat']: 'cat' is not among labels ['dog', 'person']",
        ),
        ({"class_thresholds": {"dog": 0.1}}, "class_thresholds['dog'] 0.1 is below min_score 0.2"),
        ({"endpoint_name": "my_endpoint"}, "endpoint_name 'my_endpoint' is not a SageMaker endpoint name"),
        ({"endpoint_name": 7}, "endpoint_name 7 is not a SageMaker endpoint name"),
        ({"model_package_arn": None}, "model_package_arn is required when endpoint_name is null"),
        (
            {"model_package_arn": "arn:aws:sagemaker:us-east-1:123:model-package/x"},
            "model_package_arn 'arn:aws:sagemaker:us-east-1:123:model-package/x' is not a model package ARN",
        ),
        ({"model_package_arn": FLOW}, "model_package_arn '" + FLOW + "' is not a model package ARN"),
        ({"execution_role_arn": ...}, "execution_role_arn is required when endpoint_name is null"),
        ({"execution_role_arn": "arn:aws:iam::123456789012:user/bob"}, "execution_role_arn 'arn:aws:iam"),
        (
            {"instance_type": "m4.xlarge"},
            "instance_type 'm4.xlarge' is not an instance type like ml.m4.xlarge",
        ),
        ({"instance_type": None}, "instance_type None is not an instance type"),
        ({"instance_count": 0}, "instance_count 0 is below 1"),
        ({"instance_count": True}, "instance_count True is not an integer; expected an integer >= 1"),
        ({"instance_count": "2"}, "instance_count '2' is not an integer; expected an integer >= 1"),
        ({"review_backend": "mturk"}, "review_backend 'mturk' is not one of a2i, labelstudio"),
        ({"flow_definition_arn": None}, 'flow_definition_arn is required when review_backend is "a2i"'),
        (
            {"flow_definition_arn": FLOW.replace("hitl-detection", "Upper")},
            f"flow_definition_arn '{FLOW.replace('hitl-detection', 'Upper')}' is not a flow definition ARN",
        ),
        (
            {"review_backend": "labelstudio", "label_studio_project_id": ...},
            'label_studio_project_id is required when review_backend is "labelstudio"; expected the id of '
            "a Label Studio project (made by review_workflow_setup)",
        ),
        ({"label_studio_project_id": 0}, "label_studio_project_id 0 is below 1"),
        (
            {"label_studio_project_id": "12"},
            "label_studio_project_id '12' is not an integer; expected an integer >= 1 or null",
        ),
        ({"max_images": 0}, "max_images 0 is below 1"),
        ({"max_images": 2.5}, "max_images 2.5 is not an integer; expected an integer >= 1 or null"),
        ({"inference": "async"}, "inference 'async' is not one of endpoint, batch_transform, auto"),
        (
            {"inference": "batch_transform", "endpoint_name": "team"},
            "inference 'batch_transform' runs a transform job on the run's own model; expected "
            "endpoint_name null",
        ),
    ],
)
def test_names_the_problem(overrides, problem):
    assert any(found.startswith(problem) for found in problems_of(**overrides)), problems_of(**overrides)


def test_collects_every_problem_in_one_error():
    problems = problems_of(
        input_s3_uri="s3://bucket/in",
        threshold=2,
        labels=[],
        instance_count=0,
        review_backend="x",
        max_images=-1,
        model_package_arn="nope",
    )
    assert len(problems) == 7
    with pytest.raises(
        ParamsError, match=r"the run's params have 7 problem\(s\):\n- input_s3_uri: .*\n- threshold"
    ):
        RunConfig.from_params(
            {
                **PARAMS,
                "input_s3_uri": "s3://bucket/in",
                "threshold": 2,
                "labels": [],
                "instance_count": 0,
                "review_backend": "x",
                "max_images": -1,
                "model_package_arn": "nope",
            }
        )


def test_an_invalid_endpoint_name_still_counts_as_reuse():
    problems = problems_of(endpoint_name="bad name", model_package_arn=None, execution_role_arn=None)
    assert problems == [
        "endpoint_name 'bad name' is not a SageMaker endpoint name "
        "(letters, digits and inner hyphens, at most 63)"
    ]


def test_params_error_is_a_value_error_with_problems():
    error = ParamsError(["threshold 1.5 is above 1"])
    assert isinstance(error, ValueError)
    assert error.problems == ["threshold 1.5 is above 1"]
    assert str(error) == "the run's params have 1 problem(s):\n- threshold 1.5 is above 1"


@given(
    threshold=st.floats(0.5, 1),
    min_score=st.floats(0, 0.5),
    labels=st.lists(st.sampled_from(["dog", "cat", "person", "car"]), min_size=1, unique=True),
    endpoint=st.none() | st.just("existing-endpoint"),
    max_images=st.none() | st.integers(1, 10_000),
    backend=st.sampled_from(["a2i", "labelstudio"]),
    project=st.integers(1, 10**9),
    inference=st.sampled_from(["endpoint", "auto"]),
)
def test_to_params_gives_the_same_config_back_through_json(
    threshold, min_score, labels, endpoint, max_images, backend, project, inference
):
    params = {
        **PARAMS,
        "threshold": threshold,
        "min_score": min_score,
        "labels": labels,
        "class_thresholds": {labels[0]: threshold},
        "endpoint_name": endpoint,
        "max_images": max_images,
        "review_backend": backend,
        "label_studio_project_id": project,
        "inference": inference,
    }
    config = RunConfig.from_params(params)
    assert RunConfig.from_params(json.loads(json.dumps(config.to_params()))) == config
