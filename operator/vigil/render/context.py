"""What a renderer knows besides the models: operator defaults, versions of referenced objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vigil.render.components import DEFAULT_COLLECTOR_IMAGE


@dataclass(frozen=True)
class RenderContext:
    """Inputs that do not come from the custom resource itself."""

    prometheus_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels Prometheus selects ServiceMonitors/PrometheusRules by, unless a stack sets its own."""
    ref_versions: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """resourceVersion of each referenced (kind, name); a change rolls the collector."""
    uid: str | None = None
    """UID of the owning custom resource; None offline (no ownerReferences)."""
    collector_image: str = DEFAULT_COLLECTOR_IMAGE
    """Image of collectors whose stack names none (the operator's --collector-image)."""
    cluster_rule_namespaces: frozenset[str] = frozenset()
    """Namespaces whose stacks may install rule bundles with scope cluster (every namespace's series)."""
