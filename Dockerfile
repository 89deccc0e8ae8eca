# duogate in a container: the binary only, as a non-root user.
#
#   docker build -t duogate .
#   docker run -d -p 8200:8200 \
#     -v /srv/duogate/etc:/etc/duogate:ro -v /srv/duogate/data:/var/lib/duogate \
#     duogate
#
# /etc/duogate/duogate.toml is the configuration (packaging/duogate.example.toml is a commented
# start); /var/lib/duogate holds the SQLite database when you use one. The container listens
# on 0.0.0.0:8200, so the configuration must give TLS (tls_cert_file, tls_key_file) or say
# `tls_disable = true` when TLS ends at a proxy in front of it.

# --- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p duogate \
 && install -D -m 0755 target/release/duogate /out/duogate

# --- run -----------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system duogate \
 && useradd --system --gid duogate --home-dir /var/lib/duogate --shell /usr/sbin/nologin duogate \
 && install -d -o duogate -g duogate -m 0700 /var/lib/duogate \
 && install -d -m 0755 /etc/duogate
COPY --from=build /out/duogate /usr/local/bin/duogate
USER duogate:duogate
WORKDIR /var/lib/duogate
VOLUME ["/var/lib/duogate"]
EXPOSE 8200
# `duogate health` asks /v1/duogate/health: exit 0 when the service says "ok" (a seal problem or
# an unreachable service fails the check). With TLS, add --addr https://127.0.0.1:8200 and
# --ca-file (or DUOGATE_CACERT) in the image's environment.
ENV DUOGATE_ADDR=http://127.0.0.1:8200
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/duogate", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/duogate", "serve"]
CMD ["--config", "/etc/duogate/duogate.toml"]
