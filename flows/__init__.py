"""Orchestration, I/O, tracking and the command line (the only layer that touches files)."""
