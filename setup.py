"""Build script: everything declarative lives in pyproject.toml; this file only adds C extensions.

Every extension is optional by default: if the compiler or headers are missing, setuptools warns
and the install goes on. The erasure codec then falls back to the pure-Python reedsolo backend,
BN254 G1 multiplication (BLS signing) to its pure-Python code, and keccak256_many to
pycryptodome. That suits a developer's machine, not a release: with the environment variable
``OPERATOR_NODE_REQUIRE_NATIVE=1`` (the Dockerfile sets it) an extension that does not build
fails the build, naming it, instead of shipping the slow fallback without a word.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

REQUIRE_NATIVE = os.environ.get("OPERATOR_NODE_REQUIRE_NATIVE", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
_BUILD_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError)


class BuildExtensions(build_ext):
    """build_ext that, when the extensions are required, says which one failed and what to do."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS as exc:
            if ext.optional:
                raise  # setuptools warns and goes on without it
            raise PlatformError(
                f"the C extension {ext.name} did not build ({exc}), and "
                "OPERATOR_NODE_REQUIRE_NATIVE is set: install a C compiler and the Python "
                "headers (gcc, libc6-dev, python3-dev), or unset the variable to install the "
                "pure-Python fallback"
            ) from exc


setup(
    cmdclass={"build_ext": BuildExtensions},
    ext_modules=[
        Extension(
            "operator_node.erasure._rs",
            sources=["operator_node/erasure/_rs.c"],
            depends=["operator_node/erasure/_extension.h", "operator_node/erasure/_cpu.h"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=not REQUIRE_NATIVE,
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
            optional=not REQUIRE_NATIVE,
        ),
        Extension(
            "operator_node.crypto._bn254",
            sources=["operator_node/crypto/_bn254.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=not REQUIRE_NATIVE,
        ),
        Extension(
            "operator_node.protocol._keccak",
            sources=["operator_node/protocol/_keccak.c"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=not REQUIRE_NATIVE,
        ),
    ],
)
