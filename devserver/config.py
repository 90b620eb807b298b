"""What ``tdev run`` was asked to do, after parsing and validation."""

from dataclasses import dataclass, field

from devserver.output import NORMAL
from devserver.target import Target


class UsageError(Exception):
    """A mistake in what the user typed: one line on stderr, exit code 2."""


@dataclass
class RunConfig:
    target: Target
    watch: "list[str]" = field(default_factory=list)  # absolute paths, files or directories
    include: "list[str]" = field(default_factory=list)
    ignore: "list[str]" = field(default_factory=list)
    poll: bool = False
    debounce_ms: int = 10
    grace: float = 5.0
    reload: bool = True
    livereload: bool = True
    verbosity: int = NORMAL
