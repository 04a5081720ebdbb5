"""Build script: everything declarative lives in pyproject.toml; this file only adds C extensions.

The erasure codec's kernels are optional: if the compiler or headers are missing, setuptools warns
and the install goes on, and the codec falls back to the pure-Python reedsolo backend.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "operator_node.erasure._rs",
            sources=["operator_node/erasure/_rs.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        )
    ],
)
