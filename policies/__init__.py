"""The llm-serving CrossGuard policy pack (entry point: __main__.py; policies: pack.py)."""
