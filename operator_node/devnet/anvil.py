"""Start and stop anvil (Foundry's local Ethereum node) as a real subprocess on loopback.

Used by the chain tests' fixture and by ``operator-node devnet``. The binary comes from the npm
package ``@foundry-rs/anvil-linux-amd64`` pinned in package.json (``npm ci``), or from
``$OPERATOR_NODE_ANVIL`` / ``PATH`` when that is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from operator_node.devnet.ports import free_port
from operator_node.errors import OperatorNodeError

_NPM_BINARY = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
_REPO_ROOT = Path(__file__).resolve().parents[2]

# anvil's default mnemonic derives these; they are public test keys, funded on every anvil.
DEV_PRIVATE_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)


class AnvilError(OperatorNodeError):
    """anvil could not be found, did not start, or did not answer in time."""


def find_anvil() -> Path:
    """The anvil binary: ``$OPERATOR_NODE_ANVIL``, the npm package, or ``anvil`` on PATH.

    Raises :class:`AnvilError` naming what to install when none is found.
    """
    explicit = os.environ.get("OPERATOR_NODE_ANVIL")
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), _REPO_ROOT):
        candidate = base / _NPM_BINARY
        if candidate.is_file():
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise AnvilError(
        "anvil not found: run `npm ci` (package.json pins @foundry-rs/anvil-linux-amd64) "
        "or set OPERATOR_NODE_ANVIL to the binary"
    )


@dataclass
class Anvil:
    """One anvil process. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    ``block_time`` of 0 mines a block per transaction (anvil's automine).
    """

    chain_id: int = 31337
    port: int = 0
    host: str = "127.0.0.1"
    block_time: float = 0.0
    startup_timeout: float = 20.0
    extra_args: tuple[str, ...] = ()
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    # A file, not a pipe: nobody reads anvil's stderr while it runs, and a full pipe would block it.
    _stderr: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def rpc_url(self) -> str:
        """The HTTP JSON-RPC endpoint."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Anvil:
        """Start anvil and wait until it answers ``eth_chainId``; returns self.

        Raises :class:`AnvilError` if it exits or does not answer within ``startup_timeout``.
        """
        if self._process is not None:
            raise AnvilError("anvil already started")
        if self.port == 0:
            self.port = free_port(self.host)
        args = [str(find_anvil()), "--host", self.host, "--port", str(self.port)]
        args += ["--chain-id", str(self.chain_id), "--silent"]
        if self.block_time > 0:
            args += ["--block-time", str(self.block_time)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [*args, *self.extra_args], stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._read_stderr()
                self.stop()
                raise AnvilError(f"anvil exited at start: {err.strip()[-500:]}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.rpc_url} within {self.startup_timeout}s")

    def _answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        # The URL is always http://<loopback>:<port> built above, never user input.
        request = urllib.request.Request(  # noqa: S310
            self.rpc_url, body.encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:  # noqa: S310
                return "result" in json.loads(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate anvil (SIGTERM, then SIGKILL after ``timeout``) and reap it. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def mine(w3: AsyncWeb3[Any], blocks: int) -> None:
    """Mine ``blocks`` empty blocks at once (``anvil_mine``); nothing for 0 or fewer."""
    if blocks > 0:
        await w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(blocks)])
