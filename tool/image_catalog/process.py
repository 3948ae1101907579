"""Starting a process: the one place the package does (a test greps the package for any other).

Every process runs from an argument list (never a shell) with an environment the caller lists
(nothing is inherited unless named: credentials meant for us must not reach a child), standard
input from the caller's bytes or /dev/null, and a deadline. It starts in a session of its own, so
that it is out of the terminal's Ctrl-C and a timeout kills it together with anything it started
(its whole process group); and since being out of the terminal's reach means nothing would end it
when we are killed, util-linux's `setpriv --pdeathsig KILL` asks the kernel to SIGKILL it when we
die. (Strictly, when the thread that started it ends; `run` waits for the process, so a thread
never ends before its child does.)

`run` returns the exit code and both streams; deciding what a non-zero code means is the caller's
(a thin domain module on top, such as `registry.skopeo`, turns it into a domain error). A missing
executable and a timeout are ordinary `ProcessError`s that say what happened, and `ProcessError`
shows the command and both streams: callers whose arguments or output hold something private
catch it and word their own message.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_MAX_SHOWN = 2000  # characters of each stream a ProcessError shows


@dataclass(frozen=True)
class Completed:
    """A process that ended by itself: its exit code and everything it wrote."""

    argv: tuple[str, ...]
    code: int
    stdout: bytes
    stderr: bytes


class ProcessError(Exception):
    """A process could not be run, or did not end well; the message shows the command and its
    output. Not an `ImageCatalogError`: the foundation stands alone, and a caller says what the
    failure means to the user (one that does not has a bug, reported as one)."""

    def __init__(
        self, message: str, argv: Sequence[str], code: int | None, stdout: bytes, stderr: bytes
    ) -> None:
        super().__init__(message)
        self.argv = tuple(argv)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @classmethod
    def of(cls, done: Completed, why: str) -> ProcessError:
        shown = "\n".join(
            f"{name}: {_shown(stream)}"
            for name, stream in (("stdout", done.stdout), ("stderr", done.stderr))
        )
        return cls(
            f"command `{shlex.join(done.argv)}` {why}\n{shown}",
            done.argv,
            done.code,
            done.stdout,
            done.stderr,
        )


class ExecutableNotFound(ProcessError):
    """The program to run is not installed (not on the PATH the child gets, or not executable)."""


class ProcessTimedOut(ProcessError):
    """The process did not end within its deadline; it was killed with its process group."""


def environment(inherit: Iterable[str] = (), **fixed: str) -> dict[str, str]:
    """A child's environment: PATH, the variables named in `inherit` that we have, and `fixed`."""
    chosen = {"PATH": os.environ.get("PATH", os.defpath)}
    chosen.update((name, os.environ[name]) for name in inherit if name in os.environ)
    chosen.update(fixed)
    return chosen


def which(executable: str, env: Mapping[str, str] | None = None) -> str | None:
    """The path `executable` runs from with the PATH of `env` (default: ours), or None."""
    path = (env or os.environ).get("PATH", os.defpath)
    if os.sep in executable:
        return executable if os.access(executable, os.X_OK) else None
    return shutil.which(executable, path=path)


class Processes:
    """The processes running on behalf of one owner, to be killed at once by `kill_all`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()

    def add(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(process)

    def discard(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)

    def kill_all(self) -> None:
        """SIGKILL the process group of every process still running."""
        with self._lock:
            running = list(self._running)
        for process in running:
            if process.returncode is None:  # not reaped yet, so its group id is still its own
                _kill_group(process)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    pass_fds: Sequence[int] = (),
    check: bool = False,
    within: Processes | None = None,
) -> Completed:
    """Run `argv` to its end and return its code and output (see the module's docstring).

    `env` defaults to `environment()` (PATH alone). With `check`, a non-zero exit raises a
    `ProcessError`; `within` lists the process while it runs, for its owner to kill.
    """
    env = environment() if env is None else env
    found = which(argv[0], env)
    if found is None:
        raise ExecutableNotFound(
            f"`{argv[0]}` was not found (not on PATH, or not executable)", argv, None, b"", b""
        )
    command = [*_launcher(), found, *argv[1:]]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except FileNotFoundError as exc:  # removed since `which` found it
        raise ExecutableNotFound(f"`{argv[0]}` is gone: {exc}", argv, None, b"", b"") from exc
    if within is not None:
        within.add(process)
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)  # before reaping it, so the group id cannot have been reused
        stdout, stderr = process.communicate()
        done = Completed(tuple(argv), -signal.SIGKILL, stdout or b"", stderr or b"")
        raise ProcessTimedOut.of(done, f"did not end within {timeout:g} s") from None
    finally:
        if within is not None:
            within.discard(process)
    done = Completed(tuple(argv), process.returncode, stdout, stderr)
    if check and done.code != 0:
        raise ProcessError.of(done, f"exited with status {done.code}")
    return done


@functools.cache
def _launcher() -> tuple[str, ...]:
    """setpriv asking for the death signal, or nothing where util-linux is missing."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _shown(stream: bytes) -> str:
    text = stream.decode("utf-8", "replace").strip()
    if not text:
        return "(none)"
    return text if len(text) <= _MAX_SHOWN else "..." + text[-_MAX_SHOWN:]
