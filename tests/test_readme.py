"""The README and the docs/ pages cannot drift from the code: every Python snippet in them runs,
every dpzoo name and repository path they mention exists, every relative link (and its #anchor)
leads somewhere, and every docs page is linked from the README."""

import ast
import glob
import importlib
import os
import re

import pytest

from tests.conftest import ROOT

DOCS = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
PAGES = ["README.md", *DOCS]  # repository-relative


def _read(page: str) -> str:
    with open(os.path.join(ROOT, page)) as f:
        return f.read()


TEXT = {page: _read(page) for page in PAGES}
README = TEXT["README.md"]
FENCED = re.compile(r"^```.*?^```", re.S | re.M)


def _snippets(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def _dotted_names(text: str) -> set[str]:
    return set(re.findall(r"`(dpzoo(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text))


def _code_paths(text: str) -> set[str]:
    """Repository paths in backticks: always relative to the repository root, on every page."""
    return {p.rstrip("/") for p in re.findall(r"`((?:dpzoo|train|tests|scripts|results|docs)/[^`\s<*]*)`", text)}


def _links(text: str) -> set[str]:
    """Targets of markdown links and images outside code blocks, other than web addresses."""
    targets = set(re.findall(r"\]\(([^)\s]+)\)", FENCED.sub("", text)))
    return {t for t in targets if not re.match(r"[a-z]+:", t)}


def _resolve_link(page: str, target: str) -> tuple[str, str]:
    """(repository-relative path, anchor) of a link on ``page``; a bare ``#anchor`` is the page itself."""
    path, _, anchor = target.partition("#")
    if not path:
        return page, anchor
    return os.path.normpath(os.path.join(os.path.dirname(page), path)), anchor


def _anchors(text: str) -> set[str]:
    """GitHub's ids for a page's headings: lower case, punctuation dropped, each space a hyphen."""
    headings = re.findall(r"^#+ (.+?)\s*$", FENCED.sub("", text), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


SNIPPETS = [(page, source) for page in PAGES for source in _snippets(TEXT[page])]
DOTTED_NAMES = sorted({(page, name) for page in PAGES for name in _dotted_names(TEXT[page])})
PATHS = sorted({(page, path) for page in PAGES for path in _code_paths(TEXT[page])})
LINKS = sorted({(page, target) for page in PAGES for target in _links(TEXT[page])})


def run_snippet(source: str, page: str = "README.md") -> dict:
    """Executes a snippet in a fresh namespace; the value of a final bare expression is kept as ``_``."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        tree.body[-1] = ast.Assign(targets=[ast.Name("_", ast.Store())], value=tree.body[-1].value)
        ast.fix_missing_locations(tree)
    namespace: dict = {}
    exec(compile(tree, page, "exec"), namespace)
    return namespace


def test_the_readme_has_python_snippets_and_names():
    assert len(_snippets(README)) >= 2  # the zoo and the Python API stay on the front page
    assert DOCS and len(DOTTED_NAMES) >= 10 and len(PATHS) >= 5 and len(LINKS) >= 10


@pytest.mark.parametrize(("page", "source"), SNIPPETS, ids=[f"{p}:{s.splitlines()[0]}" for p, s in SNIPPETS])
def test_every_python_snippet_runs(page, source):
    namespace = run_snippet(source, page)
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


@pytest.mark.parametrize(("page", "dotted"), DOTTED_NAMES, ids=[f"{p}:{d}" for p, d in DOTTED_NAMES])
def test_every_dpzoo_name_the_docs_mention_exists(page, dotted):
    assert _resolve(dotted) is not None


def test_a_name_that_is_gone_is_caught():
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        _resolve("dpzoo.ghost_clipping.NORM_FUNCTIONS")  # the flat layout's name


@pytest.mark.parametrize(("page", "path"), PATHS, ids=[f"{p}:{path}" for p, path in PATHS])
def test_every_repository_path_the_docs_mention_exists(page, path):
    assert os.path.exists(os.path.join(ROOT, path)), f"{page} names {path}"


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{p}:{t}" for p, t in LINKS])
def test_every_relative_link_leads_somewhere(page, target):
    path, anchor = _resolve_link(page, target)
    assert not path.startswith(".."), f"{page} links outside the repository: {target}"
    assert os.path.exists(os.path.join(ROOT, path)), f"{page} links to {target}, which is not there"
    if anchor and path.endswith(".md"):
        assert anchor in _anchors(_read(path)), f"{page} links to {target}, but {path} has no heading #{anchor}"


def test_every_docs_page_is_linked_from_the_readme_and_every_docs_link_exists():
    readme_targets = {_resolve_link("README.md", t)[0] for t in _links(README)}
    assert [page for page in DOCS if page not in readme_targets] == []
    docs_targets = {(page, _resolve_link(page, t)[0]) for page, t in LINKS}
    missing = [(page, path) for page, path in docs_targets if path.startswith("docs/") and path not in DOCS]
    assert missing == []  # (page, link target) pairs naming a docs page that is not there


def test_links_resolve_from_the_page_that_holds_them():
    assert _resolve_link("docs/results.md", "../results/x.md#a") == ("results/x.md", "a")
    assert _resolve_link("docs/results.md", "methods.md") == ("docs/methods.md", "")
    assert _resolve_link("README.md", "#tf-privacy-on-this-stack") == ("README.md", "tf-privacy-on-this-stack")
    page = "## Tramer & Boneh 2021: ScatterNets\n```bash\n# a comment, not a heading\n```\n"
    assert _anchors(page) == {"tramer--boneh-2021-scatternets"}
