package pulsar

import (
	"net/http"
	"strings"
	"testing"
)

// TestHiddenDatabases: by default the system tenant "pulsar", namespaces
// starting with "__" and public/functions are not listed, yet still resolve
// when named; an empty (non-nil) pattern list shows everything, and a
// pattern of one's own hides a namespace.
func TestHiddenDatabases(t *testing.T) {
	e := newEnv(t, Config{})
	tenants, err := e.cat.admin.Tenants().ListWithContext(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	hasPulsarTenant := contains(tenants, "pulsar")
	// Make sure public/functions exists (a standalone broker without the
	// functions worker has none); remove it again only if made here.
	fns, err := e.cat.admin.Namespaces().GetNamespacesWithContext(e.ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if !contains(fns, "public/functions") {
		if err := e.cat.admin.Namespaces().CreateNamespaceWithContext(e.ctx, "public/functions"); err != nil && !isStatus(err, http.StatusConflict) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.cat.admin.Namespaces().DeleteNamespace("public/functions") })
	}

	dbs, err := e.cat.Databases(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(dbs, e.ns) {
		t.Fatalf("Databases lacks the test namespace %s: %v", e.ns, dbs)
	}
	for _, d := range dbs {
		if strings.HasPrefix(d, "pulsar/") || d == "public/functions" || strings.Contains(d, "/__") {
			t.Errorf("Databases lists hidden %s: %v", d, dbs)
		}
	}
	// Hidden, not gone: named explicitly, a hidden database resolves.
	if _, err := e.cat.Tables(e.ctx, "public/functions"); err != nil {
		t.Errorf("Tables(public/functions): %v", err)
	}
	if hasPulsarTenant {
		if _, err := e.cat.Tables(e.ctx, "pulsar/system"); err != nil && !isNotFoundErr(err) {
			t.Errorf("Tables(pulsar/system): %v", err)
		}
	}

	// No patterns: everything is listed.
	all := newEnv(t, Config{HideTenants: []string{}, HideNamespaces: []string{}})
	dbs, err = all.cat.Databases(all.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(dbs, "public/functions") {
		t.Errorf("with no patterns, Databases lacks public/functions: %v", dbs)
	}
	if hasPulsarTenant {
		nss, err := e.cat.admin.Namespaces().GetNamespacesWithContext(e.ctx, "pulsar")
		if err != nil {
			t.Fatal(err)
		}
		if len(nss) > 0 && !contains(dbs, nss[0]) {
			t.Errorf("with no patterns, Databases lacks %s: %v", nss[0], dbs)
		}
	}

	// Patterns of one's own replace the defaults.
	own := newEnv(t, Config{HideNamespaces: []string{"public/t-*"}})
	dbs, err = own.cat.Databases(own.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs {
		if strings.HasPrefix(d, "public/t-") {
			t.Errorf("pattern public/t-* did not hide %s", d)
		}
	}
	if !contains(dbs, "public/functions") {
		t.Errorf("own patterns should replace the defaults: %v", dbs)
	}
}
