package gitops

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func TestFluxKstatus(t *testing.T) {
	for _, f := range fixtures(t) {
		// Decode as the API machinery does (integers stay integers).
		raw, _ := json.Marshal(f.Object)
		object := &unstructured.Unstructured{}
		if err := object.UnmarshalJSON(raw); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		result, err := status.Compute(object)
		if err != nil {
			t.Fatalf("%s: kstatus: %v", f.Name, err)
		}
		if result.Status.String() != f.Expect.Kstatus {
			t.Errorf("%s: kstatus %s, want %s (%s)", f.Name, result.Status, f.Expect.Kstatus, result.Message)
		}
	}
}
