package shell

import "strings"

// Piece is one statement cut from a script, without its terminating ';'.
type Piece struct {
	Text string
	// Line and Column (1-based, Column in bytes) locate the start of Text
	// in the script, so errors inside the statement map back to the file.
	Line, Column int
}

// Split cuts text into complete ';'-terminated statements and returns the
// unfinished rest: the statement after the last terminator, with an empty
// Text when only blanks and comments follow it. A rest that ends inside a
// string or comment is returned untrimmed, so more lines can be added.
// Semicolons inside quoted strings, quoted identifiers and comments do not
// end a statement. Lexing follows MySQL:
// '…' and "…" strings with backslash escapes and doubled quotes, `…`
// identifiers, -- (followed by a blank), # and /* */ comments. Statements
// made only of blanks and comments are dropped.
func Split(text string) (pieces []Piece, rest Piece) {
	line, col := 1, 1 // position of i
	significant := false
	open := false // the text ends inside a string or comment
	// first significant byte of the current statement, to trim leading blanks
	first, fLine, fCol := -1, 0, 0
	mark := func(i int) {
		if !significant {
			significant = true
			first, fLine, fCol = i, line, col
		}
	}
	i := 0
	advance := func(n int) {
		for k := 0; k < n && i < len(text); k++ {
			if text[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(text) {
		c := text[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			mark(i)
			advance(1)
			closed := false
			for i < len(text) && !closed {
				d := text[i]
				if d == '\\' && c != '`' {
					advance(2)
					continue
				}
				advance(1)
				closed = d == c
			}
			open = open || !closed
		case c == '#':
			skipLine(text, &i, advance)
		case c == '-' && strings.HasPrefix(text[i:], "--") && (i+2 == len(text) || isBlank(text[i+2])):
			skipLine(text, &i, advance)
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			// Optimizer hints and /*! … */ executable comments are part of
			// the statement, but neither can hold a terminator, so both are
			// skipped alike; they still make a statement significant.
			if strings.HasPrefix(text[i:], "/*!") || strings.HasPrefix(text[i:], "/*+") {
				mark(i)
			}
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				open = true
				if !significant {
					first, fLine, fCol = i, line, col
				}
				advance(len(text) - i)
			} else {
				advance(end + 4)
			}
		case c == ';':
			if significant {
				pieces = append(pieces, Piece{Text: strings.TrimRight(text[first:i], " \t\r\n"), Line: fLine, Column: fCol})
			}
			advance(1)
			significant = false
		case isBlank(c):
			advance(1)
		default:
			mark(i)
			advance(1)
		}
	}
	switch {
	case open:
		return pieces, Piece{Text: text[first:], Line: fLine, Column: fCol}
	case significant:
		return pieces, Piece{Text: strings.TrimRight(text[first:], " \t\r\n"), Line: fLine, Column: fCol}
	}
	return pieces, Piece{}
}

func skipLine(text string, i *int, advance func(int)) {
	end := strings.IndexByte(text[*i:], '\n')
	if end < 0 {
		advance(len(text) - *i)
		return
	}
	advance(end) // leave the newline to the main loop
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
