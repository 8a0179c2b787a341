import pytest

from hitl_detection.domain.labels import MAX_LABELS, label_problems


@pytest.mark.parametrize("labels", [["dog"], ("dog", "cat"), [f"class {i}" for i in range(MAX_LABELS)]])
def test_valid_labels_have_no_problem(labels):
    assert label_problems(labels) == []


@pytest.mark.parametrize(
    ("labels", "problems"),
    [
        ("dog", ["labels 'dog' is a str, expected a list of 1-10 class names"]),
        ({"dog"}, ["labels {'dog'} is a set, expected a list of 1-10 class names"]),
        ([], ["labels is empty; expected 1-10 class names"]),
        ([str(i) for i in range(11)], ["labels has 11 labels, above the limit of 10"]),
        (["dog", 3], ["labels[1] 3 is a int, expected a string"]),
        (["", "cat"], ["labels[0] '' is empty; expected a class name"]),
        (["dog "], ["labels[0] 'dog ' has leading or trailing whitespace"]),
        (["dog", "cat", "dog"], ["labels[2] 'dog' is a duplicate"]),
    ],
)
def test_names_each_problem(labels, problems):
    assert label_problems(labels) == problems


def test_uses_the_given_field_name():
    assert label_problems([""], field="task labels") == ["task labels[0] '' is empty; expected a class name"]
