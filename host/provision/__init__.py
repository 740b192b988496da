"""Provisioning: door directories, users and credentials, the local event history."""
