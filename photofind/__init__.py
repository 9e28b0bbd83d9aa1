"""photofind: find duplicate and similar photos. Imports neither Qt nor torch."""

__version__ = "0.1.0"
