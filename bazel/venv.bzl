"""The Python toolchain: the interpreter of the repository's virtualenv (.venv, made by
scripts/setup.sh), which holds every third-party package, so no target lists pip dependencies.

py_runtime needs an absolute interpreter path, and the checkout may be anywhere: this repository
rule finds the workspace root and writes the toolchain with <root>/.venv/bin/python (the venv's own
path, not the interpreter it links to, so that Python finds pyvenv.cfg and the venv's packages).
Bazel does not track what is installed in the venv: after changing it, re-run tests with
--nocache_test_results (scripts/bazel_check.sh always does).
"""

def _venv_python_impl(rctx):
    root = rctx.path(Label("@//:WORKSPACE")).dirname
    python = "%s/.venv/bin/python" % root
    if not rctx.path(python).exists:
        fail("%s is missing: create the virtualenv first (bash scripts/setup.sh)" % python)
    rctx.file("WORKSPACE", "")
    rctx.file("BUILD", """\
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "venv_python3",
    interpreter_path = "{python}",
    python_version = "PY3",
)

py_runtime_pair(
    name = "venv_runtime_pair",
    py3_runtime = ":venv_python3",
)

toolchain(
    name = "toolchain",
    toolchain = ":venv_runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
""".format(python = python))

venv_python = repository_rule(
    implementation = _venv_python_impl,
    local = True,
)
