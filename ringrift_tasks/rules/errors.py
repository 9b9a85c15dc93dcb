"""Errors raised by the rules engine."""

from __future__ import annotations


class RulesError(ValueError):
    """Base class of every rules-engine error."""


class IllegalMoveError(RulesError):
    """A move that is not legal in the position it was applied to.

    The message names the phase, the player and the reason.
    """
