package jobs

import (
	"testing"

	"github.com/magnetar-sql/magnetar/catalog"
)

type adminCatalog struct {
	catalog.Catalog
	url string
}

func (a adminCatalog) AdminURL() string { return a.url }

// The admin URL that aborts a predecessor's transaction is the one the
// catalog uses (the CLI's --admin-url), before the environment.
func TestAdminURLFromCatalog(t *testing.T) {
	t.Setenv(EnvAdminURL, "http://env:1")
	if got := (Config{Catalog: adminCatalog{url: "http://flag:2/"}}).withDefaults().AdminURL; got != "http://flag:2" {
		t.Errorf("AdminURL = %q, want the catalog's", got)
	}
	if got := (Config{Catalog: adminCatalog{url: "http://flag:2"}, AdminURL: "http://cfg:3"}).withDefaults().AdminURL; got != "http://cfg:3" {
		t.Errorf("AdminURL = %q, want the configured one", got)
	}
	if got := (Config{}).withDefaults().AdminURL; got != "http://env:1" {
		t.Errorf("AdminURL = %q, want the environment's", got)
	}
}
