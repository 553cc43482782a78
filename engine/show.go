package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

func (s *Session) show(ctx context.Context, st *sql.Statement, x *ast.ShowStmt) (*Result, error) {
	switch x.Tp {
	case ast.ShowDatabases:
		dbs, err := s.e.cat.Databases(ctx)
		if err != nil {
			return nil, err
		}
		rows := make([][]string, 0, len(dbs))
		for _, d := range dbs {
			if likeMatch(x.Pattern, d) {
				rows = append(rows, []string{d})
			}
		}
		return s.rowsResult([]string{"Database"}, rows), nil
	case ast.ShowTables:
		db := s.db
		if x.DBName != "" {
			db = x.DBName
		}
		tabs, err := s.e.cat.Tables(ctx, db)
		if err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, sql.Errorf(st, db, "unknown database %q", db)
			}
			return nil, err
		}
		rows := make([][]string, 0, len(tabs))
		for _, t := range tabs {
			if likeMatch(x.Pattern, t) {
				rows = append(rows, []string{t})
			}
		}
		return s.rowsResult([]string{"Tables_in_" + db}, rows), nil
	case ast.ShowColumns:
		tab, err := s.table(ctx, st, x.Table, x.DBName)
		if err != nil {
			return nil, err
		}
		def := tab.Def()
		pk := map[string]bool{}
		for _, k := range def.PrimaryKey {
			pk[strings.ToLower(k)] = true
		}
		var rows [][]string
		for _, f := range tab.Schema().Fields() {
			null, key := "YES", ""
			if !f.Nullable {
				null = "NO"
			}
			if pk[strings.ToLower(f.Name)] {
				key = "PRI"
			}
			rows = append(rows, []string{f.Name, typeName(f.Type, f.Metadata), null, key, defaultText(f), ""})
		}
		for _, f := range tab.MetadataColumns() {
			rows = append(rows, []string{f.Name, typeName(f.Type, f.Metadata), "YES", "", "NULL", "metadata"})
		}
		return s.rowsResult([]string{"Field", "Type", "Null", "Key", "Default", "Extra"}, rows), nil
	case ast.ShowVariables:
		keys := make([]string, 0, len(s.settings))
		for k := range s.settings {
			if likeMatch(x.Pattern, k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		rows := make([][]string, len(keys))
		for i, k := range keys {
			rows[i] = []string{k, s.settings[k]}
		}
		return s.rowsResult([]string{"Variable_name", "Value"}, rows), nil
	case ast.ShowCreateTable:
		tab, err := s.table(ctx, st, x.Table, "")
		if err != nil {
			return nil, err
		}
		return s.rowsResult([]string{"Table", "Create Table"}, [][]string{{tab.Name(), createTableText(tab)}}), nil
	}
	return nil, sql.Errorf(st, "show", "unsupported: this SHOW statement")
}

func likeMatch(p *ast.PatternLikeOrIlikeExpr, s string) bool {
	if p == nil {
		return true
	}
	v, ok := p.Pattern.(ast.ValueExpr)
	if !ok {
		return true
	}
	return likeString(fmt.Sprint(v.GetValue()), s)
}

// likeString matches SQL LIKE patterns (% and _), case-insensitively.
func likeString(pat, s string) bool {
	pat, s = strings.ToLower(pat), strings.ToLower(s)
	var m func(p, t string) bool
	m = func(p, t string) bool {
		for len(p) > 0 {
			switch p[0] {
			case '%':
				for i := 0; i <= len(t); i++ {
					if m(p[1:], t[i:]) {
						return true
					}
				}
				return false
			case '_':
				if len(t) == 0 {
					return false
				}
				p, t = p[1:], t[1:]
			default:
				if len(t) == 0 || p[0] != t[0] {
					return false
				}
				p, t = p[1:], t[1:]
			}
		}
		return len(t) == 0
	}
	return m(pat, s)
}

func (s *Session) table(ctx context.Context, st *sql.Statement, tn *ast.TableName, db string) (catalog.Table, error) {
	if tn == nil {
		return nil, sql.Errorf(st, "", "missing table name")
	}
	d, name := planner.SplitTableName(tn, s.db)
	if db != "" && tn.Schema.O == "" {
		d = db
	}
	tab, err := s.e.cat.Table(ctx, d, name)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, sql.Errorf(st, tn.Name.O, "unknown table %q", name)
		}
		return nil, err
	}
	return tab, nil
}

// typeName is the SQL type of a column (JSON for JSON-tagged strings).
func typeName(t arrow.DataType, md arrow.Metadata) string {
	if i := md.FindKey("magnetar.type"); i >= 0 && md.Values()[i] == "json" {
		return "JSON"
	}
	return expr.TypeName(t)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// createTableText renders a table definition as CREATE TABLE.
func createTableText(tab catalog.Table) string {
	def := tab.Def()
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", quoteIdent(tab.Name()))
	fields := tab.Schema().Fields()
	for i, f := range fields {
		fmt.Fprintf(&b, "  %s %s", quoteIdent(f.Name), typeName(f.Type, f.Metadata))
		if !f.Nullable {
			b.WriteString(" NOT NULL")
		}
		if d, ok := defaultSQL(f); ok {
			b.WriteString(" DEFAULT " + d)
		}
		if i < len(fields)-1 || len(def.PrimaryKey) > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	if len(def.PrimaryKey) > 0 {
		keys := make([]string, len(def.PrimaryKey))
		for i, k := range def.PrimaryKey {
			keys[i] = quoteIdent(k)
		}
		fmt.Fprintf(&b, "  PRIMARY KEY (%s)\n", strings.Join(keys, ", "))
	}
	b.WriteString(")")
	if ea := engineAttributeText(def.Options); ea != "" {
		fmt.Fprintf(&b, " ENGINE_ATTRIBUTE='%s'", strings.ReplaceAll(ea, "'", "''"))
	}
	if def.Comment != "" {
		fmt.Fprintf(&b, " COMMENT='%s'", strings.ReplaceAll(def.Comment, "'", "''"))
	}
	if def.Partitions > 0 {
		if len(def.PrimaryKey) > 0 {
			keys := make([]string, len(def.PrimaryKey))
			for i, k := range def.PrimaryKey {
				keys[i] = quoteIdent(k)
			}
			fmt.Fprintf(&b, " PARTITION BY KEY(%s) PARTITIONS %d", strings.Join(keys, ", "), def.Partitions)
		} else {
			fmt.Fprintf(&b, " PARTITION BY KEY() PARTITIONS %d", def.Partitions)
		}
	}
	return b.String()
}
