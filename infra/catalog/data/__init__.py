"""Catalog data files (YAML). A package only so that the YAML ships as package data."""
