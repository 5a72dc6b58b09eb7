"""`make cluster` / `make cluster-down`: the local single-node cluster that runs pods (needs root).

up      start the node (tests/harness/node.py), import build/images/*.tar, print the kubeconfig
down    stop it and remove everything it created (processes, mounts, cgroups, iptables chains,
        the bridge, state folders; ip_forward restored)
status  who holds the node lock, if anyone
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.harness.node import (
    IMAGES_DIR,
    LOCK_FILE,
    NODE_DIR,
    NodeError,
    lock_holder,
    lock_holders,
    start_node,
    teardown,
)
from tests.harness.process import StartupError


def up() -> int:
    images = tuple(p for p in sorted(IMAGES_DIR.glob("*.tar")) if p.name != "pause.tar")
    started = time.monotonic()
    try:
        node = start_node(images)
    except (NodeError, StartupError) as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    for step, seconds in node.timings.items():
        print(f"  {step:<16} {seconds:5.1f}s")
    tags = [i for i in node.images() if not i.startswith("sha256:")]
    print(f"node Ready with DNS in {time.monotonic() - started:.1f}s; images: {', '.join(tags)}")
    print(f"\nexport KUBECONFIG={node.kubeconfig}\n\nStop it with `make cluster-down`.")
    return 0


def down() -> int:
    started = time.monotonic()
    removed = teardown(NODE_DIR)
    for item in removed:
        print(f"  removed {item}")
    print(f"cluster down in {time.monotonic() - started:.1f}s" if removed else "no local node to stop")
    return 0


def status() -> int:
    if not lock_holders():
        print(f"no local node runs ({LOCK_FILE} is free)")
        return 1
    print(f"a local node runs: {lock_holder()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    return {"up": up, "down": down, "status": status}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
