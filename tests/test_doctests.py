"""The docstring examples of every visionkit module run and give what they show (``doctest``).

Examples that need data sets, downloads or minutes say ``# doctest: +SKIP`` where they are written.
``python -m pytest --doctest-modules visionkit`` runs the same examples; this file makes the plain
``python -m pytest -q`` (the CI command, run from the repository root) run them too.
"""

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "visionkit"

#: the modules whose source holds an example, found without importing anything
MODULES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_examples_are_found():
    assert "visionkit.classical.filters" in MODULES and "visionkit.classical.corners" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
