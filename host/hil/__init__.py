"""Hardware-in-the-loop support: build the firmware with PlatformIO and boot it in an emulator.

Works from a source checkout (it needs `boards/`, `firmware/` and `platformio.ini`).
"""
