"""Real programs for the test tiers and the demo: a local control plane and the collector."""
