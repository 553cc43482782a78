package pulsar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/schema"
)

// CreateDatabase implements catalog.Catalog: it creates the namespace (and
// its tenant when missing) with infinite retention, so tables keep their
// history queryable.
func (c *Catalog) CreateDatabase(ctx context.Context, db string, ifNotExists bool) error {
	tenant, _, err := checkDB(db)
	if err != nil {
		return err
	}
	if _, err := c.admin.Tenants().GetWithContext(ctx, tenant); err != nil {
		if !isStatus(err, http.StatusNotFound) {
			return c.adminErr("tenant "+tenant, err)
		}
		clusters, err := c.admin.Clusters().ListWithContext(ctx)
		if err != nil {
			return c.adminErr("list clusters", err)
		}
		err = c.admin.Tenants().CreateWithContext(ctx, utils.TenantData{Name: tenant, AllowedClusters: clusters})
		if err != nil && !isStatus(err, http.StatusConflict) {
			return c.adminErr("create tenant "+tenant, err)
		}
	}
	err = c.admin.Namespaces().CreateNamespaceWithContext(ctx, db)
	switch {
	case err == nil:
	case isStatus(err, http.StatusConflict):
		if !ifNotExists {
			return fmt.Errorf("pulsar: database %s: %w", db, catalog.ErrExists)
		}
		return nil
	default:
		return c.adminErr("create namespace "+db, err)
	}
	err = c.admin.Namespaces().SetRetentionWithContext(ctx, db, utils.RetentionPolicies{RetentionTimeInMinutes: -1, RetentionSizeInMB: -1})
	if err != nil {
		return c.adminErr("set retention of "+db, err)
	}
	c.mu.Lock()
	c.dbs = cached[[]string]{}
	c.mu.Unlock()
	return nil
}

// CreateTable implements catalog.Catalog: a topic (partitioned when
// def.Partitions > 0) whose Avro schema is registered from def.Schema. The
// options, primary key and comment go into topic and schema properties
// prefixed with "magnetar.".
func (c *Catalog) CreateTable(ctx context.Context, db string, def catalog.TableDef, ifNotExists bool) error {
	if def.Name == "" || strings.ContainsAny(def.Name, "/ ") {
		return fmt.Errorf("pulsar: invalid table name %q", def.Name)
	}
	if def.Schema == nil || def.Schema.NumFields() == 0 {
		return fmt.Errorf("pulsar: table %s needs at least one column", def.Name)
	}
	tl, err := c.topicList(ctx, db, true)
	if err != nil {
		return err
	}
	if _, ok := tl[def.Name]; ok {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("pulsar: table %s.%s: %w", db, def.Name, catalog.ErrExists)
	}
	for _, f := range def.Schema.Fields() {
		if strings.HasPrefix(f.Name, "__") {
			return fmt.Errorf("pulsar: column %s: names starting with __ are reserved for metadata columns", f.Name)
		}
	}
	props := map[string]string{}
	for k, v := range def.Options {
		props[OptionPrefix+k] = v
	}
	if len(def.PrimaryKey) > 0 {
		props[OptionPrefix+optPrimaryKey] = strings.Join(def.PrimaryKey, ",")
	}
	if def.Comment != "" {
		props[OptionPrefix+optComment] = def.Comment
	}
	info, err := fromArrow(def.Schema, def.Name)
	if err != nil {
		return fmt.Errorf("pulsar: table %s: %w", def.Name, err)
	}
	topic := topicName(db, def.Name)
	tn, err := parseTopic(topic)
	if err != nil {
		return err
	}
	err = c.admin.Topics().CreateWithPropertiesWithContext(ctx, *tn, def.Partitions, props)
	if err != nil {
		if isStatus(err, http.StatusConflict) {
			if ifNotExists {
				return nil
			}
			return fmt.Errorf("pulsar: table %s.%s: %w", db, def.Name, catalog.ErrExists)
		}
		return c.adminErr("create topic "+topic, err)
	}
	sprops := map[string]string{}
	for k, v := range info.Properties {
		sprops[k] = v
	}
	for k, v := range props {
		sprops[k] = v
	}
	err = c.schemas().CreateSchemaByPayloadWithContext(ctx, topic, utils.PostSchemaPayload{
		SchemaType: info.Type, Schema: string(info.Schema), Properties: sprops,
	})
	if err != nil {
		// Leave no schemaless table behind.
		_ = c.admin.Topics().DeleteWithContext(ctx, *tn, true, def.Partitions == 0)
		return c.adminErr("register schema of "+topic, err)
	}
	c.forget(db, def.Name)
	return nil
}

