// Package deploy renders and checks ghprune's Kubernetes manifests. It is a
// module of its own (github.com/ghprune/ghprune/deploy) so that kustomize and
// the Kubernetes API types stay out of ghprune's binary and go.mod; .ci/run
// tests it after the main module.
//
// Render builds any kustomize directory exactly as `kubectl kustomize DIR`
// does, and Object.DecodeStrict decodes a rendered object into its real Go
// type, failing on any field that type does not have. deploy_test.go uses
// them on the base in this directory; a kustomization elsewhere in deploy/
// (deploy/monitoring) is checked the same way with its own Types.
package deploy

import (
	"errors"
	"fmt"
	"path/filepath"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one object of a rendered kustomization.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string // "" for a cluster-scoped object
	Name       string
	// YAML is the object as `kubectl kustomize` prints it.
	YAML []byte
}

// ID names the object in messages: "apps/v1 Deployment ghprune/ghprune".
func (o Object) ID() string {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + o.Name
	}
	return o.APIVersion + " " + o.Kind + " " + name
}

// Render builds the kustomization in dir (a path on disk, relative to the
// working directory or absolute) with the options `kubectl kustomize` and
// `kubectl apply -k` use: files outside dir may not be loaded, and no plugins,
// exec functions or Helm charts are run.
func Render(dir string) ([]Object, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("render %s: %s %s: %w", dir, r.GetKind(), r.GetName(), err)
		}
		objs = append(objs, Object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(),
			Namespace: r.GetNamespace(), Name: r.GetName(), YAML: y})
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("render %s: no objects", dir)
	}
	return objs, nil
}

// DecodeStrict decodes o into v, a pointer to the object's Go type (such as
// *appsv1.Deployment). It fails on a field the type does not have, on a key
// written twice, and on a key whose case differs from the field's: the API
// server's names are case-sensitive, where encoding/json would quietly
// accept "readonlyRootFilesystem". These are the checks the API server's
// strict field validation makes, so a misspelt field that `kubectl apply`
// would drop (or refuse) fails here first.
func (o Object) DecodeStrict(v any) error {
	j, err := yaml.YAMLToJSONStrict(o.YAML)
	if err != nil {
		return fmt.Errorf("decode %s: %w", o.ID(), err)
	}
	strict, err := sigsjson.UnmarshalStrict(j, v)
	if err != nil {
		return fmt.Errorf("decode %s: %w", o.ID(), err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("decode %s: %w", o.ID(), errors.Join(strict...))
	}
	return nil
}

// Types gives, for "apiVersion kind" ("apps/v1 Deployment"), a new value of
// the Go type the object decodes into.
type Types map[string]func() any

// DecodeAll decodes every object strictly into its type from types. An object
// whose apiVersion and kind types does not know is an error too, so nothing
// rendered goes unchecked. The values are in the order of objs.
func DecodeAll(objs []Object, types Types) ([]any, error) {
	var out []any
	var errs []error
	for _, o := range objs {
		mk, ok := types[o.APIVersion+" "+o.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("decode %s: no Go type for %s %s", o.ID(), o.APIVersion, o.Kind))
			continue
		}
		v := mk()
		if err := o.DecodeStrict(v); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}
