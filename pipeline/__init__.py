"""curriculum's pipeline: records, config, model backends and the DARC/GASP steps of a build."""

__version__ = "0.1.0"
