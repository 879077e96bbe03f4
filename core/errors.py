"""Typed errors with messages meant for the user (in Chinese)."""


class DomainError(Exception):
    """Base of every error whose message can be shown to the user as it is."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NumberError(DomainError):
    """A typed figure that is not a valid count."""


class QuarterError(DomainError):
    """A quarter that cannot be parsed."""


class PlanError(DomainError):
    """A plan or target file that is malformed or inconsistent."""


class TownError(DomainError):
    """An unknown town, or a database bound to another town."""


class InputError(DomainError):
    """A value handed to an action that cannot be used as given (an unknown code, a missing folder)."""
