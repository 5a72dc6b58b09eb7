"""SLO benchmark (offline): validate and render 1,000 SLO AlertPolicies, and the same SLOs in Sloth.

Vigil: parse + model validation (PromQL parsed by promql-parser) + render_policy, in process.
Sloth: `sloth generate` on one file holding the same SLOs (it also parses the PromQL), built
from the Go module proxy into a temporary GOBIN when Go is available; a run without it says why.
Both outputs are checked once with `promtool check rules` when promtool is installed.

    .venv/bin/python -m bench.bench_slo [--policies 1000] [--no-sloth]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vigil.models.policy import AlertPolicy
from vigil.parse import Parsed, parse_document
from vigil.render.alerts import render_policy
from vigil.render.context import RenderContext

SLOTH_MODULE = "github.com/slok/sloth"
SLOTH_VERSION = "v0.12.0"
GO = Path("/usr/local/go/bin/go")
BUILD_DEADLINE_S = 600
OBJECTIVES = (99.0, 99.5, 99.9, 99.95)


@dataclass(frozen=True)
class SLOCase:
    """One SLO, as both tools are given it."""

    name: str
    objective: float
    service: str

    def errors(self, window: str) -> str:
        return f'sum(rate(http_requests_total{{service="{self.service}", code=~"5.."}}[{window}]))'

    def total(self, window: str) -> str:
        return f'sum(rate(http_requests_total{{service="{self.service}"}}[{window}]))'

    def policy(self) -> dict[str, Any]:
        return {
            "apiVersion": "vigil.dev/v1alpha1",
            "kind": "AlertPolicy",
            "metadata": {"name": self.name, "namespace": "bench"},
            "spec": {
                "slo": {
                    "objective": self.objective,
                    "window": "30d",
                    "errorQuery": self.errors("{{window}}"),
                    "totalQuery": self.total("{{window}}"),
                },
                "receivers": [
                    {
                        "name": "pager",
                        "severities": ["critical"],
                        "pagerduty": {"routingKey": {"name": "pd", "key": "k"}},
                    },
                    {
                        "name": "chat",
                        "slack": {"channel": "#slo", "apiURL": {"name": "slack", "key": "url"}},
                    },
                ],
            },
        }

    def sloth(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "objective": self.objective,
            "sli": {
                "events": {
                    "error_query": self.errors("{{.window}}"),
                    "total_query": self.total("{{.window}}"),
                }
            },
            "alerting": {
                "name": "".join(p.capitalize() for p in self.name.split("-")),
                "page_alert": {"labels": {"severity": "critical"}},
                "ticket_alert": {"labels": {"severity": "warning"}},
            },
        }


def cases(count: int) -> list[SLOCase]:
    return [SLOCase(f"slo-{i:04d}", OBJECTIVES[i % len(OBJECTIVES)], f"svc-{i % 97}") for i in range(count)]


@dataclass
class Run:
    """What one tool did: wall time, rules produced, promtool's verdict."""

    tool: str
    seconds: float
    rules: int
    promtool: str
    note: str = ""


def run_vigil(slos: list[SLOCase], workdir: Path) -> tuple[Run, list[float]]:
    docs = [c.policy() for c in slos]
    ctx = RenderContext()
    per_policy: list[float] = []
    groups: list[dict[str, Any]] = []
    started = time.perf_counter()
    for doc in docs:
        t0 = time.perf_counter()
        parsed = parse_document(doc)
        if not isinstance(parsed, Parsed) or not isinstance(parsed.model, AlertPolicy):
            raise SystemExit(f"benchmark policy rejected: {parsed}")
        objects = render_policy(parsed.model, ctx)
        per_policy.append(time.perf_counter() - t0)
        groups += objects[0]["spec"]["groups"]
    elapsed = time.perf_counter() - started
    out = workdir / "vigil-rules.yaml"
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    rules = sum(len(g["rules"]) for g in groups)
    return Run("vigil (in process)", elapsed, rules, promtool_check(out)), per_policy


def promtool_check(path: Path) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        return "promtool not installed"
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return "SUCCESS" if result.returncode == 0 else f"FAILED: {(result.stdout + result.stderr).strip()[-200:]}"


