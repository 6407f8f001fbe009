"""Agents and their execution engines."""
