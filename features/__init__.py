"""Pure feature code: source adapters, the trade panel, features and concentration indices."""
