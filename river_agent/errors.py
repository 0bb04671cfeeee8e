"""Errors a user can cause, with messages meant to be read (the CLI prints them without a stack trace)."""

from __future__ import annotations


class RiverError(Exception):
    """Base of all user-facing errors."""


class VideoError(RiverError):
    """A video cannot be read or written; the message names the file and the problem."""


class TwinError(RiverError):
    """A twin folder or file is missing, unreadable or malformed."""


class EditError(RiverError):
    """An edit operation cannot be applied (unknown id, bad parameters)."""


class NotBuiltError(RiverError):
    """A part of the tool that is not built yet."""
