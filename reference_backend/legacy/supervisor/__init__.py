"""Legacy supervisor factory."""
