"""The command run as an attacker would have it run: in a child process under an address-space
limit and a timeout, its outcome checked for the ways a hostile input wins.

A hostile case passes only when the command ends by itself, within the time and memory given,
with the exit code expected, no traceback, no internal error (exit 3) and no raw control
character in what it printed (an escape sequence from a file must not reach the terminal).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GiB = 1 << 30
# Printed text may hold tabs and line breaks; nothing else below 0x20, no DEL, no C1 control, no
# bidi control.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _confine(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def run_confined(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30.0,
    memory: int = GiB,
) -> Outcome:
    """`image-catalog ARGS` in a child limited to `memory` bytes of address space; a child
    still running after `timeout` seconds fails the test (it is killed first)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "image_catalog", *args],
            capture_output=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            timeout=timeout,
            preexec_fn=lambda: _confine(memory),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"image-catalog {' '.join(args)} hung: still running after {timeout} s"
        ) from exc
    return Outcome(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def assert_refused(outcome: Outcome, code: int, message: str | None = None) -> None:
    """The command ended as a refusal should: exit `code`, no traceback or internal error, no
    raw control character, and (when given) `message` in what it printed."""
    assert outcome.code == code, f"exit {outcome.code}, expected {code}:\n{outcome.output}"
    assert "Traceback" not in outcome.output, outcome.output
    assert "internal error" not in outcome.output, outcome.output
    raw = RAW_CONTROL.search(outcome.output)
    assert raw is None, f"a raw control character {raw.group()!r} was printed:\n{outcome.output!r}"
    if message is not None:
        assert message in outcome.output, outcome.output
