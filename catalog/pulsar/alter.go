package pulsar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/schema"
)

var (
	_ catalog.Alterable        = (*Catalog)(nil)
	_ catalog.OptionsAlterable = (*Catalog)(nil)
)

// AddColumns implements catalog.Alterable: it registers a new version of
// the topic's schema (AVRO or JSON) with the new fields appended, nullable
// with default null unless the field carries a default
// (schema.MetaAvroDefault). That is an Avro-compatible evolution (backward
// and forward), which the registry checks under the namespace's schema
// compatibility strategy; a rejection wraps catalog.ErrIncompatible.
// Messages written before read NULL (or the default) in the new columns:
// scans decode every message with its own writer schema version into the
// latest table schema. The new version keeps the latest one's properties.
func (c *Catalog) AddColumns(ctx context.Context, db, name string, cols []arrow.Field) error {
	if len(cols) == 0 {
		return nil
	}
	c.forget(db, name) // work from the registry's latest version
	t, err := c.table(ctx, db, name)
	if err != nil {
		return err
	}
	kind := strings.ToUpper(t.info.Type)
	if t.version < 0 || (kind != schema.TypeAvro && kind != schema.TypeJSON) {
		if t.version < 0 {
			kind = "no"
		}
		return fmt.Errorf("pulsar: ALTER TABLE %s ADD COLUMN: the topic has %s schema; only AVRO and JSON record schemas can gain columns", t.name, kind)
	}
	seen := map[string]bool{}
	for _, f := range t.schema.Fields() {
		seen[strings.ToLower(f.Name)] = true
	}
	for _, f := range cols {
		switch {
		case f.Name == "":
			return fmt.Errorf("pulsar: table %s: empty column name", t.name)
		case seen[strings.ToLower(f.Name)]:
			return fmt.Errorf("pulsar: table %s: column %q: %w", t.name, f.Name, catalog.ErrExists)
		case strings.HasPrefix(f.Name, "__"):
			return fmt.Errorf("pulsar: column %s: names starting with __ are reserved for metadata columns", f.Name)
		case !f.Nullable && f.Metadata.FindKey(schema.MetaAvroDefault) < 0:
			return fmt.Errorf("pulsar: table %s: column %q is NOT NULL but has no default for the messages already in the topic", t.name, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
	}
	def, err := addAvroFields(t.info.Schema, cols)
	if err != nil {
		return fmt.Errorf("pulsar: table %s: %w", t.name, err)
	}
	// The new schema must map to the old columns plus the new ones.
	next, err := schema.ToArrow(schema.Info{Type: kind, Schema: def})
	if err != nil {
		return fmt.Errorf("pulsar: table %s: new schema: %w", t.name, err)
	}
	if want := t.schema.NumFields() + len(cols); next.NumFields() != want {
		return fmt.Errorf("pulsar: table %s: new schema has %d columns, want %d", t.name, next.NumFields(), want)
	}
	props := make(map[string]string, len(t.info.Properties))
	for k, v := range t.info.Properties {
		props[k] = v
	}
	err = c.schemas().CreateSchemaByPayloadWithContext(ctx, t.topic, utils.PostSchemaPayload{
		SchemaType: kind, Schema: string(def), Properties: props,
	})
	if err != nil {
		if isStatus(err, http.StatusConflict) {
			return fmt.Errorf("pulsar: table %s: the schema registry rejected the new schema%s: %w",
				t.name, strategyOf(err), catalog.ErrIncompatible)
		}
		return c.adminErr("register new schema of "+t.topic, err)
	}
	c.forget(db, name)
	vc := c.versions(t.topic)
	vc.mu.Lock()
	vc.all = nil // the version list grew
	vc.mu.Unlock()
	c.log.Debug("pulsar: columns added", "topic", t.topic, "columns", len(cols))
	return nil
}

var strategyRE = regexp.MustCompile(`with strategy ([A-Z_]+)`)

// strategyOf names the compatibility strategy in a registry rejection.
func strategyOf(err error) string {
	if m := strategyRE.FindStringSubmatch(err.Error()); m != nil {
		return " (incompatible under compatibility strategy " + m[1] + ")"
	}
	return " (incompatible under the namespace's compatibility strategy)"
}

// addAvroFields appends the Avro fields of cols (as schema.FromArrow writes
// them) to the record schema def, keeping everything else of def (names,
// namespaces, docs, logical types, custom properties).
func addAvroFields(def []byte, cols []arrow.Field) ([]byte, error) {
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber() // keep defaults such as large longs exact
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("schema is not a JSON record: %w", err)
	}
	if rec["type"] != "record" {
		return nil, fmt.Errorf("schema is not an Avro record")
	}
	fields, _ := rec["fields"].([]any)
	used := map[string]bool{}
	for _, f := range fields {
		if m, ok := f.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				used[n] = true
			}
		}
	}
	recName, _ := rec["name"].(string)
	if i := strings.LastIndexByte(recName, '.'); i >= 0 {
		recName = recName[i+1:]
	}
	add, err := schema.FromArrow(arrow.NewSchema(cols, nil), recName)
	if err != nil {
		return nil, err
	}
	var addRec map[string]any
	dec = json.NewDecoder(bytes.NewReader(add.Schema))
	dec.UseNumber()
	if err := dec.Decode(&addRec); err != nil {
		return nil, err
	}
	newFields, _ := addRec["fields"].([]any)
	for _, f := range newFields {
		n, _ := f.(map[string]any)["name"].(string)
		if used[n] {
			return nil, fmt.Errorf("Avro field name %q is already in use", n)
		}
		used[n] = true
	}
	rec["fields"] = append(fields, newFields...)
	return json.Marshal(rec)
}

// AlterOptions implements catalog.OptionsAlterable. Options live in topic
// properties ("magnetar.<key>"), which can change without a new schema
// version; a removed option is kept as an empty property, which hides a
// value registered with the schema.
func (c *Catalog) AlterOptions(ctx context.Context, db, name string, ch catalog.OptionChange) error {
	t, err := c.table(ctx, db, name)
	if err != nil {
		return err
	}
	props := map[string]string{}
	for _, k := range ch.Unset {
		props[OptionPrefix+k] = ""
	}
	for k, v := range ch.Set {
		props[OptionPrefix+k] = v
	}
	if ch.Comment != nil {
		props[OptionPrefix+optComment] = *ch.Comment
	}
	if len(props) == 0 {
		return nil
	}
	tn, err := parseTopic(t.topic)
	if err != nil {
		return err
	}
	if err := c.admin.Topics().UpdatePropertiesWithContext(ctx, *tn, props); err != nil {
		return c.adminErr("update properties of "+t.topic, err)
	}
	c.forget(db, t.name)
	return nil
}
