"""One error root for triagebot.

    TriagebotError
    ├── ConfigError          bad triagebot.toml, rules or environment (names file and field)
    ├── InputError           a malformed input file or argument (names file and line)
    ├── StoreError           the store cannot be opened or written
    │   └── VersionConflict  a compare-and-set lost: the case changed meanwhile
    ├── CaseNotFound         no case with that id
    ├── IllegalTransition    the command makes no sense in the case's state
    │   └── AlreadyClaimed   someone else holds the case
    ├── NotAllowed           the actor may not do this to this case
    ├── SourceError          a mention source failed (translated from HTTP errors)
    │   └── MissingCredentials  a source needs an environment variable that is not set
    └── DeliveryError        a surface failed to post or update (retried with backoff,
                             unless permanent)

Errors that a user can fix carry a one-line message meant to be shown as it is.
"""

from __future__ import annotations


class TriagebotError(Exception):
    """Root of every error triagebot raises on purpose."""


class ConfigError(TriagebotError):
    """Configuration problems: one or more lines, each naming the file and the field."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class InputError(TriagebotError):
    """A malformed input file or argument."""


class StoreError(TriagebotError):
    """The store cannot be opened, read or written."""


class VersionConflict(StoreError):
    """A compare-and-set lost: the stored case has another version."""


class CaseNotFound(TriagebotError):
    """No case has this id."""


class IllegalTransition(TriagebotError):
    """The command is not possible from the case's current state."""


class AlreadyClaimed(IllegalTransition):
    """The case is claimed by someone else."""


class NotAllowed(TriagebotError):
    """The actor lacks the permission for this command on this case."""


class SourceError(TriagebotError):
    """A mention source failed; ``retry_after`` (seconds) when the source said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MissingCredentials(SourceError):
    """A source cannot run without credentials; ``variables`` names what to set."""

    def __init__(self, source: str, variables: list[str]) -> None:
        names = " and ".join(variables)
        super().__init__(f"source {source!r} needs credentials: set {names}")
        self.variables = list(variables)


class DeliveryError(TriagebotError):
    """A surface could not show a change; ``retry_after`` (seconds) when the surface said.

    ``permanent`` errors (a channel that does not exist, a revoked token) are not retried:
    retrying cannot help until someone fixes the configuration.
    """

    def __init__(
        self, message: str, retry_after: float | None = None, *, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
