package gitops

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// A ModelDeployment as the API server returned it, with what each tool must conclude.
type fixture struct {
	Name   string `json:"name"`
	Expect struct {
		ArgoCD  string `json:"argocd"`
		Kstatus string `json:"kstatus"`
	} `json:"expect"`
	Object map[string]interface{} `json:"object"`
}

// Recorded fixtures from testdata/, plus live ones from $ACCORD_LIVE_FIXTURES (written
// by the e2e suite from objects on the local cluster); live ones are required when set.
func fixtures(t *testing.T) []fixture {
	t.Helper()
	dirs := []string{"testdata"}
	live := os.Getenv("ACCORD_LIVE_FIXTURES")
	if live != "" {
		dirs = append(dirs, live)
	}
	var all []fixture
	liveCount := 0
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var f fixture
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			f.Name = dir + "/" + filepath.Base(file)
			all = append(all, f)
			if dir == live {
				liveCount++
			}
		}
	}
	if live != "" && liveCount == 0 {
		t.Fatalf("ACCORD_LIVE_FIXTURES=%s holds no fixtures", live)
	}
	if len(all) == 0 {
		t.Fatal("no fixtures")
	}
	return all
}
