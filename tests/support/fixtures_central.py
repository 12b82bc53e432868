"""Pytest fixtures for a real central server (uvicorn on a free loopback port)."""
