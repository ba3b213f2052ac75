# Tessera container image: build with cargo, run as a non-root user from a
# slim Debian. Mount your config.yaml, log4rs.yaml and keys at /etc/tessera
# (see docs/deploy.md). The image logs JSON lines to stdout
# (log4rs.container.yaml), no files.
#
#   docker build --build-arg TESSERA_GIT_SHA="$(git rev-parse --short=12 HEAD)" -t tessera .
#   docker run -p 8080:8080 -v "$PWD/deploy:/etc/tessera:ro" \
#     -e TESSERA__REDIS__URL=redis://redis:6379 tessera
#
# scripts/container-check.sh lints this file and runs its exact command line
# (ENV, WORKDIR, USER, ENTRYPOINT, CMD, HEALTHCHECK) outside a container.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Dependency layer: compiled once from the manifest, lock file and build
# script alone, so editing src/ does not rebuild the dependencies.
# The workspace's other member (client/: tessera-client) is there as a
# manifest and an empty library, so that cargo can load the workspace.
COPY Cargo.toml Cargo.lock build.rs ./
COPY client/Cargo.toml ./client/
RUN mkdir -p src benches client/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > benches/hot_path.rs \
 && touch src/lib.rs client/src/lib.rs \
 && cargo build --release --locked --bin tessera \
 && rm -rf src client/src
# No .git in the build context: the commit for tessera_build_info comes in
# as a build argument.
ARG TESSERA_GIT_SHA=unknown
ENV TESSERA_GIT_SHA=${TESSERA_GIT_SHA}
COPY src ./src
COPY client/src ./client/src
# [profile.release] strips symbols (strip = true) and uses thin LTO.
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin tessera

FROM debian:bookworm-slim
# ca-certificates: the system roots for rediss:// without redis.tls.ca_file.
# The HEALTHCHECK is the binary itself (`tessera healthcheck`): no curl.
# Versions come from the pinned base image's Debian release, so DL3008
# (pin apt versions) is waived.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/tessera tessera \
 && mkdir -p /etc/tessera
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
COPY config.yaml log4rs.yaml log4rs.container.yaml /etc/tessera/
# The working directory holds nothing the container profile writes; with
# TESSERA__LOGGING__CONFIG=/etc/tessera/log4rs.yaml log files go under logs/
# here, which the user owns.
WORKDIR /var/lib/tessera
USER 10001:10001
# No malloc tuning: Argon2id runs on fixed hashing threads that reuse their
# working memory (scripts/malloc-experiment.sh shows MALLOC_MMAP_THRESHOLD_
# changes nothing, BENCHMARKS.md).
ENV TESSERA_ENV=prod \
    TESSERA_CONFIG=/etc/tessera/config.yaml \
    TESSERA__LOGGING__CONFIG=/etc/tessera/log4rs.container.yaml \
    TESSERA__SERVER__LISTEN=0.0.0.0:8080
EXPOSE 8080
# Liveness only: /healthz answers while the process serves. Readiness
# (/readyz, Redis reachable) belongs to the orchestrator's traffic routing,
# not to restarts.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["tessera", "healthcheck", "--live"]
ENTRYPOINT ["tessera"]
CMD ["serve"]
