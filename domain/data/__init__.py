"""Data files shipped with the node (the gazetteer of communes: see README.md)."""
