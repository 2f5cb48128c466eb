# Portcullis: build with the official Rust image, run on Debian slim as a non-root user.
#   docker build -t portcullis .
#   docker run -p 8080:8080 -v portcullis-data:/data \
#     -e PORTCULLIS_ISSUER=http://localhost:8080 -e PORTCULLIS_ADMIN_TOKEN=… portcullis

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The sqlx::migrate! macro embeds migrations/ at compile time, so it is part of the context.
RUN cargo build --release --locked \
 && install -m 0755 target/release/portcullis /usr/local/bin/portcullis

FROM debian:bookworm-slim
# ca-certificates: TLS to Postgres and to client jwks_uri endpoints.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin portcullis \
 && mkdir -p /data \
 && chown portcullis:portcullis /data
COPY --from=build /usr/local/bin/portcullis /usr/local/bin/portcullis

# The SQLite database and its generated key-encryption key (portcullis.db.kek) live in /data.
# Set PORTCULLIS_ISSUER to the public URL clients use; the default only suits a local trial.
ENV PORTCULLIS_BIND=0.0.0.0:8080 \
    PORTCULLIS_ISSUER=http://localhost:8080 \
    PORTCULLIS_DATABASE_URL=sqlite:///data/portcullis.db
VOLUME ["/data"]
WORKDIR /data
USER portcullis
EXPOSE 8080
# No HEALTHCHECK: the slim image has no HTTP client. Probe GET /healthz and /readyz from
# the orchestrator instead.
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]
