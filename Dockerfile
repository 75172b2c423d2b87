# The Accord operator image: a static binary on distroless, running as non-root.
# Built by CI elsewhere (this project's development machines have no container runtime):
#   docker build -t ghcr.io/accord-dev/accord:0.1.0 .
# The chart's default image is ghcr.io/accord-dev/accord:<appVersion>.

FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl && apt-get update && apt-get install -y --no-install-recommends musl-tools
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY e2e/Cargo.toml e2e/Cargo.toml
COPY crates crates
COPY e2e/src e2e/src
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin accord \
 && cp target/x86_64-unknown-linux-musl/release/accord /accord

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /accord /accord
USER 65532:65532
EXPOSE 8080 9443
ENTRYPOINT ["/accord"]
