"""Report builder: renders what the flows hand it."""
