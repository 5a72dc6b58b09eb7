"""Many Vigil objects in one namespace, and what it takes to say the operator converged on them.

Converged means: every sink, stack and policy is Ready for its current generation; each stack
and policy has exactly the children Vigil renders for it (found by owner labels: no child
missing, none extra, so never two for one owner and name), each owned by its live owner
(ownerReference uid); and nothing Vigil generated is left without a live owner. Used by the
restart and fault tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from tests.harness.controlplane import ControlPlane
from tests.harness.process import eventually
from tests.helpers import sink, stack
from vigil.offline import process
from vigil.parse import Source
from vigil.render import meta

VIGIL_KINDS = "tsink,mstack,apol"
CHILD_KINDS = (
    "serviceaccounts,configmaps,services,deployments,poddisruptionbudgets,"
    "servicemonitors,prometheusrules,alertmanagerconfigs,grafanadashboards"
)


def cheap_stacks(count: int, *, sinks: int = 1, prefix: str = "st") -> list[dict[str, Any]]:
    """``count`` stacks ``<prefix><i>``, each exporting to its own ``sinks`` debug sinks (the cheapest
    kind) ``<prefix><i>-log-<j>``, which it selects by label; each stack follows its sinks."""
    docs: list[dict[str, Any]] = []
    for i in range(count):
        labels = {"stack": f"{prefix}{i}"}
        docs += [sink(f"{prefix}{i}-log-{j}", labels=labels, signals=["logs"], debug={}) for j in range(sinks)]
        docs.append(stack(f"{prefix}{i}", sinks={"selector": {"matchLabels": labels}}))
    return docs


def in_namespace(docs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """``docs``, each with ``namespace`` set (changed in place, and returned)."""
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def apply_all(cp: ControlPlane, docs: Sequence[dict[str, Any]]) -> None:
    """Server-side apply ``docs`` in one kubectl call."""
    cp.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=yaml.safe_dump_all(docs))


def apply_in_chunks(
    cp: ControlPlane,
    docs: Sequence[dict[str, Any]],
    *,
    chunk: int = 50,
    deadline_s: float = 300.0,
    after_chunk: Callable[[int], None] = lambda _: None,
) -> int:
    """Apply ``docs`` ``chunk`` at a time, retrying a chunk the API server did not take (it may be
    restarting) until ``deadline_s``; ``after_chunk(n)`` runs once n chunks are in. Failed tries."""
    end = time.monotonic() + deadline_s
    failed = 0
    for n, start in enumerate(range(0, len(docs), chunk), start=1):
        text = yaml.safe_dump_all(docs[start : start + chunk])
        apply = ("apply", "--server-side", "--field-manager=test", "-f", "-")
        while cp.kubectl(*apply, input=text, check=False).returncode:
            failed += 1
            assert time.monotonic() < end, f"the API server did not take chunk {n} within {deadline_s:.0f}s"
            time.sleep(1)
        after_chunk(n)
    return failed


def collector_configs(cp: ControlPlane, namespace: str) -> dict[str, dict[str, Any]]:
    """The collector config of every stack of the namespace, by stack name."""
    selector = f"{meta.MANAGED_BY}=vigil,{meta.OWNER_KIND}=MonitoringStack"
    items = json.loads(cp.kubectl("get", "configmaps", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
    return {
        cm["metadata"]["labels"][meta.INSTANCE]: yaml.safe_load(cm["data"]["collector.yaml"])
        for cm in items
        if cm["metadata"]["name"] == meta.collector_config_name(cm["metadata"]["labels"][meta.INSTANCE])
    }


def delete_all(cp: ControlPlane, namespace: str, docs: Sequence[dict[str, Any]]) -> None:
    """Delete ``docs`` in one kubectl call, without waiting for them to be gone."""
    cp.kubectl("delete", "-n", namespace, "--wait=false", *(f"{d['kind']}/{d['metadata']['name']}" for d in docs))


def vigil_objects(cp: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    """Every sink, stack and policy of the namespace."""
    out = cp.kubectl("get", VIGIL_KINDS, "-n", namespace, "-o", "json").stdout
    return list(json.loads(out)["items"])


def not_ready(cp: ControlPlane, namespace: str, expected: int) -> list[str]:
    """Vigil objects of the namespace that are not Ready for their current generation.

    Fails when the namespace does not hold exactly ``expected`` of them (deleted ones must be gone).
    """
    items = vigil_objects(cp, namespace)
    pending = []
    for obj in items:
        ready = next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})
        if ready.get("status") != "True" or ready.get("observedGeneration") != obj["metadata"]["generation"]:
            pending.append(f"{obj['kind']}/{obj['metadata']['name']}")
    if len(items) != expected:
        pending.append(f"{len(items)} objects in the namespace, not {expected}")
    return pending


def rendered_children(docs: Sequence[dict[str, Any]], namespace: str) -> dict[str, set[str]]:
    """What Vigil renders for ``docs``: owner ``Kind/name`` -> its children's ``Kind/name``."""
    result = process([(Source("population", i), doc) for i, doc in enumerate(docs, start=1)], namespace)
    assert not result.problems, result.problems
    owners: dict[str, set[str]] = {}
    for obj in result.objects:
        labels = obj["metadata"]["labels"]
        owner = f"{labels[meta.OWNER_KIND]}/{labels[meta.INSTANCE]}"
        owners.setdefault(owner, set()).add(f"{obj['kind']}/{obj['metadata']['name']}")
    return owners


