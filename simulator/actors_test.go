package simulator

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
)

// Other actors: Tag moves a tag as a push would, Remove deletes as another
// tool would; neither costs a request.
func TestTagAndRemove_ChangeThePackageLikeOtherActors(t *testing.T) {
	h := newHarness(t, Options{})
	latest := h.versionID(t, "acme", "container", "team/service/api", func(v VersionState) bool { return slices.Contains(v.Tags, "latest") })
	untagged := h.versionID(t, "acme", "container", "team/service/api", func(v VersionState) bool { return len(v.Tags) == 0 })
	if err := h.sim.Tag(untagged, "latest", "prod"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.sim.Version(untagged); !slices.Equal(v.Tags, []string{"latest", "prod"}) {
		t.Errorf("tags after Tag = %v", v.Tags)
	}
	if v, ok := h.sim.Version(latest); !ok || slices.Contains(v.Tags, "latest") {
		t.Errorf("the tag did not move: %v (version found: %v)", v.Tags, ok)
	}
	if err := h.sim.Remove(latest); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.sim.Version(latest); v.DeletedAt == nil {
		t.Error("Remove left the version active")
	}
	if err := h.sim.Remove(latest); err == nil {
		t.Error("removing a deleted version succeeded")
	}
	if err := h.sim.Tag(latest, "x"); err == nil {
		t.Error("tagging a deleted version succeeded")
	}
	if n := h.sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests counted", n)
	}
	r := h.call(t, "POST", "/orgs/acme/packages/container/team%2Fservice%2Fapi/versions/"+strconv.FormatInt(latest, 10)+"/restore", "t-admin")
	if r.status != 204 {
		t.Errorf("restore of a removed version = %d", r.status)
	}
}

// A version seeded with a bad date serves it as given, or leaves it out.
func TestVersionSeed_DateOverrides(t *testing.T) {
	h := newHarness(t, Options{})
	for _, raw := range []string{"null", `""`, `"yesterday"`, "-"} {
		if _, err := h.sim.AddVersion("acme", "npm", "lib", VersionSeed{Name: "9.9." + raw, CreatedAtJSON: raw, UpdatedAtJSON: raw}); err != nil {
			t.Fatal(err)
		}
	}
	r := h.call(t, "GET", "/orgs/acme/packages/npm/lib/versions", "t-admin")
	var vs []map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &vs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		var name string
		json.Unmarshal(v["name"], &name)
		c, ok := v["created_at"]
		got[name] = string(c)
		if !ok {
			got[name] = "(absent)"
		}
	}
	for name, want := range map[string]string{"9.9.null": "null", `9.9.""`: `""`, `9.9."yesterday"`: `"yesterday"`, "9.9.-": "(absent)"} {
		if got[name] != want {
			t.Errorf("created_at of %s = %s, want %s", name, got[name], want)
		}
	}
}
