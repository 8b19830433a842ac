# Static ghprune on distroless, as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ghprune ./cmd/ghprune

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ghprune /ghprune
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/ghprune"]
CMD ["serve", "-config", "/etc/ghprune/ghprune.yaml"]
