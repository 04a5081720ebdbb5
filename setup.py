"""Build script: everything declarative lives in pyproject.toml; this file only adds C extensions.

Both extensions are optional: if the compiler or headers are missing, setuptools warns and the
install goes on. The erasure codec then falls back to the pure-Python reedsolo backend, and BN254
G1 multiplication (BLS signing) to its pure-Python code.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "operator_node.erasure._rs",
            sources=["operator_node/erasure/_rs.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
        Extension(
            "operator_node.crypto._bn254",
            sources=["operator_node/crypto/_bn254.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
    ],
)
