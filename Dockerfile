# Static ghprune on distroless, as the non-root user 65532.
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t ghprune .
#
# Base images are pinned by the digest of their multi-arch index, so a rebuild
# of an old commit gets the same bases and a moved tag changes nothing. The tag
# stays beside the digest for people and for Renovate/Dependabot, which should
# bump both together (their docker managers understand tag@digest).
# The digests were copied from public, dated pins of the same tags in other
# projects, not resolved against the registries here:
#   golang:1.26.9 (the 2026-10-08 Go security release), as of 2026-10-09;
#   gcr.io/distroless/static-debian12:nonroot, as of 2026-08-26, unchanged
#   on 2026-10-05.
# Check or refresh them with `crane digest golang:1.26.9` (or `docker buildx
# imagetools inspect`), and the same for the distroless tag.
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
# Numeric, not nonroot:nonroot: the kubelet can only check runAsNonRoot
# against a numeric user, and refuses to start a container whose image names
# its user. 65532 is distroless's nonroot; deploy/ sets the same ids.
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/ghprune"]
CMD ["serve", "-config", "/etc/ghprune/ghprune.yaml"]
