"""Rendering only: text tables, diagrams, JSON.  The only package (with cli.py) that
produces output, and it writes to the stream it is given."""
