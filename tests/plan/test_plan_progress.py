"""The progress line: on a terminal for the slow steps, silent when not a TTY or with --quiet."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from infra.config import read_stack_file
from infra.plan import make_plan
from infra.plan.progress import ERASE, Progress

ROOT = Path(__file__).resolve().parents[2]


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_each_step_then_a_clean_line():
    tty = FakeTty()
    progress = Progress.for_stream(tty)
    with progress.step("running the program under mocks"):
        pass
    with progress.step("running the policy pack"):
        pass
    progress.close()
    shown = tty.getvalue()
    assert "[1] running the program under mocks ..." in shown and "[2] running the policy pack ..." in shown
    assert shown.startswith(ERASE) and shown.endswith(ERASE) and "\n" not in shown


def test_silent_when_not_a_tty_or_quiet():
    for stream, quiet in ((io.StringIO(), False), (FakeTty(), True)):
        progress = Progress.for_stream(stream, quiet=quiet)
        with progress.step("running the program under mocks"):
            pass
        progress.close()
        assert stream.getvalue() == ""


def test_make_plan_reports_the_program_run_and_the_policy_pack():
    seen: list[str] = []

    class Recorder:
        @contextmanager
        def step(self, label):
            seen.append(label)
            yield

    make_plan(read_stack_file(ROOT / "stacks/Pulumi.dev.yaml"), stack="dev", progress=Recorder())
    assert seen[0] == "running the program under mocks" and "running the policy pack" in seen


def _run_on_a_pty(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "infra", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=slave,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_cli_on_a_terminal_shows_the_progress_line_and_quiet_hides_it():
    code, out, tty = _run_on_a_pty("plan", "--stack", "dev")
    assert code == 0
    assert "running the program under mocks" in tty and "running the policy pack" in tty
    assert tty.endswith(ERASE)
    assert "\r" not in out and "running the program" not in out  # stdout (the report) stays clean
    code, out, tty = _run_on_a_pty("plan", "--stack", "dev", "--quiet")
    assert code == 0 and tty == "" and out.startswith("resources:")
