"""Kubernetes manifests: workloads, their containers, env and secrets."""
