package shell

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
)

// keywords are the SQL words offered by tab completion.
var keywords = strings.Fields(`
ADD ALL ALTER AND ANY AS ASC BETWEEN BIGINT BINARY BOOLEAN BY CASE CAST CHAR
COLUMN COLUMNS COMMENT CREATE CROSS CURRENT_TIMESTAMP DATABASE DATABASES DATE
DATETIME DECIMAL DEFAULT DELETE DESC DESCRIBE DISTINCT DIV DOUBLE DROP ELSE
END EXISTS EXPLAIN ANALYZE FALSE FLOAT FROM FULL GROUP HAVING IF IN INNER INSERT
INT INTEGER INTERVAL INTO IS JOIN JSON KEY LEFT LIKE LIMIT NOT NULL OFFSET ON
OR ORDER OUTER OVER PARTITION PRIMARY RANGE REGEXP REPLACE RIGHT ROWS SCHEMA
SECOND SELECT SET SHOW SMALLINT TABLE TABLES THEN TIME TIMESTAMP TINYINT TRUE
UNION UNSIGNED USE USING VALUES VARBINARY VARCHAR VIEW WHEN WHERE WITH XOR
MINUTE HOUR DAY PRECEDING FOLLOWING CURRENT ROW UNBOUNDED WINDOW
`)

// builtins are functions the planner and exec handle themselves
// (aggregates, window functions, windowing group keys), which are not in
// the scalar function registry.
var builtins = strings.Fields(`count sum avg min max approx_count_distinct
row_number rank dense_rank lag lead first_value last_value tumble hop cumulate session`)

// ddlKeywords are left out of completion inside expressions.
var ddlKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`ADD ALTER ANALYZE COLUMN COLUMNS COMMENT CREATE DATABASE
DATABASES DEFAULT DELETE DESCRIBE DROP EXPLAIN INSERT INTO KEY PRIMARY REPLACE SCHEMA SET SHOW
TABLE TABLES USE VALUES VIEW`) {
		ddlKeywords[k] = true
	}
}

// maxColumnTables bounds the tables whose columns are offered before the
// statement names any, so Tab stays quick in a large database.
const maxColumnTables = 20

// clauseRE finds the words that start clauses.
var clauseRE = regexp.MustCompile(`(?i)\b(select|where|having|on|by|from|join|into|values|set|table|create|alter|insert|update|delete|show|describe|use|limit|window)\b`)

// expressionContext reports whether the statement text before the cursor
// ends inside a select list or a condition, where columns and functions
// are wanted rather than DDL keywords.
func expressionContext(before string) bool {
	m := clauseRE.FindAllString(before, -1)
	if len(m) == 0 {
		return false
	}
	switch strings.ToLower(m[len(m)-1]) {
	case "select", "where", "having", "on", "by":
		return true
	}
	return false
}

var metaCommands = strings.Fields(`\q \help \l \d \timing \format \mode \changelog \o \i`)

// tableRefRE finds table references (and aliases) after FROM, JOIN, INTO,
// UPDATE and DESCRIBE, for column completion.
var tableRefRE = regexp.MustCompile("(?i)\\b(?:from|join|into|update|describe|desc|table)\\s+((?:`[^`]+`|[\\w$/]+)(?:\\.(?:`[^`]+`|[\\w$]+))?)(?:\\s+(?:as\\s+)?([\\w$]+))?")

// completer implements readline.AutoCompleter from keywords, functions and
// the live catalog. Catalog answers are cached briefly so that a slow
// broker does not make every Tab wait.
type completer struct {
	s *Shell

	mu      sync.Mutex
	pending string // earlier lines of the statement being typed
	cache   map[string]cached
}

type cached struct {
	names []string
	at    time.Time
}

const (
	cacheTTL      = 10 * time.Second
	lookupTimeout = time.Second
)

func newCompleter(s *Shell) *completer {
	return &completer{s: s, cache: map[string]cached{}}
}

func (c *completer) setPending(p string) {
	c.mu.Lock()
	c.pending = p
	c.mu.Unlock()
}

func (c *completer) invalidate() {
	c.mu.Lock()
	c.cache = map[string]cached{}
	c.mu.Unlock()
}

