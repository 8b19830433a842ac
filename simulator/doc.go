// Package simulator is an in-process fake of the GitHub Packages REST API, an
// http.Handler for tests (over loopback with httptest), benchmarks and the
// `ghprune demo` command, whose world (worlds/demo.yaml) SeedDemo seeds. It
// follows the project's digest of the API
// (shared/reference/github-packages-api.md): GitHub's paths (/orgs/{org},
// /users/{username}, /user, and the /organizations/{id} and /user/{id}
// aliases its Link headers use, optionally under the GHES /api/v3 prefix),
// JSON shapes that conform to the official OpenAPI schemas, scopes,
// pagination, the refusals with their exact messages, restore windows,
// primary and secondary rate limits, ETags, and injected faults. All time
// comes from Options.Clock, so a test advances a clock.Fake instead of
// sleeping.
//
// On the wall clock (cmd/ghprune-sim serves the simulator on loopback for
// benchmarks), Options.PrimaryWindow shortens the primary limit's hour, so
// that a client waiting for X-Ratelimit-Reset waits minutes, not an hour;
// Stats.MaxWindowUsed is the most requests one token used of one window,
// to check that a client kept to its share of the limit.
//
// # The container registry
//
// The same handler also serves the part of ghcr.io's OCI distribution API
// that reads manifests, consistent with the container (and docker) packages:
// GET /token (basic auth with a known API token as password, or anonymous)
// hands out an opaque bearer token scoped by repository:OWNER/NAME:pull;
// GET /v2/ challenges for it; GET and HEAD /v2/OWNER/NAME/manifests/REF
// serve the manifest of an active version by digest or tag, with its exact
// bytes, Content-Type and Docker-Content-Digest; DELETE answers 405. A
// version has a manifest only when seeded with one (VersionSeed.Manifest),
// and its name is then the manifest's Digest; oci.go builds manifests,
// indexes and referrers for tests. Registry requests skip the API's rate
// limits and X-GitHub-Api-Version, but faults apply to them.
//
// # Modelled where GitHub is undocumented
//
//   - Restoring a version deleted more than 30 days ago, an active version or
//     an unknown one: 404 "Not Found". Restoring a version whose name an
//     active version has taken since: 400 "You cannot restore this package
//     version because a newer version with the same name exists. Delete the
//     newer version first." Packages likewise: 404 "Package not found." and
//     400 "You cannot restore this package because a newer package with the
//     same name exists. Delete the newer package first."
//   - Deleting a package marks its active versions deleted (with the package's
//     deleted_at); restoring it brings back exactly those.
//   - A token lacking a scope gets 403 with a message naming the missing
//     scopes; a bad package_type, visibility or state gets 400
//     "Invalid argument." (the observed answer for package_type).
//   - Org membership is not modelled: every token reads every package of an
//     org. Another user's packages are visible only when public.
//   - A mutation is "accepted" by the secondary limit when it passed auth,
//     scopes and both limits, whatever the handler then answered.
//   - Faults answer before authentication and rate limiting, and use none of
//     the primary limit.
//   - GET answers carry Cache-Control "private, max-age=60, s-maxage=60" as
//     GitHub's do: an RFC 9111 client cache will reuse a list for a minute.
//   - The registry issues a token for any scope; pulling is then refused
//     with 403 DENIED unless the token was scoped to the repository and may
//     read it: public packages anyone, others a classic token with
//     read:packages that reads the package through the API. A package that
//     does not exist is refused the same way. Fine-grained tokens cannot log
//     in (401). Tokens never expire.
//   - An index or Docker manifest list is 404 MANIFEST_UNKNOWN to a request
//     whose Accept does not list its media type (observed); an image
//     manifest is served whatever the Accept. Every GET (not HEAD) of a
//     public package's manifest adds a download.
//
// # Fixture format
//
// LoadFixture reads YAML with these keys (unknown keys are errors):
//
//	tokens:                       # accepted tokens
//	  - token: ghp_admin          # the secret a client sends
//	    login: octocat            # the account; /user resolves to it
//	    scopes: [read:packages, delete:packages, write:packages, repo]
//	    fine_grained: false       # true: refused by the packages API
//	orgs:
//	  - login: acme
//	    id: 9919
//	    admins: [octocat]         # may delete/restore; omitted = every token
//	users:
//	  - login: octocat
//	    id: 583231
//	packages:
//	  - owner: acme               # an org or user above
//	    name: team/service/api    # may contain "/"
//	    type: container           # npm, maven, rubygems, docker, nuget, container
//	    visibility: public        # public, private (default) or internal
//	    repository: acme/service  # optional; "repo" or "owner/repo"
//	    age: 400d                 # or created_at: 2024-01-01T00:00:00Z; omitted = oldest version's
//	    docker_conflict: false    # docker packages listed by /docker/conflicts
//	    versions:
//	      - name: sha256:…        # omitted for container/docker = a made-up digest
//	        tags: [latest, v1.2.0]
//	        age: 36h              # or created_at; omitted = now. Units: s m h d w, e.g. 1d12h
//	        downloads: 12000      # public and > 5000: GitHub refuses to delete it
//	      - tags: ["pr-{i}"]      # repeat makes 20 versions, pr-1 (oldest) … pr-20,
//	        repeat: 20            # 6h apart, the newest aged 10d
//	        every: 6h
//	        age: 10d
//	      - tags: []
//	        age: 40d
//	        deleted_age: 3d       # or deleted_at: seeded as deleted 3 days ago
//
// updated_at / updated_age are also accepted (default: the creation time).
// A container or docker version may carry manifest: (the manifest as text;
// the name may then be omitted and must otherwise be its digest) and
// media_type: (when not the manifest's own mediaType field).
// Ages are relative to the server clock's now when Seed runs.
//
// A container or docker version may instead have its manifest built, and
// versions of a package may point at each other, as multi-platform images,
// attestations and signatures do:
//
//	id_order: listed              # ids in the order listed (default: created, by age)
//	orgs:
//	  - login: acme
//	    id: 9919
//	packages:
//	  - owner: acme
//	    name: api
//	    type: container
//	    versions:
//	      - ref: amd64            # a name for versions below to point at
//	        image: {seed: api-amd64, layers: [40MiB, 8MiB]}
//	        age: 20d              # an OCI image manifest: a config and two layers
//	      - ref: amd64-att
//	        image: {seed: api-amd64-att, layers: [4KiB]}
//	        age: 20d
//	      - ref: v1               # a multi-platform image: an OCI index over
//	        tags: [v1.0.0]        # versions above, untagged as buildx pushes them
//	        index:
//	          - {ref: amd64, platform: linux/amd64}
//	          - {ref: amd64-att, attestation_of: amd64}   # a buildx attestation
//	        age: 20d
//	      - signature_of: v1      # tagged sha256-<hex of v1>.sig, as cosign does
//	        image: {seed: api-v1-sig, layers: [512]}
//	        age: 20d
//	      - tags: ["main-{100-i}"]  # placeholders are integer expressions of i:
//	        image: {seed: "main{i}", layers: [30MiB, "{i%3+1}MiB"]}
//	        age: "{10-2*i}d"        # main-99 (8d) … main-96 (2d); no every needed
//	        repeat: 4
//
// image: is an image manifest as ImageManifest builds it (OCI): its seed
// makes the digests, so equal seeds give equal manifests, and layers are the
// layer sizes (bytes, or a whole number of KiB, MiB or GiB). index: is an
// OCI image index of versions listed above it in the package, each named by
// the ref: it was given and described with its platform: (os/arch or
// os/arch/variant) or, with attestation_of:, as a buildx attestation
// (platform unknown/unknown, annotations naming the attested manifest).
// signature_of: adds the tag under which cosign stores a signature of the
// version with that ref. manifest:, image: and index: are exclusive; a
// version others point at needs one; a repeat has no ref:, index: or
// signature_of:.
//
// In a repeated version, a placeholder is an integer expression of i in
// braces, {i}, {100-i} or {(i-1)%7+1}, with + - * / % and parentheses as in
// Go; it may appear in name, tags, manifest, image and the ages. An age with
// a placeholder gives each version its own time, and every: is then left
// out. Without repeat, braces are text.
//
// id_order: listed gives a package's versions their ids in the order listed
// (a repeat's in the order of i) rather than by created_at, the default
// ("created"), so that a world can pin its ids.
package simulator
