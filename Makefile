# RT-LNF: every target installs what it needs first (make setup is idempotent and quick).
VENV   := .venv
PY     := $(VENV)/bin/python
PIO    := $(VENV)/bin/pio

# PlatformIO's registry is unreachable: no telemetry, no upgrade check (each would wait ~61 s).
export PLATFORMIO_SETTING_ENABLE_TELEMETRY := no
export PLATFORMIO_DISABLE_UPGRADE_CHECK := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup test demo bench firmware clean help

help:
	@echo "make demo      run the pipeline end to end in the emulator (QEMU)"
	@echo "make test      run the whole test suite (what CI runs)"
	@echo "make bench     measure sensor cost, memory, link, energy, accuracy, ablations -> results/"
	@echo "make firmware  build the firmware for every board (pio run)"
	@echo "make setup     install toolchains, emulator and the Python venv (idempotent)"

setup:
	@tools/setup.sh

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) -m host.demo $(if $(PORT),--port $(PORT))

bench: setup
	@tools/build_insn_plugin.sh
	$(PY) -m bench $(if $(WINDOWS),--windows $(WINDOWS))

firmware: setup
	$(PIO) run -e nucleo_h743zi -e mps2_an500

clean:
	rm -rf .pio build .pytest_cache
