package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Table options are written in SQL as the MySQL table option
// ENGINE_ATTRIBUTE (storage-engine attributes; the TiDB parser has no
// WITH ('k'='v')), as comma-separated key=value pairs or a JSON object:
//
//	CREATE TABLE t (...) ENGINE_ATTRIBUTE='event_time=ts, watermark_delay=5 SECONDS'
//	ALTER TABLE t ENGINE_ATTRIBUTE='watermark_delay=10 SECONDS, idle_timeout='
//
// ALTER merges: the keys given are set, a key with an empty value is
// removed, other options stay. SHOW CREATE TABLE prints them back in the
// same form. The primary key and the comment are options too, but are
// written with PRIMARY KEY and COMMENT.

// tableOptionDoc lists the options a table accepts, with a checker of the
// value (nil: any value).
var tableOptionDoc = map[string]func(v string, sch *arrow.Schema, meta []arrow.Field) error{
	planner.OptionEventTime: func(v string, sch *arrow.Schema, meta []arrow.Field) error {
		for _, f := range append(sch.Fields(), meta...) {
			if strings.EqualFold(f.Name, v) {
				switch f.Type.ID() {
				case arrow.TIMESTAMP, arrow.INT64:
					return nil
				}
				return fmt.Errorf("column %q is %s, want TIMESTAMP or BIGINT (µs)", f.Name, typeName(f.Type, f.Metadata))
			}
		}
		if meta == nil && strings.HasPrefix(v, "__") {
			return nil // a metadata column of a table not created yet
		}
		return fmt.Errorf("no column %q", v)
	},
	planner.OptionWatermarkDelay:  checkInterval,
	planner.OptionIdleTimeout:     checkInterval,
	planner.OptionAllowedLateness: checkInterval,
	"sink.compression": func(v string, _ *arrow.Schema, _ []arrow.Field) error {
		switch strings.ToLower(v) {
		case "none", "lz4", "zstd", "zlib", "snappy":
			return nil
		}
		return fmt.Errorf("want none, lz4, zstd, zlib or snappy")
	},
	"sink.batching_max_messages": func(v string, _ *arrow.Schema, _ []arrow.Field) error {
		_, err := strconv.ParseUint(v, 10, 32)
		return err
	},
	"sink.batching_max_delay": func(v string, _ *arrow.Schema, _ []arrow.Field) error {
		_, err := time.ParseDuration(v)
		return err
	},
	"sink.producer_name":     nil,
	"sink.dead_letter_topic": nil,
	planner.OptionLateTopic:  nil, // late_topic.go: a table name, created when missing
	planner.OptionChangelogMode: func(v string, _ *arrow.Schema, _ []arrow.Field) error { // planner/upsert.go
		switch strings.ToLower(v) {
		case "upsert", "append":
			return nil
		}
		return fmt.Errorf("want upsert or append")
	},
}

// sessionSettingCheck validates the values of session settings that have
// a fixed form when they are SET (others are checked when a query uses them).
var sessionSettingCheck = map[string]func(v string) error{
	planner.SettingStateTTL:        func(v string) error { _, err := planner.ParseStateTTL(v); return err },
	planner.SettingWindowEarlyFire: func(v string) error { _, err := planner.ParseWindowEarlyFire(v); return err },
}

// checkSessionSetting validates SET name = value ("" unsets).
func checkSessionSetting(name, value string) error {
	if check := sessionSettingCheck[name]; check != nil && strings.TrimSpace(value) != "" {
		if err := check(value); err != nil {
			return fmt.Errorf("invalid value %q for %s: %w", value, name, err)
		}
	}
	return nil
}

func checkInterval(v string, _ *arrow.Schema, _ []arrow.Field) error {
	_, err := exec.ParseWindowInterval(v)
	return err
}

// TableOptionNames returns the table options ENGINE_ATTRIBUTE accepts, sorted.
func TableOptionNames() []string {
	out := make([]string, 0, len(tableOptionDoc))
	for k := range tableOptionDoc {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseEngineAttribute reads an ENGINE_ATTRIBUTE string into options; an
// empty value means "remove". Keys are lower-cased.
func parseEngineAttribute(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	if strings.HasPrefix(s, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("ENGINE_ATTRIBUTE: bad JSON object: %w", err)
		}
		for k, v := range m {
			switch x := v.(type) {
			case nil:
				out[strings.ToLower(strings.TrimSpace(k))] = ""
			case string:
				out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(x)
			case float64, bool:
				out[strings.ToLower(strings.TrimSpace(k))] = fmt.Sprint(x)
			default:
				return nil, fmt.Errorf("ENGINE_ATTRIBUTE: value of %q must be a string", k)
			}
		}
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("ENGINE_ATTRIBUTE: %q is not key=value", strings.TrimSpace(kv))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("ENGINE_ATTRIBUTE: option %q given twice", k)
		}
		out[k] = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), `'"`))
	}
	return out, nil
}

// checkTableOptions validates option names and values against a table's
// columns (sch visible, meta metadata columns; nil when not known yet,
// which lets event_time name any "__" column).
func checkTableOptions(opts map[string]string, sch *arrow.Schema, meta []arrow.Field) error {
	for _, k := range sortedOptionKeys(opts) {
		v := opts[k]
		check, ok := tableOptionDoc[k]
		if !ok {
			switch k {
			case "primary_key":
				return fmt.Errorf("option %q: declare the key with PRIMARY KEY", k)
			case "comment":
				return fmt.Errorf("option %q: use COMMENT", k)
			}
			return fmt.Errorf("unknown table option %q (known: %s)", k, strings.Join(TableOptionNames(), ", "))
		}
		if v == "" || check == nil {
			continue
		}
		if err := check(v, sch, meta); err != nil {
			return fmt.Errorf("option %s=%q: %w", k, v, err)
		}
	}
	return nil
}

func sortedOptionKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// applyEngineAttribute reads CREATE TABLE's ENGINE_ATTRIBUTE into def.Options
// (def.Schema must be set: event_time is checked against it).
func applyEngineAttribute(st *sql.Statement, def *catalog.TableDef, opts []*ast.TableOption) error {
	for _, o := range opts {
		if o.Tp != ast.TableOptionEngineAttribute {
			continue
		}
		m, err := parseEngineAttribute(o.StrValue)
		if err != nil {
			return sql.Errorf(st, "engine_attribute", "%s", err.Error())
		}
		// Metadata columns are unknown before the table exists (nil).
		if err := checkTableOptions(m, def.Schema, nil); err != nil {
			return sql.Errorf(st, "engine_attribute", "%s", err.Error())
		}
		if def.Options == nil {
			def.Options = map[string]string{}
		}
		for k, v := range m {
			if v != "" {
				def.Options[k] = v
			}
		}
	}
	return nil
}

// engineAttributeText renders table options (without primary key and
// comment) as an ENGINE_ATTRIBUTE value; "" when there are none.
func engineAttributeText(opts map[string]string) string {
	var parts []string
	plain := true
	m := map[string]string{}
	for _, k := range sortedOptionKeys(opts) {
		if k == "primary_key" || k == "comment" || opts[k] == "" {
			continue
		}
		v := opts[k]
		m[k] = v
		if strings.ContainsAny(v, ",=") || strings.ContainsAny(k, ",=") || strings.TrimSpace(v) != v {
			plain = false
		}
		parts = append(parts, k+"="+v)
	}
	if len(parts) == 0 {
		return ""
	}
	if !plain {
		b, _ := json.Marshal(m) // keys sorted by encoding/json
		return string(b)
	}
	return strings.Join(parts, ", ")
}
