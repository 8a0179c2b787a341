"""The domain modules must import only the standard library and each other.

They run inside operators, the local stand-in and the benchmark alike, and are tested without
Airflow or AWS, which only holds while no third-party import creeps in.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "hitl_detection"
PURE_MODULES = (
    "a2i_answers",
    "a2i_task",
    "boxes",
    "consolidation",
    "detector_output",
    "gating",
    "images",
    "json_text",
    "labels",
    "naming",
    "records",
    "run_config",
    "run_layout",
    "run_plan",
    "s3_uri",
    "work_rows",
)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("module", PURE_MODULES)
def test_imports_only_the_standard_library_and_pure_modules(module):
    for name in imported_modules(PACKAGE / f"{module}.py"):
        top = name.split(".")[0]
        if top == "hitl_detection":
            assert name.removeprefix("hitl_detection.") in PURE_MODULES, f"{module} imports {name}"
        else:
            assert top in sys.stdlib_module_names or name == "__future__", f"{module} imports {name}"


def test_package_init_stays_empty():
    assert (PACKAGE / "__init__.py").read_text() == ""
