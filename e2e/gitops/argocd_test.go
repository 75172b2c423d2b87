package gitops

import (
	"os"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// toLua converts decoded JSON into Lua values the way Argo CD hands objects to health scripts.
func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := L.NewTable()
		for _, item := range x {
			t.Append(toLua(L, item))
		}
		return t
	case map[string]interface{}:
		t := L.NewTable()
		for k, item := range x {
			t.RawSetString(k, toLua(L, item))
		}
		return t
	}
	return lua.LNil
}

func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile("../../gitops/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures(t) {
		L := lua.NewState(lua.Options{SkipOpenLibs: false})
		L.SetGlobal("obj", toLua(L, f.Object))
		if err := L.DoString(string(script)); err != nil {
			t.Fatalf("%s: the health script failed: %v", f.Name, err)
		}
		hs, ok := L.Get(-1).(*lua.LTable)
		if !ok {
			t.Fatalf("%s: the health script returned %v, not a table", f.Name, L.Get(-1))
		}
		status := hs.RawGetString("status").String()
		message := hs.RawGetString("message").String()
		if status != f.Expect.ArgoCD {
			t.Errorf("%s: Argo CD health %q, want %q (message %q)", f.Name, status, f.Expect.ArgoCD, message)
		}
		if message == "" || message == "nil" {
			t.Errorf("%s: no health message", f.Name)
		}
		L.Close()
	}
}

// The argocd-cm snippet users install must run exactly the tested script.
func TestArgoCDSnippetMatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../gitops/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile("../../gitops/argocd/argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var embedded []string
	inBlock := false
	for _, line := range strings.Split(string(snippet), "\n") {
		if strings.Contains(line, "resource.customizations.health.accord.dev_ModelDeployment: |") {
			inBlock = true
			continue
		}
		if inBlock {
			embedded = append(embedded, strings.TrimPrefix(line, "    "))
		}
	}
	var code []string
	for _, line := range strings.Split(string(script), "\n") {
		if !strings.HasPrefix(line, "--") {
			code = append(code, line)
		}
	}
	if strings.TrimSpace(strings.Join(embedded, "\n")) != strings.TrimSpace(strings.Join(code, "\n")) {
		t.Fatal("gitops/argocd/argocd-cm.yaml does not embed gitops/argocd/health.lua (without its comments)")
	}
}
