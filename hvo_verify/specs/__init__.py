"""Spec files: parsed once at the edge into frozen objects with precise errors."""
