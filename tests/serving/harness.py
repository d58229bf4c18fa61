"""Run a real `tritonserver` (the one shipped in the nvidia-pytriton wheel) on 127.0.0.1.

Used by tests/serving and bench/triton_bench.py. Where the server comes from:

- `find_distribution()` locates `pytriton/tritonserver/` (bin/tritonserver, backends/, caches/,
  python_backend_stubs/<X.Y>/) through `importlib.util.find_spec("pytriton")`, and the wheel's
  bundled shared libraries in `site-packages/nvidia_pytriton.libs/`. Set GPUFLEET_TRITONSERVER_DIR
  to another folder of the same layout to use a different build.
- `TritonServer.start()` copies `backends/` into a private temp folder and puts the python
  backend stub for the running interpreter's X.Y next to `libtriton_python.so` (the package
  folder is never written), puts `nvidia_pytriton.libs` on LD_LIBRARY_PATH, and sets
  GPUFLEET_TRITON_SYS_PATH to this interpreter's site-packages (the stub runs an isolated Python;
  fixture model.py files add it to sys.path before importing numpy).
- HTTP, gRPC and metrics all bind to 127.0.0.1 on free ports (SageMaker/Vertex endpoints off);
  configs are taken exactly as rendered (`--disable-auto-complete-config`), readiness is strict,
  `--exit-on-error`; `stop()` sends SIGTERM, waits, then SIGKILLs the server's own process group
  (it runs in a new session, so that group is the server and its python-backend stubs only).
  Logs go to <workdir>/tritonserver.log (kept when GPUFLEET_KEEP_TRITON_LOGS is set).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_MODELS = ROOT / "tests" / "fixtures" / "triton_models"
# Local servers only: never route 127.0.0.1 through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_post(url: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@dataclass(frozen=True)
class Distribution:
    root: Path  # .../pytriton/tritonserver
    binary: Path
    backends: Path
    caches: Path
    stub: Path
    libs: Path | None


# The newer tritonserver, unpacked apart from the project venv by tests/tools/triton_server.py
# (`make` installs it): nvidia-pytriton 0.7.0 = tritonserver 2.51.0.
TOOL_SERVER = ROOT / ".venv" / "triton-2.51"


def find_distribution(site: Path | None = None) -> Distribution | None:
    """The tritonserver shipped by nvidia-pytriton (the project venv's, or the one unpacked under
    `site`), or None when it (or the stub for this Python) is missing."""
    override = os.environ.get("GPUFLEET_TRITONSERVER_DIR")
    if site is not None:
        root = site / "pytriton" / "tritonserver"
        libs = site / "nvidia_pytriton.libs"
        libs = libs if libs.is_dir() else None
    elif override:
        root = Path(override)
        libs = None
    else:
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            return None
        pkg = Path(next(iter(spec.submodule_search_locations)))
        root = pkg / "tritonserver"
        libs = pkg.parent / "nvidia_pytriton.libs"
        if not libs.is_dir():
            libs = root / "external_libs" if (root / "external_libs").is_dir() else None
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    dist = Distribution(
        root=root,
        binary=root / "bin" / "tritonserver",
        backends=root / "backends",
        caches=root / "caches",
        stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
        libs=libs,
    )
    if not (dist.binary.is_file() and (dist.backends / "python" / "libtriton_python.so").is_file() and dist.stub.is_file()):
        return None
    return dist


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_packages() -> list[str]:
    paths = []
    for key in ("purelib", "platlib"):
        p = sysconfig.get_paths()[key]
        if p not in paths:
            paths.append(p)
    return paths


class ServerFailed(RuntimeError):
    pass


class TritonServer:
    """One tritonserver process. Use as a context manager, or call start()/stop() (in a finally)."""

    def __init__(
        self,
        model_repository: str | os.PathLike[str],
        *,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        ready_timeout_s: float = 90.0,
        dist: Distribution | None = None,
    ) -> None:
        self.model_repository = str(model_repository)
        self.extra_env = dict(env or {})
        self.extra_args = list(extra_args or [])
        self.ready_timeout_s = ready_timeout_s
        self.dist = dist or find_distribution()
        if self.dist is None:
            raise ServerFailed("tritonserver not found: install nvidia-pytriton (see tests/serving/harness.py)")
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gpufleet-triton-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.http_port = self.grpc_port = self.metrics_port = 0
        self._metrics_on = True
        self.log_path = self.workdir / "tritonserver.log"

    # -- lifecycle -----------------------------------------------------------------------------
    def _backends(self) -> Path:
        dest = self.workdir / "backends"
        if not dest.exists():
            shutil.copytree(self.dist.backends, dest)
            shutil.copy2(self.dist.stub, dest / "python" / "triton_python_backend_stub")
        return dest

    def command(self) -> list[str]:
        return [
            str(self.dist.binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={self._backends()}",
            f"--cache-directory={self.dist.caches}",
            "--http-address=127.0.0.1", f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--allow-sagemaker=false", "--allow-vertex-ai=false",
            "--model-control-mode=none",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--disable-auto-complete-config",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        env = os.environ.copy()
        if self.dist.libs is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (env.get("LD_LIBRARY_PATH"), str(self.dist.libs)) if p)
        env["GPUFLEET_TRITON_SYS_PATH"] = os.pathsep.join(site_packages())
        env["NO_PROXY"] = env["no_proxy"] = ",".join(
            p for p in ("127.0.0.1", "localhost", env.get("NO_PROXY") or env.get("no_proxy")) if p)
        env.update(self.extra_env)
        return env

    def start(self) -> "TritonServer":
        last = ""
        for _ in range(3):  # a free port can be taken between probing and binding: retry
            self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
            cmd = self.command()
            self._metrics_on = "--allow-metrics=false" not in cmd
            log = self.log_path.open("ab")
            try:
                self.proc = subprocess.Popen(
                    cmd, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )
            finally:
                log.close()
            try:
                self.wait_ready()
                return self
            except ServerFailed as exc:
                last = str(exc)
                self._terminate()
                if "address already in use" not in self.log().lower():
                    break
        self.stop()
        raise ServerFailed(last)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise ServerFailed(f"tritonserver exited ({self.proc and self.proc.returncode}):\n{self.log_tail()}")
            # tritonserver answers /v2/health/ready from the HTTP endpoint before it has opened
            # the metrics endpoint (main.cc starts metrics last): wait for both.
            if self.ready() and (not self._metrics_on or self.metrics_listening()):
                return
            time.sleep(0.2)
        raise ServerFailed(f"tritonserver not ready after {self.ready_timeout_s:.0f} s:\n{self.log_tail()}")

    def ready(self, model: str | None = None) -> bool:
        path = f"/v2/models/{model}/ready" if model else "/v2/health/ready"
        try:
            return http_get(self.url + path, timeout=2)[0] == 200
        except (urllib.error.URLError, OSError):
            return False

    def metrics_listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=1):
                return True
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _terminate(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        # The python backend stubs are children in the server's own session/process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def stop(self) -> None:
        try:
            self._terminate()
        finally:
            self.proc = None
            if self._own_workdir and not os.environ.get("GPUFLEET_KEEP_TRITON_LOGS"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def get_json(self, path: str) -> dict:
        status, body = http_get(self.url + path)
        if status != 200:
            raise ServerFailed(f"GET {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def model_config(self, model: str) -> dict:
        return self.get_json(f"/v2/models/{model}/config")

    def statistics(self, model: str) -> dict:
        """The model's (latest version's) entry of /v2/models/<model>/stats."""
        return self.get_json(f"/v2/models/{model}/stats")["model_stats"][0]
