"""Colour names to RGB, for recolours that name a colour without giving its exact value."""

from __future__ import annotations

from river_agent.tools.render.base import RenderError

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "dark red": (139, 0, 0),
    "orange": (255, 140, 0),
    "yellow": (240, 220, 30),
    "gold": (255, 200, 0),
    "green": (40, 170, 60),
    "dark green": (0, 100, 0),
    "lime": (120, 230, 40),
    "olive": (128, 128, 0),
    "teal": (0, 128, 128),
    "cyan": (30, 210, 220),
    "turquoise": (64, 224, 208),
    "blue": (30, 70, 220),
    "light blue": (120, 180, 240),
    "dark blue": (0, 0, 139),
    "navy": (0, 0, 128),
    "purple": (128, 40, 160),
    "violet": (150, 80, 220),
    "magenta": (220, 40, 200),
    "pink": (255, 150, 190),
    "brown": (130, 80, 40),
    "beige": (225, 210, 170),
    "tan": (210, 180, 140),
    "white": (245, 245, 245),
    "silver": (192, 192, 192),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "dark gray": (64, 64, 64),
    "black": (20, 20, 20),
}


def color_rgb(name: str, rgb: tuple[int, int, int] | list[int] | None = None) -> tuple[int, int, int]:
    """The RGB of a recolour: ``rgb`` when given, else the named colour (also '#rrggbb')."""
    if rgb is not None:
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    key = " ".join(name.strip().lower().replace("-", " ").replace("_", " ").split())
    if key.startswith("#") and len(key) == 7:
        try:
            return tuple(int(key[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    if key in PALETTE:
        return PALETTE[key]
    last = key.split(" ")[-1] if key else key
    if last in PALETTE:  # "bright red" -> red
        return PALETTE[last]
    raise RenderError(
        f"unknown colour {name!r}: give 'rgb' or use one of: {', '.join(sorted(PALETTE))} (or '#rrggbb')"
    )
