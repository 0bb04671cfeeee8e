"""The embedded classical perception backend: CPU only, no weights."""
