"""Adapters between triagebot's core and the outside world: mention sources and surfaces."""
