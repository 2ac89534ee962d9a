"""Typed errors, mapped at the edges: the CLI prints one line, the web returns a JSON error.

Every error a user can cause is a ``DigitlensError``; anything else is a bug. Which HTTP status
each answers with is the servers' business: one table, ``digitlens.http.statuses``.
"""

from __future__ import annotations


class DigitlensError(Exception):
    """Base of every error a user can cause (bad file, bad argument, missing data)."""


class DataError(DigitlensError):
    """A data file is missing, truncated, corrupt or does not match its checksum."""


class ModelError(DigitlensError):
    """A model file or run folder is missing, corrupt or of an unsupported kind."""


class ParameterError(DigitlensError):
    """A parameter has an invalid value; the message names it, what it must be and what it got."""


class NotFoundError(DigitlensError):
    """A named thing (preset, run, view, neuron) does not exist."""


def bad_param(name: str, must: str, got: object) -> ParameterError:
    """One message shape for every invalid parameter (as scikit-learn does)."""
    return ParameterError(f"The {name!r} parameter must be {must}. Got {got!r} instead.")
