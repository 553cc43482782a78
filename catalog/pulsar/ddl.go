package pulsar

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

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
	retried, err := c.createTopic(ctx, *tn, def.Partitions, props)
	if err != nil {
		if isStatus(err, http.StatusConflict) && retried {
			err = nil // an earlier attempt created it before failing transiently
		}
	}
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

// fromArrow builds the Avro schema registered for a table created from SQL;
// the record is named after the table (made a valid Avro name).
func fromArrow(s *arrow.Schema, table string) (schema.Info, error) {
	return schema.FromArrow(s, avroName(table))
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

// createTopic creates the topic, retrying for a few seconds while the
// broker is not ready to own it: a namespace created a moment ago answers
// 412 "Failed to find ownership" (or 503) until its bundle is assigned.
// retried reports whether an attempt failed before the last one.
func (c *Catalog) createTopic(ctx context.Context, tn utils.TopicName, partitions int, props map[string]string) (retried bool, err error) {
	delay := 100 * time.Millisecond
	deadline := time.Now().Add(15 * time.Second)
	for {
		err = c.admin.Topics().CreateWithPropertiesWithContext(ctx, tn, partitions, props)
		if err == nil || !transientAdminErr(err) || time.Now().After(deadline) {
			return retried, err
		}
		retried = true
		c.cfg.Logger.Debug("pulsar: topic not owned yet, retrying", "topic", tn.String(), "err", shortErr(err))
		select {
		case <-ctx.Done():
			return retried, err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// transientAdminErr: the broker refused for now (bundle ownership not yet
// settled, service unavailable), not for good.
func transientAdminErr(err error) bool {
	if isStatus(err, http.StatusServiceUnavailable) {
		return true
	}
	return isStatus(err, http.StatusPreconditionFailed) && strings.Contains(err.Error(), "ownership")
}
