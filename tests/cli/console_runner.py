"""Runs many console-script invocations for one TensorFlow import.

``python -m tests.cli.console_runner CASES.json RESULTS.json`` runs a list of cases;
``python -m tests.cli.console_runner serve`` reads one case a line on stdin and answers
"started PID" and then "ended PID CODE" (``Console`` is its client: tests that kill a run).

Each case ({"tool": "dpzoo-train", "args": [...], "file_size_limit": bytes or null, optionally
"hidden_modules": [names]}) runs in a
process forked from this one before TensorFlow starts its runtime, with sys.argv as the console
script would set it, importing the script's module and calling its entry point (``run()``); its
exit code and stderr go into RESULTS.json. A limit on file sizes (RLIMIT_FSIZE) stands in for a full disk: writes past
it fail with EFBIG, as they would with ENOSPC. A hidden module imports as if it were not installed.
"""

import importlib
import json
import os
import resource
import sys
import tempfile

TOOLS = {
    "dpzoo-train": "dpzoo.cli.train",
    "dpzoo-export": "dpzoo.cli.export",
    "dpzoo-audit": "dpzoo.cli.audit",
    "dpzoo-zoo": "dpzoo.cli.zoo",
    "dpzoo-privacy": "dpzoo.cli.privacy",
}
LIMIT_S = 240


def _child(case: dict, stderr_path: str) -> None:
    os.setpgid(0, 0)  # its own group: a kill reaches what it started
    fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    if case.get("file_size_limit") is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (case["file_size_limit"], resource.RLIM_INFINITY))
    for name in case.get("hidden_modules", ()):  # as if not installed: importing it raises ImportError
        sys.modules[name] = None
    sys.argv = [case["tool"], *case["args"]]
    code = 0
    try:
        importlib.import_module(TOOLS[case["tool"]]).run()  # its flags: the tools share names
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # an uncaught error: print it as Python would, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def main(cases_path: str, results_path: str) -> None:
    importlib.import_module("dpzoo.training")  # TensorFlow and dpzoo, once: the slow part of a start
    with open(cases_path) as f:
        cases = json.load(f)
    results = []
    for case in cases:
        stderr_path = tempfile.mktemp(prefix="dpzoo-case-")
        pid = os.fork()
        if pid == 0:
            _child(case, stderr_path)
        _, status = os.waitpid(pid, 0)
        with open(stderr_path, errors="replace") as f:
            stderr = f.read()
        os.unlink(stderr_path)
        results.append({"code": os.waitstatus_to_exitcode(status), "stderr": stderr})
    with open(results_path, "w") as f:
        json.dump(results, f)


def serve() -> None:
    importlib.import_module("dpzoo.training")
    for line in sys.stdin:
        case = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(case, case["stderr"])
        print(f"started {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"ended {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


class Console:
    """Client of ``serve``: ``start(tool, args, stderr_path)`` forks a run and returns its pid,
    ``wait()`` its exit code (-9 when killed with SIGKILL)."""

    def __init__(self, cwd: str, timeout_s: float) -> None:
        import subprocess

        self.timeout_s = timeout_s
        self._server = subprocess.Popen(
            [sys.executable, "-m", "tests.cli.console_runner", "serve"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.pid = None

    def start(self, tool: str, args: list[str], stderr_path: str) -> int:
        self._server.stdin.write(json.dumps({"tool": tool, "args": args, "stderr": str(stderr_path)}) + "\n")
        self._server.stdin.flush()
        self.pid = int(self._server.stdout.readline().split()[1])
        return self.pid

    def wait(self) -> int:
        import select

        ready, _, _ = select.select([self._server.stdout], [], [], self.timeout_s)
        if not ready:
            os.killpg(self.pid, 9)
        return int(self._server.stdout.readline().split()[2])

    def close(self) -> None:
        self._server.stdin.close()
        self._server.wait(timeout=30)


class FreshProcesses:
    """``Console``'s interface, each run a process of its own started from scratch (it pays for
    the TensorFlow import). For runs compared bitwise: forked from a process that imported
    TensorFlow, identical runs under load ended up to 7e-4 apart even with op determinism
    (measured, three weight-standardised runs); started fresh, they were bitwise equal. Each runs
    with one intra-op thread: that shows an op-ordering fault almost every time, where the default
    pool hid it in most runs (measured: two identical de22 runs at once differed in 6 of 7 pairs
    with one thread, in 2 of 21 runs with the default pool, when the WS norm read its gain twice)."""

    def __init__(self, cwd: str, timeout_s: float) -> None:
        self.cwd, self.timeout_s = cwd, timeout_s
        self._process = None
        self.pid = None

    def start(self, tool: str, args: list[str], stderr_path: str) -> int:
        import subprocess

        script = os.path.join(os.path.dirname(sys.executable), tool)
        with open(stderr_path, "w") as stderr:
            self._process = subprocess.Popen(
                [script, *args],
                cwd=self.cwd,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own group: a kill reaches what it started
                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1"},
            )
        self.pid = self._process.pid
        return self.pid

    def wait(self) -> int:
        import subprocess

        try:
            return self._process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, 9)
            return self._process.wait()

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self.pid, 9)
            self._process.wait()


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["serve"] else main(*sys.argv[1:])
