"""The collector's objects: config, Deployment, Service, ServiceAccount, PDB, connection."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vigil import api
from vigil.models.stack import MonitoringStack
from vigil.render import components as c
from vigil.render import meta
from vigil.render.collector_config import CONFIG_DIR, CONFIG_FILE, CollectorConfig
from vigil.render.context import RenderContext

COMPONENT = "collector"
CONTAINER = "otel-collector"
UID = 10001


def config_hash(config: CollectorConfig, ctx: RenderContext) -> str:
    """Hash of everything that must restart the collector: config, env, mounts, Secret versions."""
    payload = {
        "config": config.text,
        "env": [e.to_k8s() for e in config.env],
        "mounts": [m.__dict__ for m in config.mounts],
        "refs": [[k, n, ctx.ref_versions.get((k, n), "")] for k, n in config.referenced],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _ports(stack: MonitoringStack, config: CollectorConfig) -> list[tuple[str, int]]:
    otlp = stack.spec.receivers.otlp
    ports = []
    if otlp.grpc.enabled:
        ports.append(("otlp-grpc", otlp.grpc.port))
    if otlp.http.enabled:
        ports.append(("otlp-http", otlp.http.port))
    ports.append(("metrics", c.METRICS_PORT))
    ports += [(scrape_port_name(scrape.port), scrape.port) for _, scrape in config.scrapes]
    return ports


def scrape_port_name(port: int) -> str:
    """Service/container port name of a sink Prometheus scrapes (IANA names are at most 15 chars)."""
    return f"prom-{port}"


def _volumes(config: CollectorConfig, stack: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [
        {
            "name": "config",
            "configMap": {
                "name": meta.collector_config_name(stack),
                "items": [{"key": CONFIG_FILE, "path": CONFIG_FILE}],
            },
        }
    ]
    mounts: list[dict[str, Any]] = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}]
    for m in config.mounts:
        if m.source_kind == "emptyDir":
            volumes.append({"name": m.volume, "emptyDir": {}})
            mounts.append({"name": m.volume, "mountPath": m.path})
            continue
        items = [{"key": m.key, "path": m.file_name}]
        if m.source_kind == "Secret":
            source = {"secret": {"secretName": m.source_name, "items": items}}
        else:
            source = {"configMap": {"name": m.source_name, "items": items}}
        volumes.append({"name": m.volume, **source})
        mounts.append({"name": m.volume, "mountPath": m.path, "readOnly": True})
    return volumes, mounts


def _pod_spec(stack: MonitoringStack, config: CollectorConfig, ctx: RenderContext) -> dict[str, Any]:
    col = stack.spec.collector
    name = stack.metadata.name
    volumes, mounts = _volumes(config, name)
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": col.image or ctx.collector_image,
        "imagePullPolicy": col.image_pull_policy,
        "args": [f"--config={CONFIG_DIR}/{CONFIG_FILE}"],
        "ports": [
            {"name": n, "containerPort": p, "protocol": "TCP"}
            for n, p in [*_ports(stack, config), ("health", c.HEALTH_PORT)]
        ],
        "env": [e.to_k8s() for e in config.env],
        "resources": col.resources.model_dump(by_alias=True),
        "volumeMounts": mounts,
        "livenessProbe": {
            "httpGet": {"path": "/", "port": "health"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/", "port": "health"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if not container["env"]:
        del container["env"]
    pod: dict[str, Any] = {
        "serviceAccountName": meta.collector_name(name),
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if col.node_selector:
        pod["nodeSelector"] = dict(col.node_selector)
    if col.tolerations:
        pod["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in col.tolerations]
    if col.affinity is not None:
        pod["affinity"] = col.affinity.model_dump(by_alias=True, exclude_defaults=True)
    if col.priority_class_name:
        pod["priorityClassName"] = col.priority_class_name
    return pod


def render_collector(stack: MonitoringStack, config: CollectorConfig, ctx: RenderContext) -> list[dict[str, Any]]:
    """ConfigMap, Deployment, Service, ServiceAccount, connection ConfigMap (+ PDB if replicas > 1),
    running the already built ``config``."""
    owner = meta.owner_of(stack, ctx.uid)
    name = stack.metadata.name
    deploy_name = meta.collector_name(name)
    selector = owner.selector_labels(COMPONENT)
    col = stack.spec.collector

    def md(obj_name: str, **kw: Any) -> dict[str, Any]:
        return meta.metadata(owner, meta.ObjectMetaSpec(obj_name, COMPONENT, extra_labels=selector, **kw))

    pod_labels = {**col.pod_labels, **owner.labels(COMPONENT), **selector}
    pod_annotations = {**col.pod_annotations, api.CONFIG_HASH: config_hash(config, ctx)}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": md(deploy_name),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": md(meta.collector_config_name(name)),
            "data": {CONFIG_FILE: config.text},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": md(deploy_name),
            "spec": {
                "replicas": col.replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": selector},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                    "spec": _pod_spec(stack, config, ctx),
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": md(deploy_name),
            "spec": {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"} for n, p in _ports(stack, config)],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta.metadata(owner, meta.ObjectMetaSpec(meta.connection_name(name), "connection")),
            "data": connection_settings(stack),
        },
    ]
    if col.replicas > 1:
        objects.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": md(deploy_name),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            }
        )
    return objects


def connection_settings(stack: MonitoringStack) -> dict[str, str]:
    """OTEL_EXPORTER_OTLP_* for apps in the namespace (``envFrom`` the connection ConfigMap)."""
    otlp = stack.spec.receivers.otlp
    host = f"{meta.collector_name(stack.metadata.name)}.{stack.metadata.namespace or 'default'}.svc"
    if otlp.grpc.enabled:
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{otlp.grpc.port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{otlp.http.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
