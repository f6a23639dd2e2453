"""The README cannot drift from the code: every Python snippet in it runs, and every dpzoo name and
repository path it mentions exists."""

import ast
import importlib
import os
import re

import pytest

from tests.conftest import ROOT

with open(os.path.join(ROOT, "README.md")) as f:
    README = f.read()
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)
DOTTED_NAMES = sorted(set(re.findall(r"`(dpzoo(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", README)))
PATHS = sorted(
    {p.rstrip("/") for p in re.findall(r"`((?:dpzoo|train|tests|scripts|results)/[^`\s<*]*)`", README)}
    | set(re.findall(r"\]\(((?:dpzoo|train|tests|scripts|results)/[^)\s]+)\)", README))  # links and images
)


def run_snippet(source: str) -> dict:
    """Executes a snippet in a fresh namespace; the value of a final bare expression is kept as ``_``."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        tree.body[-1] = ast.Assign(targets=[ast.Name("_", ast.Store())], value=tree.body[-1].value)
        ast.fix_missing_locations(tree)
    namespace: dict = {}
    exec(compile(tree, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_has_python_snippets_and_names():
    assert len(SNIPPETS) >= 2 and len(DOTTED_NAMES) >= 10 and len(PATHS) >= 5


@pytest.mark.parametrize("source", SNIPPETS, ids=[s.splitlines()[0] for s in SNIPPETS])
def test_every_python_snippet_runs(source):
    namespace = run_snippet(source)
    if "zoo.load(" in source:  # the snippet says it gives the card's test accuracy
        loss, accuracy = namespace["_"]
        assert accuracy == pytest.approx(namespace["card"]["results"]["test_accuracy"], abs=0.002)
    if "make_private(" in source:
        assert int(namespace["private"].dp_steps.numpy()) > 0


def _resolve(dotted: str):
    """The object a dotted name denotes: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[i:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", DOTTED_NAMES)
def test_every_dpzoo_name_the_readme_mentions_exists(dotted):
    assert _resolve(dotted) is not None


def test_a_name_that_is_gone_is_caught():
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        _resolve("dpzoo.ghost_clipping.NORM_FUNCTIONS")  # the flat layout's name


@pytest.mark.parametrize("path", PATHS)
def test_every_repository_path_the_readme_mentions_exists(path):
    assert os.path.exists(os.path.join(ROOT, path)), path