def child_problems(cp: ControlPlane, namespace: str, docs: Sequence[dict[str, Any]]) -> list[str]:
    """How the generated objects of the namespace differ from exactly what ``docs`` render to.

    ``docs`` are the objects that must exist now; anything generated for another owner is an
    orphan, and so is a child whose ownerReference does not point at its live owner.
    """
    live = {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"]
        for o in vigil_objects(cp, namespace)
        if not o["metadata"].get("deletionTimestamp")
    }
    selector = f"{meta.MANAGED_BY}=vigil"
    items = json.loads(cp.kubectl("get", CHILD_KINDS, "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
    problems: list[str] = []
    found: dict[str, set[str]] = {}
    for child in items:
        name = f"{child['kind']}/{child['metadata']['name']}"
        labels = child["metadata"]["labels"]
        owner = f"{labels[meta.OWNER_KIND]}/{labels[meta.INSTANCE]}"
        uids = [r["uid"] for r in child["metadata"].get("ownerReferences", []) if r.get("controller")]
        if owner not in live or uids != [live[owner]]:
            problems.append(f"{name}: no live owner ({owner}, ownerReferences {uids})")
        found.setdefault(owner, set()).add(name)
    for owner, want in rendered_children(docs, namespace).items():
        have = found.pop(owner, set())
        problems += [f"{owner}: {n} missing" for n in sorted(want - have)]
        problems += [f"{owner}: {n} not rendered for it" for n in sorted(have - want)]
    problems += [f"{owner}: {n} left behind" for owner, names in found.items() for n in sorted(names)]
    return problems


def converged(
    cp: ControlPlane,
    namespace: str,
    docs: Sequence[dict[str, Any]],
    *,
    alive: Callable[[], None] = lambda: None,
    deadline_s: float = 240.0,
) -> None:
    """Wait until exactly ``docs`` are Ready, with exactly their children; ``alive`` may fail the wait early.

    Children of deleted owners are collected by the garbage collector, which notices new
    CRDs' owners within 30 s: the deadline covers that.
    """

    def done() -> bool:
        alive()
        return not_ready(cp, namespace, len(docs)) == [] and child_problems(cp, namespace, docs) == []

    try:
        eventually(done, "every object Ready with exactly its children", deadline_s=deadline_s, interval_s=3)
    except AssertionError as exc:
        pending = not_ready(cp, namespace, len(docs))[:10] + child_problems(cp, namespace, docs)[:10]
        raise AssertionError(f"{exc}\nstill wrong: {pending}") from None
