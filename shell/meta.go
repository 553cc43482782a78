package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
)

// errQuit ends the interactive loop.
var errQuit = errors.New("quit")

// metaHelp lists the meta commands, shown by \help.
const metaHelp = `Meta commands (one per line, no ';'):
  \q                      quit (also Ctrl-D, quit, exit)
  \help [function]        this help, or a function's documentation
  \l                      list databases
  \d                      list tables of the current database
  \d TABLE                columns of a table, with types
  \timing [on|off]        show elapsed time after each statement
  \format table|csv|json  output format
  \mode bounded|continuous
                          read tables to their current end, or tail them
                          (session setting magnetar.mode)
  \changelog on|off|auto  on: show each row's change (+I -U +U -D) as a
                          row; off: fold the changes, so a continuous
                          result on a terminal is a live table redrawn in
                          place; auto (default): changelog in continuous
                          mode only
  \o [FILE]               send results to FILE (no FILE: back to stdout)
  \i FILE                 run the statements in FILE

SQL statements end with ';' and may span lines. Ctrl-C cancels a running
statement (or clears the line); USE db switches database; SET name = value
changes a session setting.`

// IsMeta reports whether an input line is a meta command.
func IsMeta(line string) bool {
	return strings.HasPrefix(strings.TrimSpace(line), `\`)
}

// Meta runs one meta command line (e.g. `\d bids`). It returns errQuit for
// \q; other errors are the user's to read.
func (s *Shell) Meta(ctx context.Context, line string) error {
	fields := strings.Fields(strings.TrimSpace(line))
	if len(fields) == 0 {
		return nil
	}
	cmd, args := fields[0], fields[1:]
	arg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), cmd))
	arg = strings.TrimSuffix(arg, ";")
	switch cmd {
	case `\q`, `\quit`:
		return errQuit
	case `\help`, `\h`, `\?`:
		return s.help(arg)
	case `\l`:
		return s.listDatabases(ctx)
	case `\d`, `\dt`:
		if arg == "" {
			return s.listTables(ctx)
		}
		return s.describe(ctx, arg)
	case `\timing`:
		on, err := onOff(args, !s.cfg.Timing)
		if err != nil {
			return err
		}
		s.cfg.Timing = on
		fmt.Fprintf(s.err, "Timing is %s.\n", map[bool]string{true: "on", false: "off"}[on])
	case `\format`:
		if arg == "" {
			fmt.Fprintf(s.err, "Format is %s.\n", s.cfg.Format)
			return nil
		}
		f, err := ParseFormat(arg)
		if err != nil {
			return err
		}
		s.cfg.Format = f
	case `\mode`:
		if arg == "" {
			fmt.Fprintf(s.err, "Mode is %s.\n", modeName(s.sess.Mode()))
			return nil
		}
		m := strings.ToLower(arg)
		if m != "bounded" && m != "continuous" {
			return fmt.Errorf(`\mode: want bounded or continuous, not %q`, arg)
		}
		if err := s.sess.Set("magnetar.mode", m); err != nil {
			return fmt.Errorf(`\mode: %w`, err)
		}
	case `\changelog`:
		if len(args) == 1 && strings.EqualFold(args[0], "auto") {
			s.cfg.Changelog = ChangelogAuto
			fmt.Fprintln(s.err, "Changelog is auto: continuous results show each change.")
			return nil
		}
		on, err := onOff(args, s.cfg.Changelog != ChangelogOn)
		if err != nil {
			return err
		}
		s.cfg.Changelog = map[bool]Changelog{true: ChangelogOn, false: ChangelogOff}[on]
		if on {
			fmt.Fprintln(s.err, "Changelog is on: results show each change (+I -U +U -D).")
		} else {
			fmt.Fprintln(s.err, "Changelog is off: continuous results show as a live table on a terminal.")
		}
	case `\o`:
		return s.setOutput(arg)
	case `\i`:
		if arg == "" {
			return errors.New(`\i needs a file name`)
		}
		return s.include(ctx, arg)
	default:
		return fmt.Errorf("unknown meta command %s (\\help lists them)", cmd)
	}
	return nil
}

func onOff(args []string, toggled bool) (bool, error) {
	if len(args) == 0 {
		return toggled, nil
	}
	switch strings.ToLower(args[0]) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want on or off, not %q", args[0])
}

func modeName(m catalog.Mode) string {
	if m == catalog.Unbounded {
		return "continuous"
	}
	return "bounded"
}

func (s *Shell) help(arg string) error {
	if arg == "" {
		fmt.Fprintln(s.out, metaHelp)
		if len(s.cfg.Functions) > 0 {
			fmt.Fprintf(s.out, "\n%d functions; \\help NAME shows one.\n", len(s.cfg.Functions))
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(arg, "()"))
	found := false
	for _, f := range s.cfg.Functions {
		if strings.ToLower(f.Name) != name {
			continue
		}
		found = true
		fmt.Fprintln(s.out, f.Signature)
		if f.Description != "" {
			fmt.Fprintln(s.out, "  "+f.Description)
		}
		if f.Example != "" {
			fmt.Fprintln(s.out, "  e.g. "+f.Example)
		}
	}
	if !found {
		return fmt.Errorf("no function %q", arg)
	}
	return nil
}

// stringGrid prints rows of strings as a table (for meta commands).
func (s *Shell) stringGrid(cols []gridColumn, rows [][]string) error {
	cells := make([][]cell, len(rows))
	for i, r := range rows {
		cells[i] = make([]cell, len(r))
		for j, v := range r {
			cells[i][j] = cell{s: escapeControl(v)}
		}
	}
	opts := s.renderOptions()
	g := &grid{w: bufio.NewWriter(s.out), cols: cols, color: opts.Color}
	g.widths = fit(cols, cells, opts.Width)
	g.header()
	for _, r := range cells {
		g.line(r, true)
	}
	if len(cells) > 0 {
		g.border()
	}
	return g.w.Flush()
}

func (s *Shell) needCatalog() (catalog.Catalog, error) {
	if s.cfg.Catalog == nil {
		return nil, errors.New("no catalog to list")
	}
	return s.cfg.Catalog, nil
}

func (s *Shell) listDatabases(ctx context.Context) error {
	cat, err := s.needCatalog()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dbs, err := cat.Databases(ctx)
	if err != nil {
		return fmt.Errorf("list databases: %w", err)
	}
	sort.Strings(dbs)
	rows := make([][]string, len(dbs))
	for i, d := range dbs {
		rows[i] = []string{d}
	}
	return s.stringGrid([]gridColumn{{name: "database"}}, rows)
}

func (s *Shell) listTables(ctx context.Context) error {
	cat, err := s.needCatalog()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db := s.sess.Database()
	tables, err := cat.Tables(ctx, db)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", db, err)
	}
	sort.Strings(tables)
	rows := make([][]string, len(tables))
	for i, t := range tables {
		rows[i] = []string{t}
	}
	return s.stringGrid([]gridColumn{{name: "table in " + db}}, rows)
}

// splitQualified splits `db`.`t`, db.t or t into database and table; a
// database name may contain '/', never an unquoted '.'.
func splitQualified(name, defaultDB string) (db, table string) {
	var parts []string
	var cur strings.Builder
	quoted := false
	for _, r := range name {
		switch {
		case r == '`':
			quoted = !quoted
		case r == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	if len(parts) >= 2 {
		return strings.Join(parts[:len(parts)-1], "."), parts[len(parts)-1]
	}
	return defaultDB, parts[0]
}

func (s *Shell) describe(ctx context.Context, name string) error {
	cat, err := s.needCatalog()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, table := splitQualified(name, s.sess.Database())
	t, err := cat.Table(ctx, db, table)
	if err != nil {
		return fmt.Errorf("describe %s: %w", name, err)
	}
	def := t.Def()
	key := map[string]bool{}
	for _, k := range def.PrimaryKey {
		key[strings.ToLower(k)] = true
	}
	var rows [][]string
	for _, f := range t.Schema().Fields() {
		null, k := "YES", ""
		if !f.Nullable {
			null = "NO"
		}
		if key[strings.ToLower(f.Name)] {
			k = "PRI"
		}
		rows = append(rows, []string{f.Name, fieldTypeName(f), null, k, ""})
	}
	for _, f := range t.MetadataColumns() {
		rows = append(rows, []string{f.Name, fieldTypeName(f), "YES", "", "hidden metadata column"})
	}
	cols := []gridColumn{{name: "column"}, {name: "type"}, {name: "null"}, {name: "key"}, {name: "note"}}
	// Leave out the key and note columns when no row uses them.
	for c := len(cols) - 1; c >= 3; c-- {
		used := false
		for _, r := range rows {
			used = used || r[c] != ""
		}
		if !used {
			cols = append(cols[:c], cols[c+1:]...)
			for i := range rows {
				rows[i] = append(rows[i][:c], rows[i][c+1:]...)
			}
		}
	}
	if err := s.stringGrid(cols, rows); err != nil {
		return err
	}
	if def.Comment != "" {
		fmt.Fprintf(s.out, "comment: %s\n", def.Comment)
	}
	if len(def.Options) > 0 {
		keys := make([]string, 0, len(def.Options))
		for k := range def.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(s.out, "option %s = %s\n", k, def.Options[k])
		}
	}
	return nil
}

func (s *Shell) setOutput(path string) error {
	if err := s.Close(); err != nil {
		fmt.Fprintf(s.err, "WARNING: closing previous output: %v\n", err)
	}
	if path == "" {
		s.out = s.cfg.Stdout
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		s.out = s.cfg.Stdout
		return fmt.Errorf(`\o: %w`, err)
	}
	s.file, s.out = f, f
	return nil
}

func (s *Shell) include(ctx context.Context, path string) error {
	if s.depth > 16 {
		return fmt.Errorf(`\i %s: files include each other too deeply`, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf(`\i: %w`, err)
	}
	s.depth++
	defer func() { s.depth-- }()
	if code := s.RunScript(ctx, path, string(data)); code != 0 {
		return fmt.Errorf(`\i %s stopped at an error`, path)
	}
	return nil
}
