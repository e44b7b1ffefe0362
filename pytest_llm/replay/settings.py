"""Record modes and the resolved settings of one test, free of pytest."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from pytest_llm.keys import KeySpec, Step

# Names the plugin needs at load time live here, in a module that imports nothing heavy.
FAULTS = ("rate_limit", "server_error", "overloaded", "timeout", "connection_error", "stream_cut")
REPORT_FORMATS = (".json", ".md", ".html")
# Put in the environment when no key is set, so clients can be built in replay; never sent
# to a provider (see transport.PendingCall.check_can_send).
PLACEHOLDER_KEY = "pytest-llm-placeholder-key"
# Each built-in provider's `key_env` (providers/), spelled out: loading the plugin stays light.
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GEMINI_API_KEY",
    "bedrock": "AWS_ACCESS_KEY_ID",
}
# A client needs these too before it can sign a request (boto3, AnthropicBedrock).
PLACEHOLDER_ENV = (*KEY_ENV.values(), "AWS_SECRET_ACCESS_KEY")
# A test's own local servers stay live unless the ini says otherwise (llm_passthrough_hosts).
PASSTHROUGH_HOSTS = ("localhost", "127.0.0.1", "::1")


class RecordMode(enum.Enum):
    """What happens to a call that the cassette has, or lacks."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"
    REWRITE = "rewrite"

    @classmethod
    def parse(cls, value: str, *, source: str) -> RecordMode:
        """The mode named by `value`; ValueError naming `source` and the valid modes."""
        try:
            return cls(value.strip().lower().replace("-", "_"))
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"{source}: unknown record mode {value!r}; valid: {valid}") from None


class ReplayTiming(enum.Enum):
    """How fast a replayed stream is delivered."""

    FAST = "fast"
    RECORDED = "recorded"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the recorder needs to know about one test."""

    cassette_path: Path
    mode: RecordMode
    match_on: frozenset[str]
    record_command: str
    replay_timing: ReplayTiming = ReplayTiming.FAST
    ignore: tuple[tuple[Step, ...], ...] = ()
    # The test's node id, stored with what it records (see Cassette.start_rewrite).
    test: str = ""

    @property
    def key(self) -> KeySpec:
        """How this test's calls are keyed (match_on and ignore)."""
        return KeySpec(self.match_on, self.ignore)

    # Plain HTTP (not model calls): recorded too, except to these hosts.
    record_http: bool = True
    passthrough_hosts: frozenset[str] = frozenset(PASSTHROUGH_HOSTS)
    # The project's root (pytest's rootdir): an MCP server's path arguments are stored
    # relative to it, so a cassette replays from any working folder and on any machine.
    root: Path | None = None

    def records_host(self, host: str) -> bool:
        """Whether plain HTTP to `host` is recorded and replayed (not let through live)."""
        return self.record_http and host.strip("[]").lower() not in self.passthrough_hosts
