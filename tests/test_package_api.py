"""The packages export their real API, and importing visionkit stays light."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: every public module of the two packages, found on disk: a new module's names must be exported too
SUBMODULES = {
    package: sorted(m.name for m in pkgutil.iter_modules([str(ROOT / package.replace(".", "/"))]) if not m.name.startswith("_"))
    for package in ("visionkit.classical", "visionkit.viz")
}


@pytest.mark.parametrize("package", sorted(SUBMODULES))
def test_package_exports_every_public_name_of_its_modules(package):
    pkg = importlib.import_module(package)
    homes = {}
    for module in SUBMODULES[package]:
        for name in importlib.import_module(f"{package}.{module}").__all__:
            homes.setdefault(name, module)
    homes.pop("BORDER", None)
    assert set(pkg.__all__) == set(homes)
    assert len(pkg.__all__) == len(set(pkg.__all__))
    for name in pkg.__all__:
        assert getattr(pkg, name) is getattr(importlib.import_module(f"{package}.{homes[name]}"), name)


def test_deep_exports_resolve():
    import visionkit.deep as deep

    for name in deep.__all__:
        assert getattr(deep, name) is not None


def test_hog_is_the_function_after_its_module_loads():
    import visionkit.classical as classical
    from visionkit.classical.hog import HOGFeatures  # loads the submodule named like the function

    assert callable(classical.hog) and classical.hog.__name__ == "hog"
    assert HOGFeatures is classical.HOGFeatures


def test_import_visionkit_loads_neither_torch_nor_sklearn():
    code = "import sys, visionkit, visionkit.viz; print(sorted({'torch', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
