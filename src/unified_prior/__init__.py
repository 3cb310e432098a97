"""unified-prior: a unified EDM diffusion prior trainer whose configuration is the truth,
and a doctor that reads any run and says whether it did what its configuration claimed."""

__version__ = "0.1.0"