def build_sloth(workdir: Path) -> tuple[Path | None, str]:
    """Build sloth into a temporary GOBIN; (binary, how long it took) or (None, why not)."""
    go = GO if GO.exists() else (Path(p) if (p := shutil.which("go")) else None)
    if go is None:
        return None, "Go is not installed (/usr/local/go/bin/go)"
    gobin = workdir / "gobin"
    env = {
        **os.environ,
        "GOBIN": str(gobin),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
    }
    started = time.perf_counter()
    try:
        installed = subprocess.run(
            [str(go), "install", f"{SLOTH_MODULE}/cmd/sloth@{SLOTH_VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=BUILD_DEADLINE_S,
            check=False,
            cwd=workdir,
        )
        if installed.returncode != 0:
            # `go install m@v` also asks the proxy for m's version list (deprecation notices); a
            # proxy that refuses lists still serves the version to a module that requires it.
            module = workdir / "sloth-build"
            module.mkdir()
            (module / "go.mod").write_text(f"module slothbuild\n\ngo 1.22\n\nrequire {SLOTH_MODULE} {SLOTH_VERSION}\n")
            (module / "tools.go").write_text(
                f'//go:build tools\n\npackage tools\n\nimport _ "{SLOTH_MODULE}/cmd/sloth"\n'
            )
            remaining = BUILD_DEADLINE_S - (time.perf_counter() - started)
            built = subprocess.run(
                [str(go), "mod", "tidy"],
                capture_output=True,
                text=True,
                env=env,
                timeout=remaining,
                check=False,
                cwd=module,
            )
            if built.returncode == 0:
                built = subprocess.run(
                    [str(go), "build", "-o", str(gobin / "sloth"), f"{SLOTH_MODULE}/cmd/sloth"],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=BUILD_DEADLINE_S,
                    check=False,
                    cwd=module,
                )
            if built.returncode != 0:
                why = (installed.stderr.strip().splitlines() or ["?"])[-1]
                return (
                    None,
                    f"go install failed ({why}); building from a module failed: {built.stderr.strip()[-300:]}",
                )
    except subprocess.TimeoutExpired:
        return None, f"building sloth {SLOTH_VERSION} took longer than {BUILD_DEADLINE_S}s"
    return gobin / "sloth", f"built {SLOTH_VERSION} in {time.perf_counter() - started:.0f}s"


def run_sloth(binary: Path, slos: list[SLOCase], workdir: Path) -> Run:
    spec = {"version": "prometheus/v1", "service": "bench", "slos": [c.sloth() for c in slos]}
    source = workdir / "sloth-slos.yaml"
    source.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = workdir / "sloth-rules.yaml"
    started = time.perf_counter()
    result = subprocess.run(
        [str(binary), "generate", "--no-log", "-i", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sloth generate failed: {result.stderr[-500:]}")
    groups = yaml.safe_load(out.read_text())["groups"]
    rules = sum(len(g["rules"]) for g in groups)
    return Run("sloth generate (one process)", elapsed, rules, promtool_check(out))


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000, help="number of SLO policies")
    parser.add_argument("--no-sloth", action="store_true", help="skip building and running Sloth")
    args = parser.parse_args(argv)
    slos = cases(args.policies)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-slo-") as tmp:
        workdir = Path(tmp)
        vigil, per_policy = run_vigil(slos, workdir)
        runs = [vigil]
        sloth_note = "skipped (--no-sloth)"
        if not args.no_sloth:
            binary, sloth_note = build_sloth(workdir)
            if binary is not None:
                runs.append(run_sloth(binary, slos, workdir))
    n = len(slos)
    rows = [["tool", "SLOs", "total s", "ms per SLO", "rules", "rules per SLO", "promtool check rules"]]
    rows += [
        [
            r.tool,
            str(n),
            f"{r.seconds:.3f}",
            f"{1000 * r.seconds / n:.3f}",
            str(r.rules),
            f"{r.rules / n:g}",
            r.promtool,
        ]
        for r in runs
    ]
    print(f"SLO benchmark: {n} SLO policies (30d window, 4 objectives), Python {sys.version.split()[0]}")
    print()
    print(table(rows))
    print()
    quantiles = statistics.quantiles(per_policy, n=100)
    print(
        f"vigil per policy (validate + render): p50 {1000 * quantiles[49]:.3f} ms, "
        f"p95 {1000 * quantiles[94]:.3f} ms, max {1000 * max(per_policy):.3f} ms"
    )
    if len(runs) == 2:
        print(f"sloth: {sloth_note}; sloth time / vigil time = {runs[1].seconds / runs[0].seconds:.2f}")
    else:
        print(f"sloth: not available: {sloth_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
