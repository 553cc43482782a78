package jobs

import (
	"regexp"
	"strings"
)

// CommandKind says what a job statement does.
type CommandKind int

// Job statements the TiDB parser does not take; ParseCommand recognizes them.
const (
	ShowJobs  CommandKind = iota + 1 // SHOW JOBS
	StopJob                          // STOP JOB name
	ResumeJob                        // RESUME JOB name
	DropJob                          // DROP JOB [IF EXISTS] name
	CreateJob                        // CREATE JOB name AS INSERT INTO ... SELECT ...
)

// Command is a parsed job statement.
type Command struct {
	Kind     CommandKind
	Name     string
	IfExists bool
	// Insert is the INSERT statement of CREATE JOB.
	Insert string
}

var (
	reShow   = regexp.MustCompile(`(?is)^\s*SHOW\s+JOBS\s*;?\s*$`)
	reName   = `(` + "`[^`]+`" + `|[A-Za-z0-9_][A-Za-z0-9_.\-]*)`
	reStop   = regexp.MustCompile(`(?is)^\s*(STOP|RESUME)\s+JOB\s+` + reName + `\s*;?\s*$`)
	reDrop   = regexp.MustCompile(`(?is)^\s*DROP\s+JOB\s+(IF\s+EXISTS\s+)?` + reName + `\s*;?\s*$`)
	reCreate = regexp.MustCompile(`(?is)^\s*CREATE\s+JOB\s+` + reName + `\s+AS\s+(INSERT\s.*?)\s*;?\s*$`)
)

// ParseCommand recognizes a job statement that makes up the whole of text
// (one statement, an optional trailing semicolon). The engine calls it before
// sql.Parse; ok is false for anything else, which then goes to the parser.
func ParseCommand(text string) (Command, bool) {
	if reShow.MatchString(text) {
		return Command{Kind: ShowJobs}, true
	}
	if m := reStop.FindStringSubmatch(text); m != nil {
		k := StopJob
		if strings.EqualFold(m[1], "RESUME") {
			k = ResumeJob
		}
		return Command{Kind: k, Name: unquote(m[2])}, true
	}
	if m := reDrop.FindStringSubmatch(text); m != nil {
		return Command{Kind: DropJob, Name: unquote(m[2]), IfExists: m[1] != ""}, true
	}
	if m := reCreate.FindStringSubmatch(text); m != nil {
		return Command{Kind: CreateJob, Name: unquote(m[1]), Insert: m[2]}, true
	}
	return Command{}, false
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return s[1 : len(s)-1]
	}
	return s
}

// ValidName reports whether name can name a job (it becomes part of a topic
// name).
func ValidName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
