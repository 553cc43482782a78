package pulsar

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/schema"
)

// Metadata column names.
const (
	ColKey           = "__key"
	ColTopic         = "__topic"
	ColPartition     = "__partition"
	ColMessageID     = "__message_id"
	ColPublishTime   = "__publish_time"
	ColEventTime     = "__event_time"
	ColProducer      = "__producer"
	ColSequenceID    = "__sequence_id"
	ColProperties    = "__properties"
	ColSchemaVersion = "__schema_version"
	// ColTombstone is TRUE for a delete marker of a table with a primary
	// key (see upsert.go), FALSE for other rows.
	ColTombstone = "__tombstone"
)

// OptionPrefix prefixes table options stored as topic or schema properties.
const OptionPrefix = "magnetar."

// Option keys with a meaning of their own in TableDef.
const (
	optPrimaryKey = "primary_key"
	optComment    = "comment"
)

// tsType is the SQL TIMESTAMP type (µs, UTC).
var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// metaFields are the metadata columns, in the order they are numbered after
// the visible columns.
var metaFields = []arrow.Field{
	{Name: ColKey, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColTopic, Type: arrow.BinaryTypes.String},
	{Name: ColPartition, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColMessageID, Type: arrow.BinaryTypes.String},
	{Name: ColPublishTime, Type: tsType},
	{Name: ColEventTime, Type: tsType, Nullable: true},
	{Name: ColProducer, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColSequenceID, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColProperties, Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String), Nullable: true},
	{Name: ColSchemaVersion, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColTombstone, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}

// Indices into metaFields.
const (
	metaKey = iota
	metaTopic
	metaPartition
	metaMessageID
	metaPublishTime
	metaEventTime
	metaProducer
	metaSequenceID
	metaProperties
	metaSchemaVersion
	metaTombstone
)

// MetadataFields returns the metadata columns every Pulsar table has.
func MetadataFields() []arrow.Field { return append([]arrow.Field(nil), metaFields...) }

// Table is a topic seen as a table. It is immutable; the catalog replaces it
// when its metadata is refreshed.
type Table struct {
	cat        *Catalog
	db, name   string
	topic      string // full persistent topic name
	partitions int    // 0: not partitioned
	info       schema.Info
	version    int64 // registry version of info; -1 when the topic has no schema
	schema     *arrow.Schema
	def        catalog.TableDef
}

var (
	_ catalog.Table          = (*Table)(nil)
	_ catalog.FilterPushdown = (*Table)(nil)
)

// loadTable resolves a topic's partitions, latest schema and options.
func (c *Catalog) loadTable(ctx context.Context, db, name string, parts int) (*Table, error) {
	topic := topicName(db, name)
	tn, err := parseTopic(topic)
	if err != nil {
		return nil, err
	}
	if parts != 0 {
		md, err := c.admin.Topics().GetMetadataWithContext(ctx, *tn)
		if err != nil {
			return nil, c.adminErr("partitions of "+topic, err)
		}
		parts = md.Partitions
	}
	t := &Table{cat: c, db: db, name: name, topic: topic, partitions: parts, version: -1}
	sv, err := c.schemas().GetSchemaInfoWithVersionWithContext(ctx, topic)
	switch {
	case err == nil && sv != nil && sv.SchemaInfo != nil:
		t.info = schema.Info{Type: sv.SchemaInfo.Type, Schema: sv.SchemaInfo.Schema, Properties: sv.SchemaInfo.Properties}
		t.version = sv.Version
		if t.info.Type == schema.TypeKeyValue {
			if t.info, err = c.keyValueSchema(ctx, topic, sv.Version); err != nil {
				return nil, err
			}
		}
		c.versions(topic).put(sv.Version, t.info)
	case err == nil || isStatus(err, http.StatusNotFound):
		t.info = schema.Info{Type: schema.TypeBytes}
	default:
		return nil, c.adminErr("schema of "+topic, err)
	}
	if t.schema, err = schema.ToArrow(t.info); err != nil {
		return nil, fmt.Errorf("pulsar: table %s.%s: %w", db, name, err)
	}
	// Options: schema properties, then topic properties, which win: ALTER
	// TABLE changes them without a new schema version, and an empty one
	// removes the option.
	opts := map[string]string{}
	addOptions(opts, t.info.Properties)
	if props, err := c.admin.Topics().GetPropertiesWithContext(ctx, *tn); err == nil {
		addOptions(opts, props)
	} else {
		c.log.Debug("pulsar: topic properties", "topic", topic, "err", err)
	}
	t.def = catalog.TableDef{Name: name, Schema: t.schema, Partitions: parts, Options: opts}
	if pk := opts[optPrimaryKey]; pk != "" {
		for _, k := range strings.Split(pk, ",") {
			if k = strings.TrimSpace(k); k != "" {
				t.def.PrimaryKey = append(t.def.PrimaryKey, k)
			}
		}
	}
	t.def.Comment = opts[optComment]
	return t, nil
}

