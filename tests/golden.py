"""Rewrite tests/golden/ from examples/ (``make golden``); reviewers read the diff."""

from __future__ import annotations

from tests.helpers import GOLDEN, goldens


def main() -> None:
    """Write one golden file per example MonitoringStack and drop stale ones."""
    GOLDEN.mkdir(exist_ok=True)
    wanted = {f"{name}.yaml": text for name, text in goldens().items()}
    for stale in {p.name for p in GOLDEN.glob("*.yaml")} - set(wanted):
        (GOLDEN / stale).unlink()
    for name, text in wanted.items():
        (GOLDEN / name).write_text(text)
        print(f"wrote tests/golden/{name}")


if __name__ == "__main__":
    main()
