"""Forecasting engine (pure: frames in, frames out)."""
