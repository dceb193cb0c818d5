"""The compiled kernels (plain C, no numpy headers); everything else is in pyproject.toml."""

from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so the kernels round as their numpy references do.
FLAGS = ["-O3", "-ffp-contract=off"]

setup(ext_modules=[Extension("dedup._trees", ["dedup/_trees.c"], extra_compile_args=FLAGS),
                   Extension("dedup._linear", ["dedup/_linear.c"], extra_compile_args=FLAGS),
                   Extension("dedup._lines", ["dedup/_lines.c"], extra_compile_args=FLAGS),
                   Extension("dedup._counts", ["dedup/_counts.c"], extra_compile_args=FLAGS),
                   Extension("dedup._layout", ["dedup/_layout.c"], extra_compile_args=FLAGS),
                   Extension("dedup._tokens", ["dedup/_tokens.c"], extra_compile_args=FLAGS),
                   Extension("dedup._minhash", ["dedup/_minhash.c"], extra_compile_args=FLAGS),
                   Extension("dedup._segment", ["dedup/_segment.c"], extra_compile_args=FLAGS),
                   Extension("dedup._pairs", ["dedup/_pairs.c"], extra_compile_args=FLAGS),
                   Extension("dedup._window", ["dedup/_window.c"], extra_compile_args=FLAGS)])
