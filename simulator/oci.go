package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// Media types of the manifests the registry serves. An index or manifest
// list is served only to a client whose Accept lists its type, as ghcr.io
// does; image manifests are served whatever the Accept.
const (
	// MediaOCIIndex is an OCI image index: a multi-platform image.
	MediaOCIIndex = "application/vnd.oci.image.index.v1+json"
	// MediaOCIManifest is an OCI image manifest; also what a seeded manifest
	// without a mediaType field of its own is taken to be.
	MediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	// MediaDockerList is a Docker manifest list, the Docker index.
	MediaDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// MediaDockerManifest is a Docker image manifest, schema 2.
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaOCIConfig is the config blob of an OCI image.
	MediaOCIConfig = "application/vnd.oci.image.config.v1+json"
)

// Media types only the helpers below write.
const (
	mediaDockerConfig = "application/vnd.docker.container.image.v1+json"
	mediaDockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaOCILayer     = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaOCIEmpty     = "application/vnd.oci.empty.v1+json"
	mediaOctetStream  = "application/octet-stream"
)

// Digest is the content address of b as registries write it: "sha256:<hex>".
// A container version's name is the Digest of its manifest's exact bytes.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Descriptor points at a blob or manifest, as in the "config", "layers",
// "manifests" and "subject" fields of OCI manifests and indexes.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	// Platform is set on the children of an index; buildx attestations carry
	// unknown/unknown.
	Platform *Platform `json:"platform,omitempty"`
	// Annotations on an index child tie a buildx attestation to its image:
	// "vnd.docker.reference.type": "attestation-manifest" and
	// "vnd.docker.reference.digest": the platform manifest's digest.
	Annotations map[string]string `json:"annotations,omitempty"`
	// ArtifactType is set on descriptors of referrers (signatures, SBOMs).
	ArtifactType string `json:"artifactType,omitempty"`
}

// Platform is the os/architecture an index child runs on.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// manifestJSON is an image manifest (OCI or Docker schema 2); its field
// order is the order the bytes come out in, so equal inputs give equal
// digests.
type manifestJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	ArtifactType  string       `json:"artifactType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
	Subject       *Descriptor  `json:"subject,omitempty"`
}

type indexJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// configJSON is the config blob ImageManifest describes. Only its digest and
// size appear in the manifest (the registry serves no blobs), but they are
// those of these real bytes. It depends on the seed alone, so that every
// manifest made from one seed shares it; hence no diff_ids.
type configJSON struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

// marshal encodes the helpers' own structs, which cannot fail; nil is
// returned rather than a panic should it ever.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// ImageManifest returns an image manifest with a config blob and one layer
// per size: a Docker schema 2 manifest when mediaType is MediaDockerManifest,
// otherwise an OCI one (with mediaType as its mediaType field; empty means
// MediaOCIManifest). Blob digests depend on seed (and a layer's on its
// index) only, so manifests made from one seed share blobs, e.g. an OCI and
// a Docker variant of one image, while different seeds share none. The same
// arguments always give the same bytes.
func ImageManifest(mediaType string, seed string, layerSizes ...int64) []byte {
	configType, layerType := MediaOCIConfig, mediaOCILayer
	switch mediaType {
	case MediaDockerManifest:
		configType, layerType = mediaDockerConfig, mediaDockerLayer
	case "":
		mediaType = MediaOCIManifest
	}
	var cfg configJSON
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.version": seed}
	c := marshal(cfg)
	m := manifestJSON{SchemaVersion: 2, MediaType: mediaType, Layers: []Descriptor{}}
	for i, size := range layerSizes {
		// Layers are not stored either: the digest stands for content that
		// depends on seed and position only.
		blob := []byte("ghprune simulator layer " + strconv.Itoa(i) + " of " + seed)
		m.Layers = append(m.Layers, Descriptor{MediaType: layerType, Digest: Digest(blob), Size: max(0, size)})
	}
	m.Config = Descriptor{MediaType: configType, Digest: Digest(c), Size: int64(len(c))}
	return marshal(m)
}

// ReferrerManifest returns an OCI 1.1 artifact manifest that refers to
// subject: a signature, SBOM or attestation (artifactType says which, e.g.
// "application/vnd.dev.sigstore.bundle.v0.3+json"). Its config is the OCI
// empty blob and its one small layer is derived from seed.
func ReferrerManifest(subject Descriptor, artifactType string, seed string) []byte {
	layerType := artifactType
	if layerType == "" {
		layerType = mediaOctetStream
	}
	blob := []byte("ghprune simulator referrer " + seed)
	sub := subject
	m := manifestJSON{
		SchemaVersion: 2,
		MediaType:     MediaOCIManifest,
		ArtifactType:  artifactType,
		// The digest of "{}", which OCI 1.1 prescribes for artifacts without
		// a config of their own.
		Config:  Descriptor{MediaType: mediaOCIEmpty, Digest: Digest([]byte("{}")), Size: 2},
		Layers:  []Descriptor{{MediaType: layerType, Digest: Digest(blob), Size: int64(len(blob))}},
		Subject: &sub,
	}
	return marshal(m)
}

// Index returns an OCI image index (mediaType MediaOCIIndex, or empty) or a
// Docker manifest list (MediaDockerList) of children, in the order given.
func Index(mediaType string, children ...Descriptor) []byte {
	if mediaType == "" {
		mediaType = MediaOCIIndex
	}
	ix := indexJSON{SchemaVersion: 2, MediaType: mediaType, Manifests: children}
	if ix.Manifests == nil {
		ix.Manifests = []Descriptor{} // an empty index has "manifests": [], never null
	}
	return marshal(ix)
}

// Describe returns the descriptor of manifest: mediaType, its digest and
// size. An empty mediaType is read from the manifest as AddVersion does.
func Describe(mediaType string, manifest []byte) Descriptor {
	if mediaType == "" {
		mediaType = sniffMediaType(manifest)
	}
	return Descriptor{MediaType: mediaType, Digest: Digest(manifest), Size: int64(len(manifest))}
}

// sniffMediaType is the media type a manifest declares: its "mediaType"
// field; without one, an OCI index when it lists "manifests" (the field is
// optional in OCI, and registries tell the two apart by shape) and an OCI
// image manifest otherwise, including for bytes that are not JSON at all.
func sniffMediaType(manifest []byte) string {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(manifest, &probe); err != nil {
		return MediaOCIManifest
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case len(probe.Manifests) > 0 && probe.Manifests[0] == '[':
		return MediaOCIIndex
	}
	return MediaOCIManifest
}

// isIndex reports whether mediaType is a multi-manifest type, which ghcr.io
// serves only to clients that accept it.
func isIndex(mediaType string) bool {
	return mediaType == MediaOCIIndex || mediaType == MediaDockerList
}
