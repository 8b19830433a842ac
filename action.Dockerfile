# The image of the GitHub Action (action.yml): the binary of Dockerfile, as
# root. GitHub runs Docker actions as the image's user and mounts the
# workspace and the step's files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY)
# owned by the runner: its docs say Docker actions must run as the default
# user, root. The Kubernetes image (Dockerfile) runs as 65532.
#
# The base images are Dockerfile's pins, digest for digest; a test in
# deploy/ keeps them the same.
FROM golang:1.26.9@sha256:f1f0bcc2c524a3ced375fcb4d1ecb7aa371aa7070e112599aaca45cc02d0101b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The image has no .git (see .dockerignore), so the commit comes in as a
# build argument; internal/version reports "devel"/"unknown" without them.
ARG VERSION=devel
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/ghprune/ghprune/internal/version.version=${VERSION} -X github.com/ghprune/ghprune/internal/version.commit=${COMMIT}" \
      -o /out/ghprune ./cmd/ghprune

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
ARG VERSION=devel
ARG COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/ghprune/ghprune" \
      org.opencontainers.image.title="ghprune" \
      org.opencontainers.image.description="Retention daemon for GitHub Packages: version-retention policies, journaled deletes, restore" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/ghprune /ghprune
# The base is distroless's nonroot variant, whose user is 65532: root is
# named explicitly, for the reason above.
USER 0:0
ENTRYPOINT ["/ghprune"]
