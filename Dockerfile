# operator-node container image.
#   docker build -t operator-node .
#   docker run -d --name operator-node -p 32005:32005 -p 9091:9091 \
#     -v operator-node-data:/var/lib/operator-node -v "$PWD/keys:/etc/operator-node/keys:ro" \
#     -e OPERATOR_NODE__CHAIN__RPC_URL=... operator-node
# The install is the Makefile's: the same pyproject.toml, the same pins, the same C build.

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY operator_node ./operator_node
# Wheels for the project (with its C extension) and every pinned dependency.
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system operator-node \
 && useradd --system --gid operator-node --home-dir /var/lib/operator-node --shell /usr/sbin/nologin operator-node \
 && install -d -o operator-node -g operator-node -m 0700 /var/lib/operator-node /etc/operator-node/keys
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels operator-node \
 && rm -rf /wheels
COPY config/docker.toml /etc/operator-node/config.toml
USER operator-node
WORKDIR /var/lib/operator-node
VOLUME ["/var/lib/operator-node", "/etc/operator-node/keys"]
# 32005: dispersal, retrieval and /eigen API; 9091: Prometheus metrics.
EXPOSE 32005 9091
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:32005/eigen/node/health', timeout=4).status in (200, 206) else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["operator-node"]
CMD ["run", "--config", "/etc/operator-node/config.toml"]
