# syntax=docker/dockerfile:1
# Production image: the joinery binary without the embedded demo database,
# on distroless (CA certificates, tzdata, non-root user, no shell).
#
#   docker build -t joinery --build-arg VERSION=$(git describe --always) .
#   docker run --rm --stop-timeout 30 -e JOINERY_DSN='reporter:...@tcp(db:3306)/app' \
#     -v $PWD/config.yaml:/etc/joinery/config.yaml:ro -v joinery-reports:/reports joinery
#
# On SIGTERM, schedule gives running jobs --grace (20 s) to finish, then
# cancels them, which takes a few seconds more. Docker sends SIGKILL after
# 10 s by default: give it 30 (--stop-timeout 30, docker stop -t 30, or
# Compose's stop_grace_period: 30s), and keep that at least 10 s above
# --grace; Kubernetes' terminationGracePeriodSeconds likewise (default 30).
# SIGHUP (docker kill -s HUP) reloads the configuration.
#
# The reports go to /reports, owned by the non-root user (uid 65532): a new
# named volume takes that owner; a host folder must be writable by 65532 (or
# run with --user). cmd/joinery's TestImage runs this image's entrypoint,
# user and folders with the shipped config.yaml, without Docker.

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
# The configuration is mounted here, read-only if you like.
ENV JOINERY_CONFIG=/etc/joinery/config.yaml
# The shipped config.yaml reads it (output_dir: ${JOINERY_OUTPUT_DIR:-reports});
# a config of your own needs such a line too, or an absolute output_dir.
ENV JOINERY_OUTPUT_DIR=/reports
WORKDIR /reports
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/joinery"]
CMD ["schedule"]
