"""Build script: everything declarative lives in pyproject.toml; this file only adds C extensions.

Every extension is optional: if the compiler or headers are missing, setuptools warns and the
install goes on. The erasure codec then falls back to the pure-Python reedsolo backend, BN254
G1 multiplication (BLS signing) to its pure-Python code, and keccak256_many to pycryptodome.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "operator_node.erasure._rs",
            sources=["operator_node/erasure/_rs.c"],
            depends=["operator_node/erasure/_extension.h", "operator_node/erasure/_cpu.h"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
        Extension(
            "operator_node.erasure._gf16",
            sources=["operator_node/erasure/_gf16.c"],
            depends=[
                "operator_node/erasure/_extension.h",
                "operator_node/erasure/_cpu.h",
                "operator_node/erasure/_gf16_ops256.h",
                "operator_node/erasure/_gf16_transform.h",
            ],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
        Extension(
            "operator_node.crypto._bn254",
            sources=["operator_node/crypto/_bn254.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
        Extension(
            "operator_node.protocol._keccak",
            sources=["operator_node/protocol/_keccak.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        ),
    ],
)
