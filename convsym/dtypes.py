"""Plain constants of the cost model: bytes per element of the dtypes convsym's memory figures
know, and the counting tools it models (no SymPy: the CLI reads them to build its parser before
any command imports the cost model)."""

from __future__ import annotations

__all__ = ["DTYPE_SIZES", "TOOLS", "TOOL_VERSIONS"]

#: Bytes per element of the dtypes ``Cost.memory_bytes`` knows.
DTYPE_SIZES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int8": 1,
    "uint8": 1,
}

#: The counting tools ``Cost.as_reported_by`` knows, and the versions whose source was read and
#: whose figures the crosscheck tests compare against on this project's layer table.
TOOL_VERSIONS = {
    "fvcore": "0.1.5.post20221221",
    "ptflops": "0.7.5",
    "thop": "0.1.1.post2209072238",
    "torchinfo": "1.8.0",
    "deepspeed": "0.19.8",
    "torch": "2.13.0",
}
TOOLS = tuple(TOOL_VERSIONS)
