"""Solving and verdicts: the only package besides encode/ that imports z3."""
