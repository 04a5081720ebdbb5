"""The container, checked without a Docker engine: a numeric user, a health check that asks the
node at its configured port, the ports its config listens on, a build that fails when a C
extension does, a build context without secrets, and a README ``docker run`` that fits."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path

from support.build import build_extensions

from operator_node.cli import build_parser
from operator_node.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
IMAGE_CONFIG = "/etc/operator-node/config.toml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                            if not line.lstrip().startswith("#")))  # fmt: skip
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(DOCKERFILE):
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def test_container_runs_as_a_fixed_numeric_user() -> None:
    runtime = _stages()[-1]
    users = [args for name, args in runtime if name == "USER"]
    assert users == ["10001:10001"]  # numeric: runAsNonRoot can check it
    setup = " ".join(args for name, args in runtime if name == "RUN")
    assert "--gid 10001" in setup and "--uid 10001" in setup
    assert "-o 10001 -g 10001 -m 0700 /var/lib/operator-node /etc/operator-node/keys" in setup


def test_container_healthcheck_is_the_cli_on_the_baked_config() -> None:
    runtime = dict(_stages()[-1])
    health = runtime["HEALTHCHECK"]
    command = health.partition(" CMD ")[2]
    assert json.loads(command) == [
        "operator-node",
        "healthcheck",
        "--config",
        IMAGE_CONFIG,
    ]
    assert "32005" not in health  # the port comes from the config
    # The command exists and takes those arguments.
    args = build_parser().parse_args(["healthcheck", "--config", IMAGE_CONFIG])
    assert args.command == "healthcheck" and str(args.config) == IMAGE_CONFIG
    # The config it reads is the one the image bakes in, and the one `run` is given.
    assert f"config/docker.toml {IMAGE_CONFIG}" in runtime["COPY"]
    assert IMAGE_CONFIG in runtime["CMD"]


def test_container_exposes_the_ports_its_config_listens_on() -> None:
    config = load_config(REPO / "config" / "docker.toml", environ={})
    assert config.api.separate_ports
    exposed = {int(p) for p in dict(_stages()[-1])["EXPOSE"].split()}
    assert exposed == {config.api.port, config.api.listen_dispersal_port, config.metrics.port}
    assert config.node.data_dir == Path("/var/lib/operator-node")


def test_container_build_requires_the_c_extensions() -> None:
    build = _stages()[0]
    names = [name for name, _ in build]
    env = [args for name, args in build if name == "ENV"]
    assert "OPERATOR_NODE_REQUIRE_NATIVE=1" in env
    wheel = next(i for i, (name, args) in enumerate(build) if "pip wheel" in args)
    assert names.index("ENV") < wheel  # set before the build that compiles them


def test_container_native_build_failure_fails_the_build(tmp_path: Path) -> None:
    """With OPERATOR_NODE_REQUIRE_NATIVE=1 a compiler that fails (CC=false) fails the build,
    naming the extension; without it the build warns and goes on (test_erasure_backend_env)."""
    done = build_extensions(
        tmp_path, CC="false", LDSHARED="false", OPERATOR_NODE_REQUIRE_NATIVE="1"
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "the C extension operator_node." in output
    assert "OPERATOR_NODE_REQUIRE_NATIVE is set: install a C compiler" in output
    assert not list((tmp_path / "lib").rglob("*.so"))


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker's .dockerignore ``patterns`` leave ``path`` (relative) out of the context:
    a pattern matches the path or one of its parent directories; ``**/`` matches any depth."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(
                candidate.rsplit("/", 1)[-1], pattern[3:]
            ):
                return True
    return False


def test_container_context_keeps_what_the_build_copies_and_no_secrets() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        word
        for name, args in _instructions(DOCKERFILE)
        if name == "COPY" and not args.startswith("--from")
        for word in args.split()[:-1]
    ]
    tracked = subprocess.run(
        ["git", "ls-files", *copied], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, copied
    kept_out = [path for path in tracked if _ignored(path, patterns)]
    assert kept_out == []
    for secret in ("keys/op.bls.key.json", "node/keys/bls.password", "op.ecdsa.key.json", "data"):
        assert _ignored(secret, patterns), secret
    for local in (".venv/bin/python", "node_modules/x", "tests/conftest.py", ".git/HEAD"):
        assert _ignored(local, patterns), local


def test_container_readme_docker_run_is_complete() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### In a container") : readme.index("### Under systemd")]
    run = re.search(r"docker run .*?operator-node\n", section, re.DOTALL)
    assert run is not None
    command = run.group(0)
    config = load_config(REPO / "config" / "docker.toml", environ={})
    for port in (config.api.port, config.api.listen_dispersal_port, config.metrics.port):
        assert f":{port}:{port}" in command or f"-p {port}:{port}" in command, port
    assert "--user 10001:10001" in command
    assert f":{IMAGE_CONFIG}:ro" in command and ":/etc/operator-node/keys:ro" in command
    assert ":/var/lib/operator-node" in command
    assert "chown -R 10001:10001" in section and "chmod 0600" in section
    for key in ("bls_keystore", "bls_password_file", "rpc_url", "registry_coordinator"):
        assert key in section, key
