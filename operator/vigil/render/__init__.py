"""Pure renderers: models in, complete Kubernetes objects (plain dicts) out."""
