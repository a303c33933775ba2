# syntax=docker/dockerfile:1
# Kopa API image. The image has no PostgreSQL of its own: set DATABASE_URL (compose.yaml
# starts one). CI checks this file with hadolint and runs the release binary exactly as
# ENTRYPOINT/CMD/ENV below run it (.ci/image-smoke).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY migrations ./migrations
COPY build.rs ./
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 kopa \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app kopa
WORKDIR /app
COPY --from=build /src/target/release/kopa /usr/local/bin/kopa
COPY seeds ./seeds
# By number, not name: a runtime enforcing runAsNonRoot (Kubernetes) can only verify a numeric
# user, and the id means the same on the host whatever its /etc/passwd says (hadolint DL3066).
USER 10001:10001
ENV KOPA_BIND=0.0.0.0:8080 \
    KOPA_LOG=info
EXPOSE 8080
# `kopa healthcheck` probes /healthz itself, so the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["kopa", "healthcheck"]
ENTRYPOINT ["kopa"]
CMD ["serve"]
