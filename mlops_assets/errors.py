"""The platform's own errors: each message names the file, the column or line, and the rule.

A failed run reports the message of the outermost of these in its cause chain
(see `mlops_assets.cli`), so the one-line reason a user reads is the platform's
explanation, not the last line of a library's error.
"""


class PlatformError(ValueError):
    """An error the platform raised on purpose, with a message meant for the user."""


def platform_error_names() -> set[str]:
    """Class names of every platform error, as Dagster records them in a step failure."""
    names: set[str] = set()
    pending: list[type] = [PlatformError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending += cls.__subclasses__()
    return names
