# operator-node container image. A complete `docker run` (config, keys, password files, ports,
# data volume) is in README.md, "In a container".
#   docker build -t operator-node .
# The install is the Makefile's: the same pyproject.toml, the same pins, the same C build.

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY operator_node ./operator_node
# A C extension that does not build fails the image build (setup.py), rather than shipping the
# pure-Python fallbacks, which are many times slower, without a word.
ENV OPERATOR_NODE_REQUIRE_NATIVE=1
# Wheels for the project (with its C extensions) and every pinned dependency.
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
# A fixed numeric user and group, 10001:10001: Kubernetes' runAsNonRoot can check a number (not a
# name), and bind-mounted keys can be chowned to it on the host before the container exists.
RUN groupadd --system --gid 10001 operator-node \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/operator-node \
      --shell /usr/sbin/nologin operator-node \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/operator-node /etc/operator-node/keys
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels operator-node \
 && rm -rf /wheels
COPY config/docker.toml /etc/operator-node/config.toml
USER 10001:10001
WORKDIR /var/lib/operator-node
VOLUME ["/var/lib/operator-node", "/etc/operator-node/keys"]
# 32004: dispersal (StoreChunks; open it to the disperser only); 32005: retrieval and the /eigen
# node API (public); 9091: Prometheus metrics (to your Prometheus only). See config/docker.toml.
EXPOSE 32004 32005 9091
# Healthy only when /eigen/node/health answers 200 on the configured [api] port: 206 (the chain
# or dispersal Down, so the node is not attesting) and no answer are unhealthy, with the reason in
# `docker inspect`. Exit codes 0 and 1, as Docker expects.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["operator-node", "healthcheck", "--config", "/etc/operator-node/config.toml"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["operator-node"]
CMD ["run", "--config", "/etc/operator-node/config.toml"]
