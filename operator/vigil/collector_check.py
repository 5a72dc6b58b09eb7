"""Run `otelcol validate` on a rendered config before it may be rolled out.

The collector runs with bounded memory and time, on a config that can expand nothing but
Vigil's own ``${env:NAME}`` references (checked first), and with placeholders for those: Secret
values are unknown to the operator. What it says reaches status and Events, so it is cut to
one line with no control characters and no local paths. Verdicts are cached by config.
"""

from __future__ import annotations

import hashlib
import re
import resource
import subprocess
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from vigil.metrics import COLLECTOR_VALIDATIONS
from vigil.render.collector_config import CollectorConfig, foreign_expansions
from vigil.status import Issue

TIMEOUT_S = 30.0
MEMORY_LIMIT = 1024 * 1024 * 1024
"""Address space of one validate run: the collector loads in well under half of it."""
PLACEHOLDER = "vigil-validate-placeholder"
MESSAGE_LIMIT = 600
CACHE_SIZE = 4096

_cache: OrderedDict[str, str | None] = OrderedDict()
_lock = threading.Lock()


class NoVerdictError(Exception):
    """The collector gave no verdict on the config (it timed out, or could not start).

    Worth a retry, never a status: a busy node must not turn a good config into InvalidConfig.
    """


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _clean(message: str, folder: str) -> str:
    message = message.replace(folder + "/", "").replace(folder, ".")
    message = re.sub(r"[\x00-\x1f\x7f]", " ", message)
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def _run(binary: str, config: CollectorConfig) -> str | None:
    with tempfile.TemporaryDirectory(prefix="vigil-validate-") as tmp:
        path = Path(tmp) / "collector.yaml"
        path.write_text(config.text)
        try:
            result = subprocess.run(
                [binary, "validate", f"--config={path}"],
                capture_output=True,
                text=True,
                errors="replace",
                env={"PATH": "/usr/bin:/bin", "GOMEMLIMIT": "512MiB", **{e.name: PLACEHOLDER for e in config.env}},
                timeout=TIMEOUT_S,
                check=False,
                cwd=tmp,
                preexec_fn=_limits,
            )
        except subprocess.TimeoutExpired as exc:
            raise NoVerdictError(f"the collector did not finish validating within {TIMEOUT_S:.0f}s") from exc
        except OSError as exc:
            raise NoVerdictError(f"could not run the collector to validate the config: {exc.strerror}") from exc
        if result.returncode == 0:
            return None
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("Error: ")]
        last = (errors or lines or [f"exit code {result.returncode}"])[-1]
        return _clean(last.removeprefix("Error: "), tmp)


def validate(binary: str, config: CollectorConfig) -> str | None:
    """None when the collector accepts ``config``; else why not, in one line (NoVerdictError: no verdict)."""
    foreign = foreign_expansions(config.text)
    if foreign:
        # Everything Vigil renders is escaped; reaching this is a bug, and the config is not run.
        return f"the rendered config would expand {foreign[0]!r}; it was not validated or rolled out"
    key = hashlib.sha256(f"{binary}\0{config.text}\0{sorted(e.name for e in config.env)}".encode()).hexdigest()
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            COLLECTOR_VALIDATIONS.labels("cached").inc()
            return _cache[key]
    verdict = _run(binary, config)
    COLLECTOR_VALIDATIONS.labels("valid" if verdict is None else "invalid").inc()
    with _lock:
        _cache[key] = verdict
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return verdict


def issue(binary: str, config: CollectorConfig | None) -> Issue | None:
    """Why the collector rejects ``config``, for status (None: accepted, or no collector to ask).

    Raises NoVerdictError when the collector gave no verdict.
    """
    if not binary or config is None:
        return None
    problem = validate(binary, config)
    return Issue("InvalidConfig", f"otelcol validate: {problem}") if problem else None
