"""Reproductions of published numbers (the roof layer: it may use every other part of hwsim)."""
