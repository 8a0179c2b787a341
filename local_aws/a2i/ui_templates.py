"""Rendering of A2I worker task templates (Liquid) and the checks A2I applies to what they render.

Like A2I, values are HTML-escaped unless piped through `to_json` or `skip_autoescape`, and
`grant_read_access` turns an `s3://` URI into a short-lived GET URL. The rendered page is then
checked the way the `crowd-bounding-box` element would check it in a worker's browser: `labels`
must be a JSON array of 1-10 strings and `initial-value` an array of boxes with known labels.
The error codes are the emulator's own: AWS does not document RenderUiTemplate's codes.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from liquid import Environment, Markup, is_undefined
from liquid.exceptions import LiquidError, LiquidSyntaxError, UnknownFilterError

MAX_LABELS = 10
BOX_FIELDS = ("left", "top", "width", "height")

Presigner = Callable[[str, str], str]
"""(bucket, key) -> a presigned GET URL."""


@dataclass(frozen=True)
class RenderingError:
    code: str
    message: str

    def to_api(self) -> dict[str, str]:
        return {"Code": self.code, "Message": self.message}


@dataclass(frozen=True)
class Rendering:
    content: str
    errors: list[RenderingError]


class TaskTemplateRenderer:
    """Renders a template with `task.input` bound to a task's parsed input, as A2I does."""

    def __init__(self, presign: Presigner) -> None:
        self._presign = presign
        self._environment = Environment(autoescape=True)
        self._environment.filters["grant_read_access"] = self._grant_read_access
        self._environment.filters["to_json"] = _to_json
        self._environment.filters["skip_autoescape"] = Markup

    def render(self, template: str, task_input: Any) -> Rendering:
        try:
            content = self._environment.from_string(template).render(task={"input": task_input})
        except LiquidSyntaxError as error:
            return Rendering("", [RenderingError("TemplateSyntaxError", _describe(error))])
        except UnknownFilterError as error:
            return Rendering("", [RenderingError("UnknownFilter", _describe(error))])
        except LiquidError as error:
            return Rendering("", [RenderingError("TemplateRenderError", _describe(error))])
        return Rendering(content, check_bounding_boxes(content))

    def _grant_read_access(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("s3://"):
            bucket, _, key = value.removeprefix("s3://").partition("/")
            if bucket and key:
                return self._presign(bucket, key)
        return value


def _to_json(value: Any) -> Markup:
    return Markup("null" if is_undefined(value) else json.dumps(value))


def _describe(error: LiquidError) -> str:
    """The error's message and, when Liquid knows it, where: `missing expression at '{% if %}' 2:3`."""
    lines = str(error).splitlines()
    where = lines[1].strip().removeprefix("-> ") if len(lines) > 1 else ""
    return f"{error.message} at {where}" if where else str(error.message)


def check_bounding_boxes(html: str) -> list[RenderingError]:
    """Problems with every `<crowd-bounding-box>` in rendered HTML (attribute values are unescaped)."""
    finder = _CrowdBoundingBoxFinder()
    finder.feed(html)
    finder.close()
    errors = []
    for number, attributes in enumerate(finder.elements, start=1):
        errors.extend(
            RenderingError("InvalidCrowdBoundingBox", f"crowd-bounding-box #{number}: {problem}")
            for problem in _element_problems(attributes)
        )
    return errors


class _CrowdBoundingBoxFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "crowd-bounding-box":
            self.elements.append(dict(attrs))


def _element_problems(attributes: dict[str, str | None]) -> list[str]:
    labels, problem = _parse_labels(attributes.get("labels"))
    if problem:
        return [problem]
    raw_initial = attributes.get("initial-value")
    if raw_initial is None:
        return []
    return _initial_value_problems(raw_initial, labels)


def _parse_labels(raw: str | None) -> tuple[list[str], str | None]:
    if raw is None:
        return [], "the labels attribute is missing"
    try:
        labels = json.loads(raw)
    except ValueError:
        return [], f"labels {raw!r} is not JSON"
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return [], f"labels {raw!r} is not a JSON array of strings"
    if not 1 <= len(labels) <= MAX_LABELS:
        return [], f"labels has {len(labels)} entries; 1 to {MAX_LABELS} are allowed"
    return labels, None


def _initial_value_problems(raw: str, labels: list[str]) -> list[str]:
    try:
        boxes = json.loads(raw)
    except ValueError:
        return [f"initial-value {raw!r} is not JSON"]
    if not isinstance(boxes, list):
        return [f"initial-value {raw!r} is not a JSON array"]
    problems = []
    for index, box in enumerate(boxes):
        where = f"initial-value[{index}]"
        if not isinstance(box, dict):
            problems.append(f"{where} is not an object")
            continue
        if box.get("label") not in labels:
            problems.append(f"{where} has label {box.get('label')!r}, which is not among labels {labels}")
        for name in BOX_FIELDS:
            number = box.get(name)
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                problems.append(f"{where}.{name} is {number!r}; a number >= 0 is required")
    return problems