// DropTable implements catalog.Catalog: force-deletes the topic (all
// partitions) and its schema.
func (c *Catalog) DropTable(ctx context.Context, db, name string, ifExists bool) error {
	t, err := c.table(ctx, db, name)
	if err != nil {
		if ifExists && isNotFound(err) {
			return nil
		}
		return err
	}
	tn, err := parseTopic(t.topic)
	if err != nil {
		return err
	}
	// The schema first: deleting it needs the topic to exist.
	if err := c.schemas().ForceDeleteSchemaWithContext(ctx, t.topic); err != nil && !isStatus(err, http.StatusNotFound) {
		c.log.Debug("pulsar: delete schema", "topic", t.topic, "err", err)
	}
	err = c.admin.Topics().DeleteWithContext(ctx, *tn, true, t.partitions == 0)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return c.adminErr("delete topic "+t.topic, err)
	}
	c.forget(db, t.name)
	c.mu.Lock()
	delete(c.versionsByTopic, t.topic)
	c.mu.Unlock()
	return nil
}

func isNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), catalog.ErrNotFound.Error()) || isStatus(err, http.StatusNotFound)
}

// forget drops cached metadata of a table and its database listing.
func (c *Catalog) forget(db, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.topics, db)
	for k := range c.tables {
		if strings.EqualFold(k, db+"/"+name) {
			delete(c.tables, k)
		}
	}
}

// fromArrow builds the Avro schema registered for a table created from SQL.
// It is schema.FromArrow once the schema package provides it; until then a
// local mapping of the flat types SQL DDL produces stands in.
var fromArrow = localFromArrow

func localFromArrow(s *arrow.Schema, name string) (schema.Info, error) {
	fields := make([]any, 0, s.NumFields())
	for _, f := range s.Fields() {
		t, err := avroType(f.Type, f.Name)
		if err != nil {
			return schema.Info{}, err
		}
		field := map[string]any{"name": f.Name, "type": t}
		if f.Nullable {
			field["type"] = []any{"null", t}
			field["default"] = nil
		}
		fields = append(fields, field)
	}
	rec := map[string]any{"type": "record", "name": avroName(name), "fields": fields}
	b, err := json.Marshal(rec)
	if err != nil {
		return schema.Info{}, err
	}
	return schema.Info{Type: schema.TypeAvro, Schema: b, Properties: map[string]string{}}, nil
}

func avroName(s string) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func avroType(dt arrow.DataType, name string) (any, error) {
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return "boolean", nil
	case *arrow.Int8Type:
		return map[string]any{"type": "int", schema.MetaType: "int8"}, nil
	case *arrow.Int16Type:
		return map[string]any{"type": "int", schema.MetaType: "int16"}, nil
	case *arrow.Int32Type:
		return "int", nil
	case *arrow.Int64Type:
		return "long", nil
	case *arrow.Float32Type:
		return "float", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.StringType, *arrow.LargeStringType:
		return "string", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "bytes", nil
	case *arrow.Date32Type:
		return map[string]any{"type": "int", "logicalType": "date"}, nil
	case *arrow.Time64Type:
		return map[string]any{"type": "long", "logicalType": "time-micros"}, nil
	case *arrow.TimestampType:
		if t.Unit == arrow.Millisecond || t.Unit == arrow.Second {
			return map[string]any{"type": "long", "logicalType": "timestamp-millis"}, nil
		}
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}, nil
	case *arrow.Decimal128Type:
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": t.Precision, "scale": t.Scale}, nil
	}
	return nil, fmt.Errorf("column %s: type %s cannot be stored yet", name, dt)
}
