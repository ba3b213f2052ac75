# Tessera container image: build with cargo, run as a non-root user from a
# slim Debian. Mount your config.yaml, log4rs.yaml and keys at /etc/tessera.
#
#   docker build -t tessera .
#   docker run -p 8080:8080 -v "$PWD/deploy:/etc/tessera:ro" \
#     -e TESSERA__REDIS__URL=redis://redis:6379 tessera

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Dependency layer: compiled once from the manifest and lock file alone, so
# editing src/ does not rebuild the dependencies.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > benches/hot_path.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin tessera \
 && rm -rf src
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin tessera

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/tessera tessera \
 && mkdir -p /etc/tessera
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
COPY config.yaml log4rs.yaml /etc/tessera/
# Log files go under the working directory (logs/), which the user owns.
WORKDIR /var/lib/tessera
USER tessera
ENV TESSERA_ENV=prod \
    TESSERA_CONFIG=/etc/tessera/config.yaml \
    TESSERA__LOGGING__CONFIG=/etc/tessera/log4rs.yaml \
    TESSERA__SERVER__LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["tessera"]
CMD ["serve"]
