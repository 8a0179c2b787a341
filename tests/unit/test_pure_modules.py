"""The domain package must import only the standard library and itself.

Its modules run inside operators, the local stand-in and the benchmark alike, and are tested
without Airflow or AWS, which only holds while no third-party import creeps in. The check reads
every module of the package, so a new module is held to it without being listed anywhere.
"""

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "plugins" / "hitl_detection" / "domain"
MODULES = sorted(path.name for path in DOMAIN.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_the_domain_package_has_modules():
    assert len(MODULES) > 10


@pytest.mark.parametrize("module", MODULES)
def test_imports_only_the_standard_library_and_the_domain(module):
    for name in imported_modules(DOMAIN / module):
        top = name.split(".")[0]
        if top == "hitl_detection":
            assert name.startswith("hitl_detection.domain."), f"{module} imports {name}"
        else:
            assert top in sys.stdlib_module_names or name == "__future__", f"{module} imports {name}"


def test_package_inits_stay_empty():
    package = DOMAIN.parent
    assert (package / "__init__.py").read_text() == ""
    assert (DOMAIN / "__init__.py").read_text() == ""
