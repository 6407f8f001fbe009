"""Locust golden-path users, load shapes and the one-command runner."""
