"""Running the report's steps: one command each, with a time limit, a log and an outcome."""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

OK, MISSING, FAILED = "ok", "missing", "failed"

# Lines that say what went wrong: compiler errors, Python exceptions, maturin's failures.
_ERROR_LINE = re.compile(r"^\s*(error(\[\w+\])?: |\w+(Error|Exception): |💥 |Caused by: )")
_REASON_CHARS = 200


@dataclass
class Outcome:
    """How one step ended, with what it printed on standard output."""

    name: str
    status: str
    reason: str = ""
    output: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK


def missing(name: str, reason: str) -> Outcome:
    """A step that could not run because what it runs does not exist."""
    print(f"==> {name}: missing ({reason})", file=sys.stderr, flush=True)
    return Outcome(name, MISSING, reason)


def failure_reason(stdout: str, stderr: str) -> str:
    """The first line that names an error, or else the last line printed."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    for line in lines:
        if _ERROR_LINE.match(line):
            return line[:_REASON_CHARS]
    return lines[-1][:_REASON_CHARS] if lines else "no output"


class Runner:
    """Runs commands from the repository root and keeps each one's output in `logs`."""

    def __init__(self, root: Path, logs: Path, env: dict[str, str]):
        self.root = root
        self.logs = logs
        self.env = env
        logs.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, args: list[str], timeout: float, extra_env: dict[str, str] | None = None) -> Outcome:
        """Runs `args`; a non-zero exit or a timeout is a failure, with its reason."""
        print(f"==> {name}: {' '.join(args)}", file=sys.stderr, flush=True)
        env = dict(os.environ, **self.env, **(extra_env or {}))
        log = self.logs / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.log"
        start = time.monotonic()
        try:
            done = subprocess.run(args, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            seconds = time.monotonic() - start
            log.write_text(_text(e.stdout) + _text(e.stderr))
            return self._end(Outcome(name, FAILED, f"timed out after {timeout:.0f} s", _text(e.stdout), seconds))
        except OSError as e:
            return self._end(Outcome(name, FAILED, str(e), "", time.monotonic() - start))
        seconds = time.monotonic() - start
        log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            reason = f"exit {done.returncode}: {failure_reason(done.stdout, done.stderr)}"
            return self._end(Outcome(name, FAILED, reason, done.stdout, seconds))
        return self._end(Outcome(name, OK, "", done.stdout, seconds))

    @staticmethod
    def _end(outcome: Outcome) -> Outcome:
        how = outcome.status + (f" ({outcome.reason})" if outcome.reason else "")
        print(f"    {how}, {outcome.seconds:.0f} s", file=sys.stderr, flush=True)
        return outcome


def _text(out: str | bytes | None) -> str:
    if isinstance(out, bytes):
        return out.decode(errors="replace")
    return out or ""
