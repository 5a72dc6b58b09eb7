"""The operator on the real local control plane: latency, throughput, no-op writes, memory, drift CPU.

One run measures every figure as a ratio or a count where it can, so the noise of a shared
machine cancels:

- latency: a sink and a stack applied until the stack is Ready (seen by a watch), against a raw
  server-side apply of the same objects (the two custom resources and every generated child)
  by the same client, one after the other;
- throughput: N stacks and N sinks created at once (8 client threads) until all are Ready;
- API requests one new stack costs, by verb and resource, from the API server's own metrics;
- writes per no-op reconcile: drift ticks, a label change on every stack, and a restart (resume);
- CPU per drift tick per stack at steady state, and `otelcol validate` runs during the ticks;
- operator RSS with the stacks, and its growth after unrelated Secrets are added.

The operator validates every config with the real collector (`--collector-binary`), as the
chart runs it.
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from bench import profile
from bench.report import Figure
from kubernetes import watch
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families
from tests.harness.collector import binary as collector_binary
from tests.harness.controlplane import ControlPlane, start_control_plane
from tests.harness.operator import Operator, start_operator
from tests.helpers import sink, stack

from vigil import api
from vigil.k8s import VIGIL, Kube, resource_type
from vigil.pipeline import build_from_documents, plan_stack
from vigil.render.context import RenderContext

FIELD_MANAGER = "bench"
CREATE_THREADS = 8
STACKS = VIGIL[api.MONITORING_STACK.kind]


@dataclass
class Options:
    stacks: int = 200
    rounds: int = 15
    secrets: int = 1000
    drift_interval: float = 30.0
    profile_to: Path | None = None


def pair(namespace: str, i: int) -> list[dict[str, Any]]:
    """A sink and the stack that selects it, by name."""
    docs = [
        sink(f"s{i}", labels={"bench": f"b{i}"}, signals=["traces"], otlp={"endpoint": f"gw{i}:4317"}),
        stack(f"st{i}", sinks={"names": [f"s{i}"]}),
    ]
    for d in docs:
        d["metadata"]["namespace"] = namespace
    return docs


def ssa(kube: Kube, doc: dict[str, Any]) -> None:
    """Server-side apply any object Vigil knows (its own kinds and the children) as the benchmark."""
    rt = resource_type(doc["apiVersion"], doc["kind"])
    kube.request(
        "apply",
        "PATCH",
        rt.path(doc["metadata"]["namespace"], doc["metadata"]["name"]),
        body=doc,
        query={"fieldManager": FIELD_MANAGER, "force": "true"},
        headers={"Content-Type": "application/apply-patch+yaml"},
    )


def children(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the operator generates for the stack of ``docs`` (its sink is ``docs[0]``)."""
    build = build_from_documents(docs[1], [docs[0]])
    assert not isinstance(build, list), build
    return plan_stack(build, {}, RenderContext(uid="00000000-0000-0000-0000-000000000000")).objects


def is_ready(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" and c.get("observedGeneration") == generation
        for c in (obj.get("status") or {}).get("conditions", [])
    )


