package flightserver

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Flight SQL protocol constants the generated package keeps internal.
const (
	caseInsensitive    int32 = 1 // SqlSupportedCaseSensitivity CASE_INSENSITIVE
	transactionNone    int32 = 0 // SqlSupportedTransaction NONE
	nullsSortedAtStart int32 = 2 // SqlNullOrdering SQL_NULLS_SORTED_AT_START
	// SupportedSqlGrammar is a bitmask of 1<<SupportedSqlGrammar: minimum
	// (0) and core (1) grammar.
	grammarMinimumCore int32 = 1<<0 | 1<<1
)

func (s *Server) registerSqlInfo() error {
	infos := []struct {
		id  flightsql.SqlInfo
		val any
	}{
		{flightsql.SqlInfoFlightSqlServerName, "Magnetar"},
		{flightsql.SqlInfoFlightSqlServerVersion, Version},
		{flightsql.SqlInfoFlightSqlServerArrowVersion, "18"},
		{flightsql.SqlInfoFlightSqlServerReadOnly, false},
		{flightsql.SqlInfoFlightSqlServerSql, true},
		{flightsql.SqlInfoFlightSqlServerSubstrait, false},
		{flightsql.SqlInfoFlightSqlServerTransaction, transactionNone},
		{flightsql.SqlInfoFlightSqlServerCancel, true},
		{flightsql.SqlInfoDDLCatalog, false},
		{flightsql.SqlInfoDDLSchema, true},
		{flightsql.SqlInfoDDLTable, true},
		{flightsql.SqlInfoIdentifierCase, caseInsensitive},
		{flightsql.SqlInfoIdentifierQuoteChar, "`"},
		{flightsql.SqlInfoQuotedIdentifierCase, caseInsensitive},
		{flightsql.SqlInfoAllTablesAreASelectable, true},
		{flightsql.SqlInfoNullOrdering, nullsSortedAtStart},
		{flightsql.SqlInfoSearchStringEscape, "\\"},
		{flightsql.SqlInfoSupportsColumnAliasing, true},
		{flightsql.SqlInfoNullPlusNullIsNull, true},
		{flightsql.SqlInfoSupportedGrammar, grammarMinimumCore},
		{flightsql.SqlInfoSchemaTerm, "database"},
		{flightsql.SqlInfoCatalogTerm, "catalog"},
		{flightsql.SqlInfoCatalogAtStart, true},
		{flightsql.SqlInfoTransactionsSupported, false},
	}
	for _, i := range infos {
		if err := s.RegisterSqlInfo(i.id, i.val); err != nil {
			return err
		}
	}
	return nil
}

// metaInfo is the FlightInfo of a metadata command: the command itself is
// the ticket, as Flight SQL servers commonly do.
func (s *Server) metaInfo(desc *flight.FlightDescriptor, sc *arrow.Schema) *flight.FlightInfo {
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(sc, s.mem),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// oneBatch sends a single record as a stream.
func oneBatch(rec arrow.RecordBatch) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return ch
}

// likePattern compiles a Flight SQL filter pattern (SQL LIKE: % and _,
// backslash escapes) into a case-insensitive regexp; nil matches all.
func likePattern(p *string) *regexp.Regexp {
	if p == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString("(?is)^")
	esc := false
	for _, r := range *p {
		switch {
		case esc:
			b.WriteString(regexp.QuoteMeta(string(r)))
			esc = false
		case r == '\\':
			esc = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func matches(re *regexp.Regexp, s string) bool { return re == nil || re.MatchString(s) }

// catalogMatches: tables live in the one catalog "magnetar"; a request
// for another catalog finds nothing. nil and "" (no catalog) match too, as
// clients use them to mean "any".
func catalogMatches(c *string) bool {
	return c == nil || *c == "" || strings.EqualFold(*c, CatalogName)
}

// GetFlightInfoCatalogs implements flightsql.Server.
func (s *Server) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(desc, schema_ref.Catalogs), nil
}

// DoGetCatalogs returns the single catalog "magnetar".
func (s *Server) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.Catalogs)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(CatalogName)
	return schema_ref.Catalogs, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoSchemas implements flightsql.Server.
func (s *Server) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(desc, schema_ref.DBSchemas), nil
}

// DoGetDBSchemas lists the databases the caller may see.
func (s *Server) DoGetDBSchemas(ctx context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.DBSchemas)
	defer b.Release()
	if catalogMatches(cmd.GetCatalog()) {
		dbs, err := s.catalogFor(ctx).Databases(ctx)
		if err != nil {
			return nil, nil, toStatus(err)
		}
		re := likePattern(cmd.GetDBSchemaFilterPattern())
		for _, db := range dbs {
			if matches(re, db) {
				b.Field(0).(*array.StringBuilder).Append(CatalogName)
				b.Field(1).(*array.StringBuilder).Append(db)
			}
		}
	}
	return schema_ref.DBSchemas, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoTables implements flightsql.Server.
func (s *Server) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	sc := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		sc = schema_ref.TablesWithIncludedSchema
	}
	return s.metaInfo(desc, sc), nil
}

