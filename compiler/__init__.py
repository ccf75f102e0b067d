"""trtdeploy: a declarative deployment compiler for TensorRT-LLM.

The pipeline runs one way: load -> resolve -> validate -> plan -> render -> run.
See docs/architecture.md for the map of modules.
"""

__version__ = "0.1.0"