class ReadyWatch:
    """A watch on the stacks of one namespace: when each first became Ready."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        self.ready_at: dict[str, float] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._api = CustomObjectsApi(client)
        self._ns = namespace
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"watch-{namespace}")
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        rv: str | None = None
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                kwargs = {"resource_version": rv} if rv else {}
                self._started.set()
                for event in w.stream(
                    self._api.list_namespaced_custom_object,
                    api.GROUP,
                    api.VERSION,
                    self._ns,
                    STACKS.plural,
                    timeout_seconds=30,
                    **kwargs,
                ):
                    obj = event["object"]
                    rv = obj["metadata"]["resourceVersion"]
                    if is_ready(obj):
                        with self._cv:
                            self.ready_at.setdefault(obj["metadata"]["name"], time.monotonic())
                            self._cv.notify_all()
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    rv = None
                else:
                    time.sleep(0.2)

    def wait(self, done: Callable[[dict[str, float]], bool], deadline_s: float, what: str) -> None:
        end = time.monotonic() + deadline_s
        with self._cv:
            while not done(self.ready_at):
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}: {len(self.ready_at)} Ready after {deadline_s:.0f}s")
                self._cv.wait(min(left, 1.0))

    def stop(self) -> None:
        self._stop.set()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and of its children it has waited for (validate runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def apiserver_requests(cp: ControlPlane) -> Counter[tuple[str, str, str]]:
    """Requests the API server has served, by (verb, resource, subresource)."""
    out: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(cp.request("/metrics")):
        if family.name != "apiserver_request":
            continue
        for s in family.samples:
            if s.name == "apiserver_request_total":
                out[(s.labels["verb"], s.labels["resource"], s.labels.get("subresource", ""))] += s.value
    return out


def create_all(kube: Kube, docs: Iterable[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(CREATE_THREADS) as pool:
        list(pool.map(lambda d: ssa(kube, d), docs))


@dataclass
class OperatorRun:
    """Everything measured in one run, turned into figures at the end."""

    figures: list[Figure] = field(default_factory=list)
    breakdown: list[tuple[str, float]] = field(default_factory=list)
    requests_per_stack: dict[str, float] = field(default_factory=dict)


def latency(cp: ControlPlane, kube: Kube, client: ApiClient, rounds: int) -> Figure:
    """Median apply → Ready through the operator, over the median raw apply of the same objects."""
    through: list[float] = []
    raw: list[float] = []
    raw_children: list[float] = []
    for r in range(rounds + 2):  # the first two warm both paths up and are not counted
        lat, rawns = f"lat-{r}", f"raw-{r}"
        cp.kubectl("create", "namespace", lat)
        cp.kubectl("create", "namespace", rawns)
        docs = pair(lat, r)
        seen = ReadyWatch(client, lat)
        started = time.monotonic()
        for d in docs:
            ssa(kube, d)
        seen.wait(lambda ready, name=f"st{r}": name in ready, 60, f"stack {lat}/st{r}")
        took = seen.ready_at[f"st{r}"] - started
        seen.stop()
        settled = ReadyWatch(client, rawns)
        plain = pair(rawns, r)
        objects = children(plain)
        for o in objects:
            o["metadata"]["namespace"] = rawns
            o["metadata"].pop("ownerReferences", None)  # no owner to point at: the same bytes otherwise
        started = time.monotonic()
        for d in plain:
            ssa(kube, d)
        crs = time.monotonic()
        for o in objects:
            ssa(kube, o)
        ended = time.monotonic()
        # The operator takes these over too: let it finish before the next round is timed.
        settled.wait(lambda ready, name=f"st{r}": name in ready, 60, f"stack {rawns}/st{r}")
        settled.stop()
        if r >= 2:
            through.append(took)
            raw.append(ended - started)
            raw_children.append(ended - crs)
    t, w = statistics.median(through), statistics.median(raw)
    return Figure(
        "latency_ratio",
        "apply → Ready / raw server-side apply of the same objects",
        t / w,
        "x",
        ("<=", 1.5),
        note=f"median of {rounds}: {1000 * t:.0f} ms through the operator, {1000 * w:.0f} ms raw "
        f"(the 2 custom resources and {len(objects)} children; the children alone "
        f"{1000 * statistics.median(raw_children):.0f} ms)",
        detail={
            "through_ms": [round(1000 * x, 1) for x in through],
            "raw_ms": [round(1000 * x, 1) for x in raw],
            "raw_children_ms": [round(1000 * x, 1) for x in raw_children],
        },
    )


def run(opts: Options, work: Path) -> OperatorRun:
    """Start a control plane and the operator, measure, stop both."""
    out = OperatorRun()
    cp = start_control_plane(work / "controlplane")
    op: Operator | None = None
    try:
        cp.install_crds()
        kubernetes.config.load_kube_config(str(cp.kubeconfig))
        client = ApiClient()
        kube = Kube(client)
        env = {
            "VIGIL_DRIFT_INTERVAL": str(opts.drift_interval),
            "VIGIL_COLLECTOR_BINARY": str(collector_binary()),
            "VIGIL_LOG_FORMAT": "json",
        }
        op = start_operator(cp, work, **env)
        rss_idle = rss_mib(op.process.pid)
        out.figures.append(latency(cp, kube, client, opts.rounds))
        op = bulk(cp, kube, client, op, opts, work, out, env)
        rss_n = rss_mib(op.process.pid)
        secrets = [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"u{i}", "namespace": "unrelated"},
                "stringData": {"k": "x" * 512},
            }
            for i in range(opts.secrets)
        ]
        cp.kubectl("create", "namespace", "unrelated")
        with ThreadPoolExecutor(CREATE_THREADS) as pool:
            list(
                pool.map(
                    lambda s: kube.request("create", "POST", "/api/v1/namespaces/unrelated/secrets", body=s), secrets
                )
            )
        time.sleep(10)
        rss_secrets = rss_mib(op.process.pid)
        total = opts.stacks + opts.rounds + 2
        out.figures += [
            Figure(
                "rss_mib",
                f"operator RSS at {total} stacks",
                rss_n,
                "MiB",
                ("<=", 120),
                note=f"{rss_idle:.0f} MiB idle before the first stack",
            ),
            Figure(
                "rss_secrets_growth",
                f"RSS growth with {opts.secrets} unrelated Secrets",
                100 * (rss_secrets - rss_n) / rss_n,
                "%",
                ("<=", 5),
                detail={"before_mib": round(rss_n, 1), "after_mib": round(rss_secrets, 1)},
            ),
        ]
        op.stop()  # timers left orphaned are reported as the operator exits
        out.figures.append(log_warnings(work))
    finally:
        if op is not None:
            op.stop()
        cp.stop()
    return out


WARNINGS = {
    "pool full": "Connection pool is full",
    "timer orphaned": "did not exit in time",
    "tracebacks": "Traceback",
}


def log_warnings(work: Path) -> Figure:
    """Warnings of every operator process of the run that say a limit was hit."""
    text = "".join(p.read_text(errors="replace") for p in work.glob("vigil-*.log"))
    counts = {label: text.count(needle) for label, needle in WARNINGS.items()}
    return Figure(
        "log_warnings",
        "operator log: pool full, timers orphaned, tracebacks",
        sum(counts.values()),
        "",
        ("==", 0),
        note=", ".join(f"{k} {v}" for k, v in counts.items()),
        detail=counts,
    )


def bulk(
    cp: ControlPlane,
    kube: Kube,
    client: ApiClient,
    op: Operator,
    opts: Options,
    work: Path,
    out: OperatorRun,
    env: dict[str, str],
) -> Operator:
    """Throughput, requests per stack, no-op writes (drift, labels, resume), drift CPU; the operator running after."""
    n = opts.stacks
    cp.kubectl("create", "namespace", "many")
    docs = [d for i in range(n) for d in pair("many", i)]
    seen = ReadyWatch(client, "many")
    before = apiserver_requests(cp)
    spy = None
    if opts.profile_to is not None:
        spy = profile.record(op.process.pid, opts.profile_to, seconds=max(30.0, n / 5))
    pids = {"operator": op.process.pid, **{p.name: p.pid for p in cp.processes}}
    cpu_before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    started = time.monotonic()
    create_all(
        kube, [d for d in docs if d["kind"] == "TelemetrySink"] + [d for d in docs if d["kind"] != "TelemetrySink"]
    )
    created = time.monotonic() - started
    seen.wait(lambda ready: len(ready) >= n, 60 + n, f"{n} stacks Ready")
    took = max(seen.ready_at.values()) - started
    cpu = {k: 1000 * (cpu_seconds(pid) - cpu_before[k]) / n for k, pid in pids.items()}
    seen.stop()
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled when interrupted
        spy.wait(60)
        if opts.profile_to and opts.profile_to.exists() and opts.profile_to.stat().st_size:
            out.breakdown = profile.breakdown(opts.profile_to)
    time.sleep(2)  # the last status patches and sink usedBy updates land
    after = apiserver_requests(cp)
    # The benchmark's own requests: one apply per created object.
    mine = Counter({("APPLY", "telemetrysinks", ""): n, ("APPLY", "monitoringstacks", ""): n})
    spent = {
        " ".join(p for p in k if p): (after[k] - before[k] - mine[k]) / n
        for k in after
        if after[k] - before[k] - mine[k] > 0 and k[0] not in ("WATCH", "CONNECT")
    }
    out.requests_per_stack = dict(sorted(spent.items(), key=lambda kv: -kv[1]))
    out.figures += [
        Figure(
            "throughput",
            f"{n} stacks (+{n} sinks) created at once → all Ready",
            n / took,
            "stacks/s",
            (">=", 50),
            note=f"{took:.1f} s from the first create; the creates alone took {created:.1f} s",
        ),
        Figure(
            "cpu_per_new_stack_ms",
            "CPU per new stack: operator (validate runs included) + control plane",
            sum(cpu.values()),
            "ms",
            note=", ".join(f"{k} {v:.0f} ms" for k, v in cpu.items())
            + f"; 2 idle cores would sustain {2000 / max(sum(cpu.values()), 1e-9):.0f} stacks/s at this cost",
            detail={k: round(v, 1) for k, v in cpu.items()},
        ),
        Figure(
            "requests_per_new_stack",
            "API requests per new stack (operator, all verbs)",
            sum(spent.values()),
            "",
            note=", ".join(f"{k} {v:.1f}" for k, v in out.requests_per_stack.items()),
            detail=out.requests_per_stack,
        ),
    ]
    return no_ops(cp, op, opts, work, out, env)


def no_ops(
    cp: ControlPlane, op: Operator, opts: Options, work: Path, out: OperatorRun, env: dict[str, str]
) -> Operator:
    """Drift ticks, a label on every stack, and a restart: none may write; drift ticks cost CPU, not subprocesses."""
    total = opts.stacks + opts.rounds + 2
    # Steady state: every stack's drift timer ticks once in any window of one interval.
    time.sleep(opts.drift_interval / 2)
    reconciles = op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind)
    writes, cpu = op.child_writes(), cpu_seconds(op.process.pid)
    runs = op.count("vigil_collector_validations_total", result="valid") + op.count(
        "vigil_collector_validations_total", result="invalid"
    )
    window = opts.drift_interval
    time.sleep(window)
    ticks = op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind) - reconciles
    cpu_tick = 1000 * (cpu_seconds(op.process.pid) - cpu) / max(ticks, 1)
    drift_writes = op.child_writes() - writes
    validate_runs = (
        op.count("vigil_collector_validations_total", result="valid")
        + op.count("vigil_collector_validations_total", result="invalid")
        - runs
    )
    # A label-only change on every stack.
    reconciles, writes = op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind), op.child_writes()
    cp.kubectl("label", "mstack", "--all", "-n", "many", "touched=yes")
    deadline = time.monotonic() + 60 + opts.stacks / 10
    while op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind) - reconciles < opts.stacks:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    label_runs = op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind) - reconciles
    label_writes = op.child_writes() - writes
    # Resume: a new operator process on the same objects.
    op.stop()
    started = time.monotonic()
    op = start_operator(cp, work, name="vigil-resumed", wait=False, **env)
    deadline = time.monotonic() + 120 + total / 2  # it indexes every object before any handler runs
    while op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind) < total:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    resumed = op.count("vigil_reconcile_total", kind=api.MONITORING_STACK.kind)
    resume_s = time.monotonic() - started
    resume_writes = op.child_writes()
    noop_writes = drift_writes + label_writes + resume_writes
    noop_runs = ticks + label_runs + resumed
    out.figures += [
        Figure(
            "writes_per_noop",
            "writes per no-op reconcile (drift, label, resume)",
            noop_writes / max(noop_runs, 1),
            "",
            ("==", 0),
            note=f"{drift_writes:g}/{ticks:g} drift ticks, {label_writes:g}/{label_runs:g} label changes, "
            f"{resume_writes:g}/{resumed:g} resumed in {resume_s:.0f} s",
            detail={
                "drift": [drift_writes, ticks],
                "label": [label_writes, label_runs],
                "resume": [resume_writes, resumed],
            },
        ),
        Figure(
            "drift_cpu_ms",
            "operator CPU per drift tick per stack",
            cpu_tick,
            "ms",
            note=f"{ticks:g} ticks over {window:.0f} s, `otelcol validate` runs during them: {validate_runs:g}",
            detail={"ticks": ticks, "validate_runs": validate_runs},
        ),
        Figure(
            "drift_validate_runs", "otelcol validate runs per drift tick", validate_runs / max(ticks, 1), "", ("==", 0)
        ),
    ]
    return op