// TableType is the one table type the server reports.
const TableType = "TABLE"

type tableEntry struct {
	db   string
	name string
	tab  catalog.Table // set when the schema is wanted
}

// listTables finds the tables matching the filters, sorted by database and
// name. A table that vanishes between listing and lookup is skipped.
func (s *Server) listTables(ctx context.Context, catPat, dbPat, tabPat *string, withTable bool) ([]tableEntry, error) {
	if !catalogMatches(catPat) {
		return nil, nil
	}
	cat := s.catalogFor(ctx)
	dbs, err := cat.Databases(ctx)
	if err != nil {
		return nil, err
	}
	dbRE, tabRE := likePattern(dbPat), likePattern(tabPat)
	var out []tableEntry
	for _, db := range dbs {
		if !matches(dbRE, db) {
			continue
		}
		names, err := cat.Tables(ctx, db)
		if err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				continue
			}
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			if !matches(tabRE, n) {
				continue
			}
			e := tableEntry{db: db, name: n}
			if withTable {
				t, err := cat.Table(ctx, db, n)
				if err != nil {
					if errors.Is(err, catalog.ErrNotFound) {
						continue
					}
					return nil, err
				}
				e.tab = t
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// DoGetTables lists tables, with their Arrow schemas when asked.
func (s *Server) DoGetTables(ctx context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	sc := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		sc = schema_ref.TablesWithIncludedSchema
	}
	wantType := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		if strings.EqualFold(t, TableType) {
			wantType = true
		}
	}
	b := array.NewRecordBuilder(s.mem, sc)
	defer b.Release()
	if wantType {
		tabs, err := s.listTables(ctx, cmd.GetCatalog(), cmd.GetDBSchemaFilterPattern(), cmd.GetTableNameFilterPattern(), cmd.GetIncludeSchema())
		if err != nil {
			return nil, nil, toStatus(err)
		}
		for _, t := range tabs {
			b.Field(0).(*array.StringBuilder).Append(CatalogName)
			b.Field(1).(*array.StringBuilder).Append(t.db)
			b.Field(2).(*array.StringBuilder).Append(t.name)
			b.Field(3).(*array.StringBuilder).Append(TableType)
			if cmd.GetIncludeSchema() {
				b.Field(4).(*array.BinaryBuilder).Append(flight.SerializeSchema(tableSchema(t), s.mem))
			}
		}
	}
	return sc, oneBatch(b.NewRecordBatch()), nil
}

// tableSchema is a table's visible schema with Flight SQL column metadata
// (catalog, database, table, SQL type name) so JDBC's getColumns has names
// to show.
func tableSchema(t tableEntry) *arrow.Schema {
	src := t.tab.Schema()
	fields := make([]arrow.Field, len(src.Fields()))
	for i, f := range src.Fields() {
		md := flightsql.NewColumnMetadataBuilder().
			CatalogName(CatalogName).SchemaName(t.db).TableName(t.name).
			TypeName(expr.TypeName(f.Type)).IsReadOnly(false).Metadata()
		keys := append(f.Metadata.Keys(), md.Keys()...)
		vals := append(f.Metadata.Values(), md.Values()...)
		f.Metadata = arrow.NewMetadata(keys, vals)
		fields[i] = f
	}
	return arrow.NewSchema(fields, nil)
}

// GetFlightInfoTableTypes implements flightsql.Server.
func (s *Server) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(desc, schema_ref.TableTypes), nil
}

// DoGetTableTypes returns the single type TABLE.
func (s *Server) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.TableTypes)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(TableType)
	return schema_ref.TableTypes, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoPrimaryKeys implements flightsql.Server.
func (s *Server) GetFlightInfoPrimaryKeys(_ context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(desc, schema_ref.PrimaryKeys), nil
}

// DoGetPrimaryKeys returns the declared key of a table (TableDef.PrimaryKey).
func (s *Server) DoGetPrimaryKeys(ctx context.Context, ref flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.PrimaryKeys)
	defer b.Release()
	if catalogMatches(ref.Catalog) {
		cat := s.catalogFor(ctx)
		db := cat.DefaultDatabase()
		if ref.DBSchema != nil && *ref.DBSchema != "" {
			db = *ref.DBSchema
		}
		t, err := cat.Table(ctx, db, ref.Table)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
		case err != nil:
			return nil, nil, toStatus(err)
		default:
			for i, col := range t.Def().PrimaryKey {
				b.Field(0).(*array.StringBuilder).Append(CatalogName)
				b.Field(1).(*array.StringBuilder).Append(db)
				b.Field(2).(*array.StringBuilder).Append(t.Name())
				b.Field(3).(*array.StringBuilder).Append(col)
				b.Field(4).(*array.Int32Builder).Append(int32(i + 1))
				b.Field(5).(*array.StringBuilder).AppendNull()
			}
		}
	}
	return schema_ref.PrimaryKeys, oneBatch(b.NewRecordBatch()), nil
}

// errUnimplemented answers commands the server does not support.
func errUnimplemented(what string) error {
	return status.Errorf(codes.Unimplemented, "%s is not supported", what)
}
