"""Mosquitto configuration for a site's floor bus: templates, ACL and password file."""
