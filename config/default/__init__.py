"""Default site data (TOML); a package so the files ship as package data."""
