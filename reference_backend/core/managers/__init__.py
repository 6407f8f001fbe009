"""Managers: kept as a redirect for code that imported the factory from here."""
