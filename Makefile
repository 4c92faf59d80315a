# Quickstart: `make run` opens the product, `make test` runs the whole suite.
# Both create .venv from nothing and install the project with its test extra,
# then check that the system libraries Qt needs are there (see the README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean qt-libs-offscreen qt-libs-window

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask,monitor]'
	touch $(STAMP)

# System libraries of the PySide6 wheel (Debian/Ubuntu package names), found
# with ldd on its Qt libraries and plugins. A desktop has them all; a bare
# system does not. Qt itself needs these, offscreen included (make test):
QT_GUI_PACKAGES := libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libx11-6 \
	libxkbcommon0 libdbus-1-3 fonts-dejavu-core
# and its xcb platform plugin, the window on X11 (make run), these:
QT_XCB_PACKAGES := libx11-xcb1 libxkbcommon-x11-0 libxcb1 libxcb-cursor0 libxcb-glx0 \
	libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 \
	libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 \
	libxcb-xfixes0 libxcb-xkb1
# (expanded when a recipe runs: after the venv exists)
PYSIDE = $(firstword $(wildcard $(VENV)/lib/python3*/site-packages/PySide6))
QT_GUI_FILES = $(PYSIDE)/QtWidgets.abi3.so $(PYSIDE)/Qt/lib/libQt6DBus.so.6 \
	$(PYSIDE)/Qt/plugins/platforms/libqoffscreen.so
QT_XCB_FILES = $(PYSIDE)/Qt/plugins/platforms/libqxcb.so \
	$(wildcard $(PYSIDE)/Qt/plugins/xcbglintegrations/*.so)

# $(call system-libs,FILES,PACKAGES): if ldd finds a library of FILES missing,
# install PACKAGES with apt-get when root, else print the command and stop.
define system-libs
@missing=$$(ldd $(1) | awk '/not found/ {print $$1}' | sort -u | xargs); \
if [ -n "$$missing" ]; then \
  cmd="apt-get install -y --no-install-recommends --no-upgrade $(strip $(2))"; \
  echo "Qt needs system libraries missing here: $$missing"; \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$cmd || exit 1; \
    missing=$$(ldd $(1) | awk '/not found/ {print $$1}' | sort -u | xargs); \
    [ -z "$$missing" ] || { echo "still missing after the install: $$missing"; exit 1; }; \
  elif command -v apt-get >/dev/null; then \
    echo "Install them, then run make again:"; \
    echo "  sudo apt-get update && sudo $$cmd"; exit 1; \
  else \
    echo "Install the packages of your system that provide them" \
         "(on Debian/Ubuntu: $(strip $(2)))"; exit 1; \
  fi; \
fi
endef

qt-libs-offscreen: $(STAMP)
	$(call system-libs,$(QT_GUI_FILES),$(QT_GUI_PACKAGES))

qt-libs-window: $(STAMP)
	$(call system-libs,$(QT_GUI_FILES) $(QT_XCB_FILES),$(QT_GUI_PACKAGES) $(QT_XCB_PACKAGES))

run: qt-libs-window
	$(BIN)/python main.py

# The import contracts first (pyproject.toml [tool.importlinter]): a broken layer
# fails the run before any test, with the offending imports listed.
test: qt-libs-offscreen
	$(BIN)/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q --timeout=60

bench: qt-libs-offscreen
	$(BIN)/python benchmarks/bench_threads.py
	$(BIN)/python benchmarks/bench_mp.py
	$(BIN)/python benchmarks/bench_workers.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_monitor.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/bench_console.py

clean:
	rm -rf $(VENV) build *.egg-info
