"""Vigil: observability for Kubernetes, declared as TelemetrySink, MonitoringStack, AlertPolicy."""

__version__ = "0.1.0"