// addOptions copies magnetar.* properties into dst without the prefix; an
// empty value removes the option.
func addOptions(dst, props map[string]string) {
	for k, v := range props {
		if o, ok := strings.CutPrefix(k, OptionPrefix); ok && o != "" {
			if v == "" {
				delete(dst, o)
			} else {
				dst[o] = v
			}
		}
	}
}

// Name implements catalog.Table.
func (t *Table) Name() string { return t.name }

// Topic returns the table's full topic name.
func (t *Table) Topic() string { return t.topic }

// Partitions returns the partition count (0: not partitioned).
func (t *Table) Partitions() int { return t.partitions }

// SchemaVersion returns the registry version of the table's schema (-1: none).
func (t *Table) SchemaVersion() int64 { return t.version }

// Schema implements catalog.Table.
func (t *Table) Schema() *arrow.Schema { return t.schema }

// MetadataColumns implements catalog.Table.
func (t *Table) MetadataColumns() []arrow.Field { return MetadataFields() }

// Def implements catalog.Table.
func (t *Table) Def() catalog.TableDef {
	d := t.def
	d.Options = make(map[string]string, len(t.def.Options))
	for k, v := range t.def.Options {
		d.Options[k] = v
	}
	d.PrimaryKey = append([]string(nil), t.def.PrimaryKey...)
	return d
}

// metaIndex returns the column number of metadata column m.
func (t *Table) metaIndex(m int) int { return t.schema.NumFields() + m }

// SupportsFilter implements catalog.FilterPushdown: comparisons of
// __publish_time with timestamp literals are Inexact (used to skip ledgers,
// start by time and stop early); __partition = n / IN (...) are Exact.
func (t *Table) SupportsFilter(e expr.Expr) catalog.FilterSupport {
	var b bounds
	return t.analyze(e, &b)
}

// Scan implements catalog.Table.
func (t *Table) Scan(ctx context.Context, req catalog.ScanRequest) (exec.Operator, error) {
	req = t.upsertScanRequest(req) // upsert.go
	s, err := newSource(t, req)
	if err != nil {
		return nil, err
	}
	if t.wantsMarker(req) {
		s.markBoot()
	}
	return s, nil
}

// versionCache holds a topic's writer schemas by registry version.
type versionCache struct {
	mu    sync.Mutex
	infos map[int64]schema.Info
	all   []int64 // every version, newest first, once listed
}

func (v *versionCache) put(ver int64, info schema.Info) {
	v.mu.Lock()
	v.infos[ver] = info
	v.mu.Unlock()
}

func (v *versionCache) get(ver int64) (schema.Info, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	i, ok := v.infos[ver]
	return i, ok
}

func (c *Catalog) versions(topic string) *versionCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.versionsByTopic[topic]
	if v == nil {
		v = &versionCache{infos: map[int64]schema.Info{}}
		c.versionsByTopic[topic] = v
	}
	return v
}

