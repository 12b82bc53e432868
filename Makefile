# Rushline: `make demo` runs the whole simulated floor, `make test` runs every check.
# Both create .venv, install the project and the system packages it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM_PACKAGES := mosquitto mosquitto-clients libmtdev1 libegl1 libgles2 libgl1 libgl1-mesa-dri libsdl2-2.0-0 chromium
export KIVY_NO_ARGS := 1

.PHONY: all setup system venv demo test lint typecheck pytest bench clean broker-passwords

all: test

setup: system venv

# Install missing Debian packages (mosquitto for the floor bus, Mesa/EGL and mtdev for
# Kivy offscreen, chromium for the tracking-page browser test).
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/rushline demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: setup lint typecheck pytest

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Generate the Mosquitto password file for the floor devices in config/broker/.
broker-passwords: setup
	$(BIN)/rushline broker passwords --config config/default/site.toml --out data/broker

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
