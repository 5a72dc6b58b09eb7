"""Pydantic models of Vigil's custom resources: the single source of truth for the CRDs."""

from vigil.models.policy import AlertPolicy, AlertPolicySpec, AlertPolicyStatus
from vigil.models.sink import TelemetrySink, TelemetrySinkSpec, TelemetrySinkStatus
from vigil.models.stack import MonitoringStack, MonitoringStackSpec, MonitoringStackStatus

__all__ = [
    "AlertPolicy",
    "AlertPolicySpec",
    "AlertPolicyStatus",
    "MonitoringStack",
    "MonitoringStackSpec",
    "MonitoringStackStatus",
    "TelemetrySink",
    "TelemetrySinkSpec",
    "TelemetrySinkStatus",
]
