"""The collector's Kubernetes objects: security, env, probes, hash, PDB, connection settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import sink, stack
from vigil import api
from vigil.models.sink import TelemetrySink
from vigil.models.stack import MonitoringStack
from vigil.render.collector import render_collector
from vigil.render.collector_config import build_collector_config
from vigil.render.context import RenderContext

SECRET = {"valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}
GW = sink(
    "gw",
    signals=["traces"],
    otlp={"endpoint": "gw:4317", "headers": [{"name": "Authorization", **SECRET}]},
)


def _render(
    stack_spec: dict[str, Any] | None = None, sinks: tuple = (GW,), ctx: RenderContext | None = None
) -> dict[str, dict]:
    model = MonitoringStack.model_validate(stack("shop", **({"sinks": {"names": ["gw"]}} | (stack_spec or {}))))
    config = build_collector_config(model, [TelemetrySink.model_validate(s) for s in sinks])
    objs = render_collector(model, config, ctx or RenderContext())
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}


def _pod(objs: dict[str, dict]) -> dict:
    return objs["Deployment/shop-collector"]["spec"]["template"]


def test_objects_and_names() -> None:
    assert sorted(_render()) == [
        "ConfigMap/shop-collector-config",
        "ConfigMap/shop-otlp-connection",
        "Deployment/shop-collector",
        "Service/shop-collector",
        "ServiceAccount/shop-collector",
    ]


def test_pdb_only_above_one_replica() -> None:
    objs = _render({"collector": {"replicas": 3}})
    pdb = objs["PodDisruptionBudget/shop-collector"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"] == objs["Deployment/shop-collector"]["spec"]["selector"]["matchLabels"]
    )


def test_restricted_pod_security() -> None:
    pod = _pod(_render())["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_probes_use_the_health_check_port() -> None:
    container = _pod(_render())["spec"]["containers"][0]
    assert {"name": "health", "containerPort": 13133, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/", "port": "health"}


def test_secret_reaches_the_container_as_env_from_secret_key_ref() -> None:
    env = _pod(_render())["spec"]["containers"][0]["env"]
    assert env == [
        {
            "name": "VIGIL_GW_HEADER_AUTHORIZATION",
            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
        }
    ]


def test_resources_default_and_override() -> None:
    assert _pod(_render())["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    custom = _render({"collector": {"resources": {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}}})
    assert _pod(custom)["spec"]["containers"][0]["resources"]["limits"] == {"memory": "2Gi"}


def test_scheduling_fields_pass_through() -> None:
    pod = _pod(
        _render(
            {
                "collector": {
                    "nodeSelector": {"pool": "obs"},
                    "tolerations": [
                        {
                            "key": "dedicated",
                            "operator": "Equal",
                            "value": "obs",
                            "effect": "NoSchedule",
                        }
                    ],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
                    "priorityClassName": "observability",
                    "podLabels": {"team": "sre"},
                }
            }
        )
    )
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"pool": "obs"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "obs", "effect": "NoSchedule"}]
    assert "podAntiAffinity" in spec["affinity"]
    assert spec["priorityClassName"] == "observability"
    assert pod["metadata"]["labels"]["team"] == "sre"


AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"},
                        {"key": "cores", "operator": "Gt", "values": ["3"]},
                    ],
                    "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-0"]}],
                }
            ]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}
        ],
    },
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 100,
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "st"}},
                    "topologyKey": "kubernetes.io/hostname",
                },
            }
        ]
    },
}


def test_affinity_is_rendered_exactly_as_written() -> None:
    pod = _pod(_render({"collector": {"affinity": AFFINITY}}))
    assert pod["spec"]["affinity"] == AFFINITY


def _hash(objs: dict[str, dict]) -> str:
    return _pod(objs)["metadata"]["annotations"][api.CONFIG_HASH]


def test_hash_changes_with_config_and_only_then() -> None:
    base = _hash(_render())
    assert _hash(_render()) == base
    assert _hash(_render({"collector": {"replicas": 2}})) == base, "replicas do not change the config"
    changed = sink(
        "gw",
        signals=["traces"],
        otlp={"endpoint": "gw2:4317", "headers": [{"name": "Authorization", **SECRET}]},
    )
    assert _hash(_render(sinks=(changed,))) != base


def test_hash_changes_when_a_referenced_secret_changes() -> None:
    v1 = _hash(_render(ctx=RenderContext(ref_versions={("Secret", "creds"): "100"})))
    v2 = _hash(_render(ctx=RenderContext(ref_versions={("Secret", "creds"): "101"})))
    unrelated = _hash(_render(ctx=RenderContext(ref_versions={("Secret", "creds"): "100", ("Secret", "other"): "7"})))
    assert v1 != v2
    assert v1 == unrelated


def test_service_ports_include_prometheus_sinks() -> None:
    prom = sink("prom", signals=["metrics"], prometheus={"port": 9464})
    objs = _render({"sinks": {"names": ["gw", "prom"]}}, sinks=(GW, prom))
    ports = {p["name"]: p["port"] for p in objs["Service/shop-collector"]["spec"]["ports"]}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318, "metrics": 8888, "prom-9464": 9464}


def test_file_sink_gets_a_writable_volume() -> None:
    f = sink("f", signals=["logs"], file={"path": "/var/lib/vigil/out.jsonl"})
    pod = _pod(_render({"sinks": {"names": ["f"]}}, sinks=(f,)))["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert "/var/lib/vigil" in mounts
    assert mounts["/var/lib/vigil"].get("readOnly") is not True
    volume = next(v for v in pod["volumes"] if v["name"] == mounts["/var/lib/vigil"]["name"])
    assert volume["emptyDir"] == {}


@pytest.mark.parametrize(
    ("receivers", "expected"),
    [
        (
            {},
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://shop-collector.team-a.svc:4317",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_INSECURE": "true",
            },
        ),
        (
            {"otlp": {"grpc": {"enabled": False}}},
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://shop-collector.team-a.svc:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
        ),
    ],
)
def test_connection_configmap(receivers: dict, expected: dict) -> None:
    assert _render({"receivers": receivers})["ConfigMap/shop-otlp-connection"]["data"] == expected


def test_labels_and_owner_references() -> None:
    objs = _render(ctx=RenderContext(uid="1234"))
    for obj in objs.values():
        labels = obj["metadata"]["labels"]
        assert labels[api.MANAGED_BY] == "vigil"
        assert labels[api.PART_OF] == "vigil"
        assert labels[api.INSTANCE] == "shop"
        assert labels[api.OWNER_KIND] == "MonitoringStack"
        assert obj["metadata"]["namespace"] == "team-a"
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "vigil.dev/v1alpha1",
                "kind": "MonitoringStack",
                "name": "shop",
                "uid": "1234",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_no_owner_references_offline() -> None:
    assert all("ownerReferences" not in o["metadata"] for o in _render().values())


def test_health_checks_give_the_collector_its_pod_name() -> None:
    prom = sink("prom", signals=["metrics"], prometheus={})
    spec = {
        "sinks": {"names": ["prom"]},
        "healthChecks": [{"name": "api", "service": {"name": "api", "port": 8080}}],
    }
    container = _pod(_render(spec, sinks=(prom,)))["spec"]["containers"][0]
    assert container["env"] == [{"name": "VIGIL_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
