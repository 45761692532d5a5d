"""Exceptions of convsym.

Policy (as in latexify): a *user mistake* (bad shapes, bad hyper-parameters, a wrong type)
raises the built-in ``ValueError`` or ``TypeError`` with a message that names the operation,
the broken rule and the values.  A failure *inside* convsym's own machinery (a derivation step
that does not check, a template that does not render) raises a subclass of ``ConvsymError``.
"""

from __future__ import annotations


class ConvsymError(Exception):
    """Base class of the errors convsym raises about its own work."""


class ProofError(ConvsymError):
    """A derivation step did not check.

    ``step`` is the step's position (1-based) and ``rule`` the rule's name; the message says what
    was expected and what was found.
    """

    def __init__(self, message: str, *, step: int | None = None, rule: str | None = None):
        self.step = step
        self.rule = rule
        self.message = message
        prefix = ""
        if step is not None or rule is not None:
            prefix = f"step {step if step is not None else '?'} ({rule or '?'}): "
        super().__init__(prefix + message)


class RenderError(ConvsymError):
    """A LaTeX, check or export renderer failed."""
