"""mig: hot schema migrations for live SQLite databases."""

__all__: list[str] = []