// writerSchema returns version ver of topic's schema, fetching it from the
// registry once.
func (c *Catalog) writerSchema(ctx context.Context, topic string, ver int64) (schema.Info, error) {
	vc := c.versions(topic)
	if info, ok := vc.get(ver); ok {
		return info, nil
	}
	si, err := c.schemas().GetSchemaInfoByVersionWithContext(ctx, topic, ver)
	if err != nil {
		return schema.Info{}, c.adminErr(fmt.Sprintf("schema version %d of %s", ver, topic), err)
	}
	info := schema.Info{Type: si.Type, Schema: si.Schema, Properties: si.Properties}
	if info.Type == schema.TypeKeyValue {
		if info, err = c.keyValueSchema(ctx, topic, ver); err != nil {
			return schema.Info{}, err
		}
	}
	vc.put(ver, info)
	return info, nil
}

// allVersions lists topic's schema versions, newest first, fetching the
// full history from the registry once.
func (c *Catalog) allVersions(ctx context.Context, topic string) ([]int64, error) {
	vc := c.versions(topic)
	vc.mu.Lock()
	all := vc.all
	vc.mu.Unlock()
	if all != nil {
		return all, nil
	}
	svs, err := c.schemas().GetAllSchemasWithContext(ctx, topic)
	if err != nil {
		return nil, c.adminErr("schemas of "+topic, err)
	}
	all = []int64{}
	for _, sv := range svs {
		if sv == nil || sv.SchemaInfo == nil {
			continue
		}
		info := schema.Info{Type: sv.SchemaInfo.Type, Schema: sv.SchemaInfo.Schema, Properties: sv.SchemaInfo.Properties}
		if info.Type == schema.TypeKeyValue {
			if info, err = c.keyValueSchema(ctx, topic, sv.Version); err != nil {
				return nil, err
			}
		}
		vc.put(sv.Version, info)
		all = append(all, sv.Version)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] > all[j] })
	vc.mu.Lock()
	vc.all = all
	vc.mu.Unlock()
	return all, nil
}

// sortedKeys returns m's keys in order (stable property output).
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// schemaAdmin is the context-aware part of pulsaradmin's schema client: the
// concrete client has these methods, its exported interface does not.
type schemaAdmin interface {
	GetSchemaInfoWithVersionWithContext(ctx context.Context, topic string) (*utils.SchemaInfoWithVersion, error)
	GetSchemaInfoByVersionWithContext(ctx context.Context, topic string, version int64) (*utils.SchemaInfo, error)
	CreateSchemaByPayloadWithContext(ctx context.Context, topic string, p utils.PostSchemaPayload) error
	ForceDeleteSchemaWithContext(ctx context.Context, topic string) error
	GetAllSchemasWithContext(ctx context.Context, topic string) ([]*utils.SchemaInfoWithVersion, error)
}

// schemaNoCtx adapts a schema client without context methods.
type schemaNoCtx struct{ s admin.Schema }

func (a schemaNoCtx) GetSchemaInfoWithVersionWithContext(_ context.Context, topic string) (*utils.SchemaInfoWithVersion, error) {
	return a.s.GetSchemaInfoWithVersion(topic)
}
func (a schemaNoCtx) GetSchemaInfoByVersionWithContext(_ context.Context, topic string, v int64) (*utils.SchemaInfo, error) {
	return a.s.GetSchemaInfoByVersion(topic, v)
}
func (a schemaNoCtx) CreateSchemaByPayloadWithContext(_ context.Context, topic string, p utils.PostSchemaPayload) error {
	return a.s.CreateSchemaByPayload(topic, p)
}
func (a schemaNoCtx) ForceDeleteSchemaWithContext(_ context.Context, topic string) error {
	return a.s.ForceDeleteSchema(topic)
}

func (a schemaNoCtx) GetAllSchemasWithContext(_ context.Context, topic string) ([]*utils.SchemaInfoWithVersion, error) {
	return a.s.GetAllSchemas(topic)
}

func (c *Catalog) schemas() schemaAdmin {
	s := c.admin.Schemas()
	if sc, ok := s.(schemaAdmin); ok {
		return sc
	}
	return schemaNoCtx{s}
}
