"""Microcontroller board classes: how much RAM and flash a model may have on each.

One row per class of board, by what it has; a ``tflite-micro`` artifact fits a class when its
measured tensor arena fits the RAM and its model (the C array, compressed or not) fits the
flash. TFLM's own code (a few tens of kB of flash for the kernels a model uses), the stack and
the application are not counted: leave them room. ``km.sweep(run, target="micro")``, its CLI
and the dashboard read this table.

>>> from kerasmodels.boards import fitting
>>> fitting(flash_bytes=200_000, arena_bytes=60_000)
['512k-ram-2m-flash', '256k-ram-1m-flash']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KIB = 1024


@dataclass(frozen=True)
class Board:
    """A class of boards: its name, RAM, flash and boards of that class."""

    name: str
    ram_bytes: int
    flash_bytes: int
    examples: str

    def fits(self, flash_bytes: int, arena_bytes: int) -> bool:
        return arena_bytes <= self.ram_bytes and flash_bytes <= self.flash_bytes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


BOARDS: list[Board] = [
    Board("512k-ram-2m-flash", 512 * KIB, 2048 * KIB, "STM32H7 class (Cortex-M7), ESP32-S3"),
    Board("256k-ram-1m-flash", 256 * KIB, 1024 * KIB,
          "nRF52840 (Arduino Nano 33 BLE Sense), STM32F4/F7 class (Cortex-M4/M7)"),
    Board("64k-ram-256k-flash", 64 * KIB, 256 * KIB, "STM32L4 and nRF52832 class (Cortex-M4)"),
    Board("32k-ram-128k-flash", 32 * KIB, 128 * KIB, "STM32G0 / SAMD21 class (Cortex-M0+)"),
]


def board_classes() -> list[Board]:
    """The microcontroller board classes a micro sweep says each variant fits: a copy of the table.

    Returns:
        The rows, largest first: ``name``, ``ram_bytes``, ``flash_bytes`` and example boards.
        A variant fits a class when its measured arena fits the RAM and its model the flash.

    Examples:
        >>> import kerasmodels as km
        >>> [(b.name, b.ram_bytes) for b in km.board_classes()][-1]
        ('32k-ram-128k-flash', 32768)
    """
    return list(BOARDS)


def get_board(name: str) -> Board:
    """The row called ``name``; an UnknownNameError listing the others."""
    for board in BOARDS:
        if board.name == name:
            return board
    from kerasmodels.errors import UnknownNameError

    raise UnknownNameError("board class", name, [b.name for b in BOARDS])


def fitting(flash_bytes: int, arena_bytes: int) -> list[str]:
    """The board classes a model of ``flash_bytes`` needing ``arena_bytes`` of arena fits."""
    return [b.name for b in BOARDS if b.fits(flash_bytes, arena_bytes)]


__all__ = ["BOARDS", "Board", "board_classes", "fitting", "get_board"]
