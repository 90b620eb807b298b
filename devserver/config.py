"""What ``tdev run`` / ``tdev check`` were asked to do, after parsing and validation."""

from dataclasses import dataclass, field

from devserver.output import NORMAL
from devserver.target import Target


class UsageError(Exception):
    """A mistake in what the user typed (or wrote in pyproject.toml): one line on stderr, exit code 2."""


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8888
DEFAULT_MAX_OPEN_FILES = 50000  # Tornado's deployment guide: raise "Too many open files" limits


@dataclass
class CheckOptions:
    paths: "list[str]" = field(default_factory=lambda: ["/"])
    expect: "list[str]" = field(default_factory=list)  # "200", "2xx"; empty: anything below 500
    timeout: float = 20.0
    json: bool = False


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
    host: str = DEFAULT_HOST  # module:attr targets only
    port: int = DEFAULT_PORT
    debug: bool = False
    max_open_files: int = DEFAULT_MAX_OPEN_FILES
    warm: bool = True  # warm restarts: a standby process with the app's libraries already imported
    config_file: "str | None" = None  # the pyproject.toml that contributed settings
    check: CheckOptions = field(default_factory=CheckOptions)

    def child_options(self) -> dict:
        """What the app process needs to know besides the target (sent as JSON)."""
        if self.target.kind == "app":
            return {"app": {"host": self.host, "port": self.port, "debug": self.debug}}
        return {}
