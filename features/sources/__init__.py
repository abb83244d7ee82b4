"""Source adapters: one per raw format, each returning a validated ISO3 frame."""
