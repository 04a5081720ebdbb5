"""Build script: everything declarative lives in pyproject.toml; this file only adds C extensions."""

from setuptools import setup

setup()
