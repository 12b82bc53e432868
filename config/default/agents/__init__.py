"""Default agent settings files (TOML); a package so the files ship as package data."""
