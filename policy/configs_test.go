package policy

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every example in configs/ loads without errors or warnings.
func TestConfigsDirectoryIsValid(t *testing.T) {
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".tests.yaml") {
			continue // policy tests (ghprune test), not configs
		}
		cfg, err := LoadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, w := range cfg.Warnings {
			t.Errorf("warning: %v", w)
		}
	}
}