// lookup returns cached catalog names for key, computing them with fn.
func (c *completer) lookup(key string, fn func(ctx context.Context) ([]string, error)) []string {
	c.mu.Lock()
	e, ok := c.cache[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < cacheTTL {
		return e.names
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	names, err := fn(ctx)
	if err != nil {
		names = nil
	}
	c.mu.Lock()
	c.cache[key] = cached{names: names, at: time.Now()}
	c.mu.Unlock()
	return names
}

func (c *completer) databases() []string {
	cat := c.s.cfg.Catalog
	if cat == nil {
		return nil
	}
	return c.lookup("dbs", cat.Databases)
}

func (c *completer) tables(db string) []string {
	cat := c.s.cfg.Catalog
	if cat == nil {
		return nil
	}
	return c.lookup("tables\x00"+db, func(ctx context.Context) ([]string, error) {
		return cat.Tables(ctx, db)
	})
}

func (c *completer) columns(db, table string) []string {
	cat := c.s.cfg.Catalog
	if cat == nil {
		return nil
	}
	return c.lookup("cols\x00"+db+"\x00"+table, func(ctx context.Context) ([]string, error) {
		t, err := cat.Table(ctx, db, table)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, f := range t.Schema().Fields() {
			names = append(names, f.Name)
		}
		for _, f := range t.MetadataColumns() {
			names = append(names, f.Name)
		}
		return names, nil
	})
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$' || r == '`' || r == '.' || r == '/' || r == '\\'
}

func unquote(s string) string { return strings.ReplaceAll(s, "`", "") }

// quoteIdent backquotes names that are not plain identifiers (database
// names such as public/default).
func quoteIdent(s string) string {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$') {
			return "`" + s + "`"
		}
	}
	return s
}

// Do implements readline.AutoCompleter: it returns the suffixes that
// complete the word before pos, and the length of that word.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	start := pos
	for start > 0 && isWordRune(line[start-1]) {
		start--
	}
	word := string(line[start:pos])
	c.mu.Lock()
	stmt := c.pending + "\n" + string(line)
	c.mu.Unlock()
	db := c.s.sess.Database()

	var cands []string
	partial := word
	switch {
	case strings.HasPrefix(word, `\`):
		cands = metaCommands
	case strings.Contains(word, "."):
		i := strings.LastIndex(word, ".")
		qual, rest := unquote(word[:i]), word[i+1:]
		partial = rest
		if contains(c.databases(), qual) {
			for _, t := range c.tables(qual) {
				cands = append(cands, quoteIdent(t))
			}
		}
		tdb, table := db, qual
		if refs := tableRefs(stmt, db); refs[strings.ToLower(qual)] != [2]string{} {
			ref := refs[strings.ToLower(qual)]
			tdb, table = ref[0], ref[1]
		}
		cands = append(cands, c.columns(tdb, table)...)
	default:
		lower := word == strings.ToLower(word)
		// prefix is the statement up to the word being completed.
		prefix := stmt[:len(stmt)-len(string(line[start:]))]
		inExpr := expressionContext(prefix)
		for _, k := range keywords {
			if inExpr && ddlKeywords[k] {
				continue // SELECT pri<Tab> means a column, not PRIMARY
			}
			if lower {
				k = strings.ToLower(k)
			}
			cands = append(cands, k)
		}
		for _, f := range c.s.cfg.Functions {
			cands = append(cands, strings.ToLower(f.Name)+"(")
		}
		for _, f := range builtins {
			cands = append(cands, f+"(")
		}
		for _, t := range c.tables(db) {
			cands = append(cands, quoteIdent(t))
		}
		for _, d := range c.databases() {
			cands = append(cands, quoteIdent(d))
		}
		refs := tableRefs(stmt, db)
		for _, ref := range refs {
			cands = append(cands, c.columns(ref[0], ref[1])...)
		}
		if len(refs) == 0 && inExpr {
			// No FROM typed yet: the columns of the database's tables.
			for i, t := range c.tables(db) {
				if i == maxColumnTables {
					break
				}
				cands = append(cands, c.columns(db, t)...)
			}
		}
	}
	return matches(cands, partial), len([]rune(partial))
}

// tableRefs maps the names (and aliases) of tables referenced in stmt to
// their database and table.
func tableRefs(stmt, db string) map[string][2]string {
	refs := map[string][2]string{}
	for _, m := range tableRefRE.FindAllStringSubmatch(stmt, -1) {
		tdb, table := splitQualified(m[1], db)
		ref := [2]string{tdb, table}
		refs[strings.ToLower(table)] = ref
		if m[2] != "" && !isKeyword(m[2]) {
			refs[strings.ToLower(m[2])] = ref
		}
	}
	return refs
}

func isKeyword(w string) bool {
	for _, k := range keywords {
		if strings.EqualFold(k, w) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matches returns, for each distinct candidate starting with partial
// (ignoring case and backquotes), the text to append.
func matches(cands []string, partial string) [][]rune {
	p := strings.ToLower(partial)
	seen := map[string]bool{}
	var out []string
	for _, cand := range cands {
		lc := strings.ToLower(cand)
		var suffix string
		switch {
		case strings.HasPrefix(lc, p):
			suffix = cand[len(p):]
		case strings.HasPrefix(p, "`") && strings.HasPrefix("`"+lc, p):
			suffix = cand[len(p)-1:]
		default:
			continue
		}
		if !seen[suffix] {
			seen[suffix] = true
			out = append(out, suffix)
		}
	}
	sort.Strings(out)
	res := make([][]rune, len(out))
	for i, s := range out {
		res[i] = []rune(s)
	}
	return res
}
