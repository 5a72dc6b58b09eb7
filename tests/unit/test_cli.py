"""The vigil command: render, validate, crds, and no traceback for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES, INVALID
from vigil.cli import main


def test_render_yaml_is_multi_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(EXAMPLES)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert len(docs) > 10
    assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)


def test_render_json_is_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-o", "json", "-n", "shop", str(EXAMPLES)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "List"
    assert {i["metadata"]["namespace"] for i in out["items"]} == {"shop"}


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "0 invalid, 0 errors" in out
    assert "aureus-otlp" in out


def test_validate_reports_file_document_path_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    target = INVALID / "secret-ref-without-key.yaml"
    assert main(["validate", str(target)]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first == (
        f"{target}:1: TelemetrySink/secret-ref-without-key: "
        "spec.otlp.headers[0].valueFrom.secretKeyRef.key: Required value: set key"
    )
    assert "1 invalid" in out


def test_render_refuses_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(INVALID / "two-destinations.yaml")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "set exactly one destination" in captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
        (
            "apiVersion: vigil.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: x}\n",
            'Unsupported value: "Dashboard"',
        ),
        (
            "apiVersion: vigil.dev/v1alpha1\nkind: TelemetrySink\nmetadata: {name: x}\nspec: 5\n",
            "spec",
        ),
    ],
)
def test_bad_input_never_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    code = main(["validate", str(f)])
    captured = capsys.readouterr()
    assert code in (1, 2)
    assert message in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "/nonexistent/x.yaml"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_crds_to_dir(tmp_path: Path) -> None:
    assert main(["crds", "--dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alertpolicies.vigil.dev.yaml",
        "monitoringstacks.vigil.dev.yaml",
        "telemetrysinks.vigil.dev.yaml",
    ]


def test_render_with_crds_puts_crds_and_rbac_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--with-crds", str(EXAMPLES)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = [d["kind"] for d in docs]
    assert kinds[:5] == [
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
    ]
    assert {d["spec"]["names"]["kind"] for d in docs[:3]} == {"TelemetrySink", "MonitoringStack", "AlertPolicy"}
    rbac = [d for d in yaml.safe_load_all((EXAMPLES.parent / "deploy" / "rbac.yaml").read_text()) if d]
    assert docs[3:5] == rbac
    assert "Deployment" in kinds[5:]
    assert "CustomResourceDefinition" not in kinds[5:]


def test_render_with_crds_alone_is_the_install_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--with-crds", "-o", "json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [i["kind"] for i in items] == ["CustomResourceDefinition"] * 3 + ["ClusterRole", "ClusterRoleBinding"]


def test_render_without_paths_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render"]) == 2
    assert "give YAML files or folders" in capsys.readouterr().err


def test_render_with_crds_refuses_alertmanager_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--with-crds", "--alertmanager-config", str(EXAMPLES)]) == 2
    assert "do not mix" in capsys.readouterr().err


def test_diff_without_a_cluster_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["diff", str(EXAMPLES)]) == 2
    assert "cannot load a kubeconfig" in capsys.readouterr().err


def test_cluster_scope_needs_the_namespace_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    target = INVALID / "stack-cluster-scope-not-allowed.yaml"
    assert main(["validate", str(target)]) == 1
    assert 'spec.ruleBundles[0].scope: scope "cluster" reads the series' in capsys.readouterr().out
    assert main(["render", "--cluster-rule-namespaces", "default", str(target)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    down = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "ServiceDown")
    assert down["expr"] == 'up{job=~".*orchestrator.*", job!~".*collector.*"} == 0'


def test_problems_print_without_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'apiVersion: vigil.dev/v1alpha1\nkind: TelemetrySink\nmetadata: {name: "x\\e[2Jy"}\n'
        "spec: {signals: [logs], debug: {}}\n"
    )
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "TelemetrySink/x\\x1b[2Jy: metadata.name" in out


POLICY = "apiVersion: vigil.dev/v1alpha1\nkind: AlertPolicy\nmetadata: {name: %s}\nspec:\n  expr: %s\n"


def test_one_bad_file_does_not_stop_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(POLICY % ("bad", "up") + "  for: !!timestamp nope\n")
    (tmp_path / "b.yaml").write_text("a: [unclosed\n")
    (tmp_path / "c.yaml").write_text(POLICY % ("good", "up == 0"))
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'a.yaml'}:1: AlertPolicy/bad: spec.for: the tag !!timestamp is not supported" in out
    assert f"{tmp_path / 'b.yaml'}:1: document: not valid YAML" in out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.startswith(str(tmp_path))}
    assert rows[f"{tmp_path / 'c.yaml'}:1"] == "ok"
    assert "1 objects, 0 invalid, 2 errors, 2 not read" in out


def test_render_writes_nothing_when_a_file_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = ["  affinity:", "    a0: &a0 [xxxxxxxxxxxxxxxxxxxx, xxxxxxxxxxxxxxxxxxxx, xxxxxxxxxxxxxxxxxxxx]"]
    bomb += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    stack = "apiVersion: vigil.dev/v1alpha1\nkind: MonitoringStack\nmetadata: {name: s}\nspec:\n"
    stack += "  sinks: {names: [x]}\n  collector:\n" + "\n".join("  " + line for line in bomb) + "\n"
    (tmp_path / "stack.yaml").write_text(stack)
    assert main(["render", "-o", "json", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the document expands to more than 3 MiB" in captured.err


@pytest.mark.parametrize(
    ("content", "warning"),
    [
        ("", "holds no YAML document: an empty file"),
        (POLICY % ("p", "up") + "  expr: down\n", "spec.expr: duplicate key"),
        (
            (POLICY % ("p", "up")).replace("vigil.dev", "vigil.io"),
            'AlertPolicy/p: apiVersion: "vigil.io/v1alpha1" is not vigil.dev/v1alpha1: this AlertPolicy is passed over',
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "no Vigil object"),
        ("just: a mapping\n", "not a Kubernetes object (no apiVersion or kind): passed over"),
    ],
    ids=["empty", "duplicate-key", "vigil-kind-other-group", "no-vigil-object", "not-an-object"],
)
def test_what_was_skipped_is_a_warning_and_an_error_under_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, warning: str
) -> None:
    f = tmp_path / "x.yaml"
    f.write_text(content)
    assert main(["validate", str(f)]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("warning: ") and warning in line for line in out.splitlines()), out
    assert main(["validate", "--strict", str(f)]) == 1
    out = capsys.readouterr().out
    assert warning in out
    assert "warning: " not in out
    assert main(["render", "--strict", str(f)]) == 1
    assert warning in capsys.readouterr().err


def test_other_objects_are_listed_as_passed_over(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--strict", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "Secret" in out
    assert "passed over (not Vigil's)" in out


@pytest.mark.parametrize(
    ("expr", "verdict"),
    [("(" * 2000 + "up" + ")" * 2000, 0), ("-" * 4000 + "1", 0), ("(" * 2000 + "up" + ")" * 1999, 1)],
    ids=["parentheses", "unary-minus", "unbalanced"],
)
def test_deep_promql_is_judged_without_recursion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], expr: str, verdict: int
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POLICY % ("deep", expr))
    assert main(["validate", str(f)]) == verdict
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert ("invalid PromQL" in out) == bool(verdict)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 254, "at most 253 characters"),
        ("a..b", '"a..b": a lowercase RFC 1123 subdomain must consist of'),
        ("Upper", '"Upper": a lowercase RFC 1123 subdomain must consist of'),
    ],
)
def test_names_the_api_server_refuses_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POLICY % (name, "up"))
    assert main(["validate", str(f)]) == 1
    out = capsys.readouterr().out
    assert "metadata.name: Invalid value: " in out
    assert message in out


def test_control_characters_in_a_hostile_file_are_escaped_in_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POLICY % ('"evil\\e[2J\\x07"', "up") + '  "key\\e[31m": 1\n')
    assert main(["validate", str(f)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "evil\\x1b[2J\\x07" in out
