"""A long-lived ``uprior`` process for fuzzing: runs one command line per request.

Starting Python and importing torch costs seconds per command, and a fuzz suite runs
hundreds; so this process imports once and then runs each request through the real entry
point, ``unified_prior.cli.main``, exactly as the console script does. Requests are JSON lines
on stdin (``{"argv": [...], "cwd": "..."}``); each answer is one JSON line on the real stdout
with the exit code and the captured stdout/stderr. An exception that escapes ``main`` is
what the interpreter would print as a traceback, so it is returned as one (exit code 1).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def run(argv: list[str], cwd: str) -> dict[str, object]:
    from unified_prior.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    before = os.getcwd()
    os.chdir(cwd)
    sys.argv = ["uprior", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as stop:
                code = stop.code if stop.code is not None else 0
            except BaseException:  # what the interpreter would print and exit 1 on
                err.write(traceback.format_exc())
                code = 1
    finally:
        os.chdir(before)
    if isinstance(code, str):  # sys.exit("message") prints it and exits 1
        err.write(code + "\n")
        code = 1
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def serve() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    import unified_prior.cli  # noqa: F401  (import once, before the first request)

    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        answers.write(json.dumps(run(request["argv"], request["cwd"])) + "\n")


if __name__ == "__main__":
    serve()
