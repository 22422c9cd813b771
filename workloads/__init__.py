"""Workloads: PyTorch models traced into hwsim traces, bundled real and shape-only models."""
