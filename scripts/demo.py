"""`make demo`: validate and render examples/, then summarise what the operator would create."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from vigil.cli import main as vigil
from vigil.cli import read_documents
from vigil.offline import process

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main() -> int:
    """Run `vigil validate` and `vigil render` on examples/ and print a summary; 0 on success."""
    print("$ vigil validate examples/")
    if vigil(["validate", str(EXAMPLES)]) != 0:
        return 1
    result = process(read_documents([str(EXAMPLES)]), "default")
    print("\n$ vigil render examples/   (summary)")
    by_stack: dict[str, list[dict]] = {}
    for obj in result.objects:
        by_stack.setdefault(obj["metadata"]["labels"]["app.kubernetes.io/instance"], []).append(obj)
    for stack, objs in sorted(by_stack.items()):
        print(f"\nMonitoringStack/{stack}: {len(objs)} objects")
        for obj in objs:
            print(f"  {obj['kind']:<20} {obj['metadata']['name']}")
        config = next(
            o for o in objs if o["kind"] == "ConfigMap" and "collector.yaml" in o.get("data", {})
        )
        pipelines = yaml.safe_load(config["data"]["collector.yaml"])["service"]["pipelines"]
        for name, p in pipelines.items():
            print(f"    pipeline {name:<24} -> {', '.join(p['exporters'])}")
    counts = Counter(o["kind"] for o in result.objects)
    print("\nTotal: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
