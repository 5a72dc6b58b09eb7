"""Run `otelcol validate` on a rendered config before it may be rolled out."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

TIMEOUT_S = 30.0
PLACEHOLDER = "vigil-validate-placeholder"


def validate(binary: str, config: str, env_names: Iterable[str]) -> str | None:
    """None when the collector accepts ``config``; else its error message.

    Secret values are unknown to the operator: every referenced variable gets a placeholder.
    """
    with tempfile.TemporaryDirectory(prefix="vigil-validate-") as tmp:
        path = Path(tmp) / "collector.yaml"
        path.write_text(config)
        try:
            result = subprocess.run(
                [binary, "validate", f"--config={path}"],
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin:/bin", **dict.fromkeys(env_names, PLACEHOLDER)},
                timeout=TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"could not run {binary} validate: {exc}"
    if result.returncode == 0:
        return None
    lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    return lines[-1].removeprefix("Error: ") if lines else f"exit code {result.returncode}"
