"""microdnb: a tiny GPT and the Dynamic Notes Bus, from scratch.

The scalar engine (`autograd`, `model`, `snc`, `bus`, `train`, `sample`) follows
Karpathy's microgpt and its Dynamic Notes Bus fork line for line, so
`python -m microdnb replicate` prints exactly what the reference script prints.
"""
__version__ = "0.1.0"
