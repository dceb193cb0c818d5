"""The compiled kernels (plain C, no numpy headers); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dedup._trees", ["dedup/_trees.c"], extra_compile_args=["-O3"])])
