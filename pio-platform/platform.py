"""Project-local PlatformIO dev-platform for RT-LNF.

PlatformIO's registry is unreachable here, so this platform declares no packages: the toolchain is
Debian's arm-none-eabi-gcc on PATH and the uploaders are openocd (Debian) or pyocd (pip).

Boards live one folder each under the project's `boards/` (Zephyr style): `boards/<id>/board.json`
is the PlatformIO manifest, beside the board's startup code, linker script and emulator scripts.
PlatformIO itself only looks for flat `<boards_dir>/<id>.json`, hence `get_boards` below.
"""

import os

from platformio.platform.base import PlatformBase
from platformio.platform.board import PlatformBoardConfig


class RtlnfPlatform(PlatformBase):
    def is_embedded(self):
        # No uploader *package* is declared (uploaders come from the OS), but these are
        # embedded targets: this enables `upload`, size checks and the embedded defaults.
        return True

    def _board_folders(self):
        boards_dir = self.config.get("platformio", "boards_dir")
        if not os.path.isdir(boards_dir):
            return {}
        found = {}
        for name in sorted(os.listdir(boards_dir)):
            manifest = os.path.join(boards_dir, name, "board.json")
            if os.path.isfile(manifest):
                found[name] = manifest
        return found

    def get_boards(self, id_=None):
        for board_id, manifest in self._board_folders().items():
            if board_id not in self._BOARDS_CACHE and (id_ is None or id_ == board_id):
                config = PlatformBoardConfig(manifest)
                config.manifest["platform"] = self.name
                self._BOARDS_CACHE[board_id] = config
        return super().get_boards(id_)
