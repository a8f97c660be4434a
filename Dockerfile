# syntax=docker/dockerfile:1
# Production image: the joinery binary without the embedded demo database,
# on distroless (CA certificates, tzdata, non-root user, no shell).
#
#   docker build -t joinery --build-arg VERSION=$(git describe --always) .
#   docker run --rm -e JOINERY_DSN='reporter:...@tcp(db:3306)/app' \
#     -v $PWD/config.yaml:/etc/joinery/config.yaml:ro -v $PWD/reports:/reports joinery

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY cmd ./cmd
COPY jobs ./jobs
COPY queries ./queries
COPY output ./output
ARG VERSION=dev
# The reports folder of the final image, owned by its non-root user.
RUN mkdir -p /out/reports
# Only the packages the binary imports are fetched: the demo engine is not.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/joinery ./cmd/joinery

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/joinery /usr/local/bin/joinery
COPY --from=build --chown=nonroot:nonroot /out/reports /reports
# The configuration is mounted here; give output_dir as an absolute path
# (for example /reports) and mount a writable volume there.
ENV JOINERY_CONFIG=/etc/joinery/config.yaml
WORKDIR /reports
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/joinery"]
CMD ["schedule"]
