"""Pydantic models of Vigil's custom resources: the single source of truth for the CRDs.

One module per kind (sink, stack, policy) and the pieces they share; import from those modules.
(Nothing is imported here: vigil.destinations builds on models.base and models.common, and
models.sink on vigil.destinations.)
"""
