"""The virtual board (placeholder so the package list in pyproject.toml installs; issue 8 vboard work fills it)."""
