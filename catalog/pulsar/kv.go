package pulsar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/magnetar-sql/magnetar/schema"
)

// pulsaradmin drops the schema data of KEY_VALUE schemas (its converter has
// a TODO there), so those are fetched from the REST API directly. The REST
// answer holds the two halves as JSON: {"key": <schema>, "value": <schema>}.

// newHTTPClient builds the HTTP client for direct REST calls, with the same
// TLS settings as the admin client.
func newHTTPClient(cfg Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if strings.HasPrefix(cfg.AdminURL, "https://") {
		tc := &tls.Config{InsecureSkipVerify: cfg.TLSAllowInsecure} //nolint:gosec // user opt-in
		if cfg.TLSTrustCertsFile != "" {
			pem, err := os.ReadFile(cfg.TLSTrustCertsFile)
			if err != nil {
				return nil, fmt.Errorf("pulsar: trust certs: %w", err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tc.RootCAs = pool
		}
		if cfg.TLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("pulsar: client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// restSchema is the REST answer for one schema version.
type restSchema struct {
	Version    int64             `json:"version"`
	Type       string            `json:"type"`
	Data       string            `json:"data"`
	Properties map[string]string `json:"properties"`
}

// keyValueSchema fetches a KEY_VALUE schema (ver < 0: the latest) and lays
// it out as Pulsar stores it, which is what package schema reads.
func (c *Catalog) keyValueSchema(ctx context.Context, topic string, ver int64) (schema.Info, error) {
	tn, err := parseTopic(topic)
	if err != nil {
		return schema.Info{}, err
	}
	url := fmt.Sprintf("%s/admin/v2/schemas/%s/%s/%s/schema", c.cfg.AdminURL, tn.GetTenant(), tn.GetNamespace(), tn.GetLocalName())
	if ver >= 0 {
		url += "/" + strconv.FormatInt(ver, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return schema.Info{}, err
	}
	if c.cfg.AuthToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.AuthToken)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return schema.Info{}, fmt.Errorf("pulsar: schema of %s: %w", topic, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return schema.Info{}, fmt.Errorf("pulsar: schema of %s: %w", topic, err)
	}
	if resp.StatusCode != http.StatusOK {
		return schema.Info{}, fmt.Errorf("pulsar: schema of %s: HTTP %d: %s", topic, resp.StatusCode, shortErr(fmt.Errorf("%s", body)))
	}
	var rs restSchema
	if err := json.Unmarshal(body, &rs); err != nil {
		return schema.Info{}, fmt.Errorf("pulsar: schema of %s: %w", topic, err)
	}
	return kvInfo(rs)
}

// kvInfo converts the REST form of a KEY_VALUE schema.
func kvInfo(rs restSchema) (schema.Info, error) {
	var halves struct{ Key, Value json.RawMessage }
	if err := json.Unmarshal([]byte(rs.Data), &halves); err != nil {
		return schema.Info{}, fmt.Errorf("pulsar: KEY_VALUE schema data: %w", err)
	}
	half := func(raw json.RawMessage) []byte {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s) // a primitive half, or a schema given as a string
		}
		return []byte(raw)
	}
	return schema.Info{
		Type:       schema.TypeKeyValue,
		Schema:     schema.JoinKeyValue(half(halves.Key), half(halves.Value)),
		Properties: rs.Properties,
	}, nil
}
